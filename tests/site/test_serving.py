"""The production HTTP command is one: `make serve-prod`, the systemd unit and `sogoms ctl`
run sogoms_site/serving.py's command, and `make serve-prod` really serves with it."""

from __future__ import annotations

import configparser
import http.client
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sogoms_site.ctl.processes import processes
from sogoms_site.serving import (
    DEFAULT_THREADS,
    DEFAULT_WORKERS,
    DEFAULT_WORKERS_SERVER_DATABASE,
    default_workers,
    http_server_args,
)
from tests.realtime.servers import BASE_DIR, free_port, served, site_env, sogoms_command


def make_serve_prod_dry_run(*variables: str, env: dict[str, str] | None = None) -> list[str]:
    """The server command `make serve-prod` would run (its last line), split like a shell."""
    # -o: never rebuild the shared virtualenv from a test
    done = subprocess.run(
        # --no-print-directory: under `make test` a nested make would add "Entering directory"
        ["make", "-n", "--no-print-directory", "-o", ".venv/.installed", "serve-prod", *variables],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return shlex.split(done.stdout.strip().splitlines()[-1])


def test_make_serve_prod_runs_the_production_command_with_its_variables() -> None:
    program, *args = make_serve_prod_dry_run("HOST=10.1.2.3", "PORT=9123", "WORKERS=5", "THREADS=2")
    assert Path(program).name == "granian"
    assert args == http_server_args("10.1.2.3", 9123, 5, 2)


def test_make_serve_prod_defaults_are_the_documented_ones() -> None:
    _, *args = make_serve_prod_dry_run()
    assert args == http_server_args("127.0.0.1", 8000, default_workers(), DEFAULT_THREADS)


@pytest.mark.parametrize(
    ("database", "workers"),
    [
        ({}, DEFAULT_WORKERS),
        ({"DATABASE_URL": "mysql://root@127.0.0.1:3306/sogoms"}, DEFAULT_WORKERS_SERVER_DATABASE),
        ({"DATABASE_URL_FILE": "/run/secrets/database-url"}, DEFAULT_WORKERS_SERVER_DATABASE),
    ],
)
def test_the_default_number_of_workers_follows_the_control_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database: dict[str, str], workers: int
) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("DATABASE_URL")}
    _, *args = make_serve_prod_dry_run(env={**env, **database})
    assert args == http_server_args("127.0.0.1", 8000, workers, DEFAULT_THREADS)

    for name in ("DATABASE_URL", "DATABASE_URL_FILE"):
        monkeypatch.delenv(name, raising=False)
    if "DATABASE_URL_FILE" in database:
        secret = tmp_path / "database-url"
        secret.write_text("mysql://root@127.0.0.1:3306/sogoms\n")
        monkeypatch.setenv("DATABASE_URL_FILE", str(secret))
    elif database:
        monkeypatch.setenv("DATABASE_URL", database["DATABASE_URL"])
    monkeypatch.delenv("SOGOMS_HTTP_WORKERS", raising=False)
    served = next(process for process in processes() if process.name == "http").command
    assert served[served.index("--workers") + 1] == str(workers)


def test_the_systemd_unit_runs_the_production_command() -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(BASE_DIR / "deploy" / "systemd" / "sogoms-http.service")
    program, *args = shlex.split(parser["Service"]["ExecStart"])
    assert program == "/opt/sogoms/.venv/bin/granian"
    # the unit runs beside MariaDB (After=mariadb.service): a database server's workers
    assert args == http_server_args("127.0.0.1", 8000, DEFAULT_WORKERS_SERVER_DATABASE, DEFAULT_THREADS)


def test_ctl_runs_the_production_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOGOMS_HTTP_BIND", "127.0.0.1:8765")
    monkeypatch.setenv("SOGOMS_HTTP_WORKERS", "4")
    served = next(process for process in processes() if process.name == "http")
    assert served.command[1:3] == ["-m", "granian"]
    assert served.command[3:] == http_server_args("127.0.0.1", 8765, 4, DEFAULT_THREADS)


def answers_health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def demo_site(root: Path) -> dict:
    """The demo config copied under `root`, its relative paths (var/secrets/...) resolving
    there: a fresh checkout has no development secrets until `make run` makes them."""
    shutil.copytree(BASE_DIR / "config", root / "config")
    env = site_env(root / "config", root / "var")
    env["SOGOMS_BASE_DIR"] = str(root)
    return env


def test_make_serve_prod_serves_health_with_keep_alive(tmp_path: Path) -> None:
    env = demo_site(tmp_path)
    port = free_port()
    server = subprocess.Popen(
        ["make", "-o", ".venv/.installed", "serve-prod", f"PORT={port}", "WORKERS=1"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # make and the server it starts are stopped as one group
    )
    try:
        deadline = time.monotonic() + 60
        while not answers_health(port):
            if server.poll() is not None or time.monotonic() > deadline:
                output = server.stderr.read().decode()[-2000:] if server.stderr else ""
                pytest.fail(f"make serve-prod did not answer /health: {output}")
            time.sleep(0.2)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            answers, sockets = [], []
            for _ in range(2):
                connection.request("GET", "/health")
                response = connection.getresponse()
                answers.append((response.status, response.getheader("server"), response.read()))
                sockets.append(connection.sock)
            # keep-alive: the second answer came over the connection of the first
            assert sockets[0] is not None and sockets[1] is sockets[0]
            assert answers == [(200, "granian", b'{"status": "ok"}')] * 2
        finally:
            connection.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def test_the_production_access_log_has_no_query_string(tmp_path: Path) -> None:
    # The socket's token rides in the query string; granian's access line (enabled from the
    # environment, as docs/operations.md says) logs the path without it.
    secret = "c2VjcmV0LXBheWxvYWQ.in.the-query"  # a marker, not a credential
    env = {**demo_site(tmp_path), "GRANIAN_LOG_ACCESS_ENABLED": "1"}
    sogoms_command(env, "devsecrets")
    sogoms_command(env, "migrate")
    port = free_port()
    command = [sys.executable, "-m", "granian", *http_server_args("127.0.0.1", port, workers=1)]
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log, served(command, env, port, log=log):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/auth/me?token={secret}", headers={"Host": "localhost"}
        )
        try:
            urllib.request.urlopen(request, timeout=5)  # noqa: S310  (http, loopback)
        except urllib.error.HTTPError as error:
            assert error.code == 401
        time.sleep(0.5)
    text = log_path.read_text()
    assert '"GET /api/auth/me HTTP/1.1" 401' in text  # the access line is there
    assert secret not in text


def test_the_wsgi_application_leaves_what_it_built_at_start_out_of_the_collector(tmp_path) -> None:
    """A full collection walks every tracked object: the start-up heap (settings, URL
    patterns, tenants' config) is frozen once built, so it stalls no request later."""
    env = site_env(BASE_DIR / "tests" / "config", tmp_path / "var")
    env["SOGOMS_EMBEDDED_WORKER"] = "0"
    probe = "import gc, sogoms_site.wsgi; print(gc.get_freeze_count(), len(gc.get_objects()))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    frozen, tracked = map(int, done.stdout.split())
    assert frozen > 50_000  # Django, DRF and the site's modules
    assert tracked < frozen / 10


def test_the_crud_benchmark_serves_each_engine_as_make_serve_prod_would(tmp_path: Path) -> None:
    """bench/crud_bench.py, run as a script (its own folder on the path, not the project's
    root), builds the production command with make serve-prod's worker count per engine."""
    probe = (
        "import argparse, json, sys\n"
        f"sys.path[0] = {str(BASE_DIR / 'bench')!r}\n"
        "import crud_bench\n"
        "args = argparse.Namespace(workers=0)\n"
        "workers = {db: crud_bench.workers_for(args, db) for db in ('sqlite', 'mariadb')}\n"
        "command = crud_bench.serving().http_server_args('127.0.0.1', 9, workers['mariadb'], 1)\n"
        "print(json.dumps({'workers': workers, 'command': command}))\n"
    )
    env = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "DATABASE_URL")}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["workers"] == {"sqlite": DEFAULT_WORKERS, "mariadb": DEFAULT_WORKERS_SERVER_DATABASE}
    assert answer["command"] == http_server_args("127.0.0.1", 9, DEFAULT_WORKERS_SERVER_DATABASE, 1)
