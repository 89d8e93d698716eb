"""Real uvicorn processes on free loopback ports, for the end-to-end push tests and the bench.

They serve a copy of the test config (alpha also answers on 127.0.0.1) from SQLite
files of their own var directory; with `redis_url` they share a Redis channel layer
under a prefix of their own, so other runs on the same Redis do not hear them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import IO

BASE_DIR = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def site_env(config: Path, var: Path) -> dict:
    """The environment of a process of the site serving `config` (SQLite under `var`,
    no Redis): the test run's own databases and settings are left out."""
    drop = ("DATABASE_URL", "SOGOMS_TENANT_DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env.update(
        SOGOMS_CONFIG_DIR=str(config),
        SOGOMS_VAR_DIR=str(var),
        DJANGO_SETTINGS_MODULE="sogoms_site.settings",
        SOGOMS_LOG_LEVEL="WARNING",
    )
    return env


def prepare_site(root: Path, *, redis_url: str = "", channel_prefix: str = "") -> dict:
    """A config copy and the environment of server processes; migrates their databases."""
    config = root / "config"
    shutil.copytree(BASE_DIR / "tests" / "config", config)
    routes = config / "routes" / "alpha.yaml"
    routes.write_text(
        routes.read_text().replace("  - www.alpha.test\n", "  - www.alpha.test\n  - 127.0.0.1\n")
    )
    env = site_env(config, root / "var")
    if redis_url:
        env.update(REDIS_URL=redis_url, SOGOMS_CHANNEL_PREFIX=channel_prefix)
    manage = [sys.executable, str(BASE_DIR / "manage.py"), "sogoms", "migrate"]
    subprocess.run(manage, env=env, check=True, capture_output=True, timeout=120, cwd=BASE_DIR)
    return env


@contextmanager
def served(command: list[str], env: dict, port: int, *, log: IO[bytes] | None = None):
    """Run a server process of the site until it answers /health; stop it after the block.

    With `log`, the process's output goes there (a start-up failure is then in that file)."""
    if log is None:
        server = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    else:
        server = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    output = server.stderr.read().decode()[-2000:] if server.stderr else "see its log"
                    raise RuntimeError(f"the server did not start: {output}") from None
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        stop_process(server)


def sogoms_command(env: dict, *args: str) -> str:
    """`manage.py sogoms <args>` in a process of its own with `env`; its output, once it succeeded."""
    done = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "sogoms", *args],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def stop_process(process: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not ended after `grace` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def socket_server(env: dict, port: int):
    """The production socket server (`python -m sogoms_site.socketserver`) on `port`."""
    command = [sys.executable, "-m", "sogoms_site.socketserver", "--port", str(port), "--no-access-log"]
    with served(command, env, port) as address:
        yield address


@contextmanager
def uvicorn(env: dict, port: int, *extra: str):
    command = [sys.executable, "-m", "uvicorn", "sogoms_site.asgi:application", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-access-log", *extra]
    with served(command, env, port) as address:
        yield address


def call(
    address: str, method: str, path: str, body: dict | None = None, token: str = "", *, host: str = ""
) -> tuple[int, dict]:
    """One request to the server at `address` (with `host`, under that Host header)."""
    request = urllib.request.Request(
        f"http://{address}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
            **({"Host": host} if host else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  (http, loopback)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def register(address: str, email: str, *, host: str = "") -> tuple[int, str]:
    """(user id, access token) of a new user of alpha (or of the tenant on `host`)."""
    status, body = call(
        address, "POST", "/api/auth/register", {"email": email, "password": PASSWORD, "name": "N"}, host=host
    )
    assert status == 201, body
    return body["data"]["user"]["id"], body["data"]["token"]
