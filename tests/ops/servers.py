"""Server processes for the operations tests, with the production HTTP server in one place.

`HTTP_SERVERS` names the production HTTP servers the graceful-stop and rolling-restart
tests run against; `http_server_command` is the one place that knows their command lines
(granian's: sogoms_site.serving's, what production runs). The processes serve a copy of the test
config from SQLite under their own var directory (tests.realtime.servers.prepare_site),
with the slow test path of tests.ops.slow_settings.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sogoms_site.serving import http_server_args
from tests.realtime.servers import BASE_DIR, prepare_site, stop_process

# granian's WSGI interface (the production server: sogoms_site.serving) and gunicorn's sync
# workers (the previous one, still a supported choice).
HTTP_SERVERS = ("granian", "gunicorn")
# Those whose SIGHUP reload loses no request (granian with the production reload overlap:
# each new worker serves before its old one stops).
ROLLING_HTTP_SERVERS = ("granian", "gunicorn")


def http_server_command(server: str, port: int, *, workers: int = 1, grace: int = 30) -> list[str]:
    """The command of `server` serving the WSGI app on `port`, stopping within `grace` s."""
    if server == "gunicorn":
        return [
            sys.executable, "-m", "gunicorn", "sogoms_site.wsgi:application",
            "-w", str(workers), "-b", f"127.0.0.1:{port}", "--graceful-timeout", str(grace),
        ]  # fmt: skip
    if server == "granian":
        args = http_server_args("127.0.0.1", port, workers, grace=grace)
        return [sys.executable, "-m", "granian", "--log-level", "warning", *args]
    raise ValueError(f"unknown HTTP server {server!r}")


def prepare_slow_site(root: Path) -> dict:
    """A migrated site under `root` whose processes also serve /test-only/slow."""
    env = prepare_site(root)
    env["DJANGO_SETTINGS_MODULE"] = "tests.ops.slow_settings"
    return env


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def running(command: list[str], env: dict, port: int, log: Path) -> Iterator[subprocess.Popen]:
    """A server process, once it answers /health on `port`; stopped after the block
    (if the test has not stopped it). Its output goes to `log`."""
    with log.open("ab") as out:
        # a session of its own: its workers go with it, even when it must be killed
        server = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60  # a shared machine under load starts slowly
        while not healthy(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield server
    finally:
        stop_process(server)
        # a worker the server left behind (killed after its grace) must not outlive the test
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)


def wait_for(path: Path, timeout: float = 10) -> None:
    """Wait until `path` exists (a slow request's mark: it is in flight)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} did not appear in {timeout:g} s"
        time.sleep(0.02)
