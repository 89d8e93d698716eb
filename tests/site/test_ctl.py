"""`sogoms ctl` with real processes: the supervisor starts, restarts and stops them.

Each test runs the supervisor on a copy of the test config with a var directory of its
own and free ports, without REDIS_URL (so only http and socket run; worker and beat are
embedded); the fixture stops it whatever happens, so no process outlives the test.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.realtime.servers import BASE_DIR, free_port, prepare_site


class Site:
    def __init__(self, env: dict, var: Path) -> None:
        self.env = env
        self.var = var
        self.http = env["SOGOMS_HTTP_BIND"]
        self.socket = env["SOGOMS_SOCKET_BIND"]

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(BASE_DIR / "manage.py"), "sogoms", "ctl", *args]
        return subprocess.run(
            command, env=self.env, cwd=BASE_DIR, capture_output=True, text=True, timeout=timeout
        )

    def state(self) -> dict:
        try:
            return json.loads((self.var / "run" / "ctl-state.json").read_text())["processes"]
        except (OSError, ValueError, KeyError):
            return {}

    def pid(self, name: str) -> int | None:
        return self.state().get(name, {}).get("pid")

    def supervisor_pid(self) -> int | None:
        try:
            return int((self.var / "run" / "ctl.pid").read_text())
        except (OSError, ValueError):
            return None


def healthy(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rpartition(")")[2].split()[0] == "Z"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    env = prepare_site(tmp_path)
    env.update(
        SOGOMS_HTTP_BIND=f"127.0.0.1:{free_port()}",
        SOGOMS_SOCKET_BIND=f"127.0.0.1:{free_port()}",
        SOGOMS_HTTP_WORKERS="2",
        SOGOMS_CTL_GRACE="5",
    )
    site = Site(env, tmp_path / "var")
    try:
        yield site
    finally:
        # Whatever the test did: stop the supervisor, and kill what is left of it.
        supervisor = site.supervisor_pid()
        groups = [entry.get("pid") for entry in site.state().values()]
        site.ctl("stop", timeout=60)
        if supervisor and not gone(supervisor):
            os.kill(supervisor, signal.SIGKILL)
        for pid in groups:
            if pid and not gone(pid):
                os.killpg(pid, signal.SIGKILL)


def test_start_status_restart_stop(site: Site) -> None:
    started = site.ctl("start")
    assert started.returncode == 0, started.stdout + started.stderr
    assert wait_for(lambda: healthy(site.http) and healthy(site.socket), 30)

    status = site.ctl("status")
    assert status.returncode == 0, status.stdout
    lines = status.stdout.splitlines()
    assert lines[0].startswith("supervisor: running, pid ")
    assert any(line.startswith("http ") and "running" in line for line in lines)
    assert any(line.startswith("socket ") and "running" in line for line in lines)
    assert "worker, beat: embedded" in status.stdout

    # A second start is refused while the first supervisor runs.
    again = site.ctl("start")
    assert again.returncode != 0
    assert "already runs" in again.stdout

    # A process that dies is started again, under a new pid, after the first back-off (1 s).
    http_pid = site.pid("http")
    assert http_pid
    os.kill(http_pid, signal.SIGKILL)
    assert wait_for(lambda: site.pid("http") not in (None, http_pid), 5)
    # granian's workers import the site afresh: several seconds on a busy 2-core machine
    assert wait_for(lambda: healthy(site.http), 30)
    assert site.state()["http"]["restarts"] == 1

    socket_pid = site.pid("socket")
    restarted = site.ctl("restart", "socket")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert site.pid("socket") not in (None, socket_pid)
    assert wait_for(lambda: healthy(site.socket), 10)

    supervisor = site.supervisor_pid()
    pids = [site.pid("http"), site.pid("socket")]
    stopped = site.ctl("stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert supervisor and gone(supervisor)
    assert all(pid and gone(pid) for pid in pids)
    assert not list((site.var / "run").glob("ctl*"))
    assert not healthy(site.http) and not healthy(site.socket)
    down = site.ctl("status")
    assert down.returncode != 0
    assert "not running" in down.stdout
    assert (site.var / "log" / "http.log").stat().st_size > 0


def test_stale_pid_file_is_cleaned(site: Site) -> None:
    run = site.var / "run"
    run.mkdir(parents=True, exist_ok=True)
    # A pid that surely runs no supervisor: a finished child of this test.
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    (run / "ctl.pid").write_text(finished.stdout.decode())
    assert site.ctl("status").returncode != 0
    assert not (run / "ctl.pid").exists()


# The systemd units of deploy/systemd/ (production's way to run the same processes).

UNITS = BASE_DIR / "deploy" / "systemd"
SERVICES = ("http", "socket", "worker", "beat")


def unit_sections(path: Path) -> dict[str, dict[str, str]]:
    """A unit file's sections and keys (systemd's syntax: no interpolation, keys keep case)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return {name: dict(parser[name]) for name in parser.sections()}


@pytest.mark.parametrize("name", SERVICES)
def test_unit_is_hardened_and_runs_a_real_entry_point(name: str) -> None:
    service = unit_sections(UNITS / f"sogoms-{name}.service")["Service"]
    assert service["User"] == "sogoms"
    assert service["WorkingDirectory"] == "/opt/sogoms"
    assert service["EnvironmentFile"] == "/etc/sogoms/env"
    assert service["Restart"] == "on-failure"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/opt/sogoms/var"
    for flag in ("PrivateTmp", "NoNewPrivileges", "ProtectHome"):
        assert service[flag] == "yes", flag
    assert service["KillSignal"] == "SIGTERM"
    # The servers' grace period (30 s) and a margin for their exit; beat has nothing in flight.
    assert service["TimeoutStopSec"] == ("30" if name == "beat" else "35")

    program, *args = shlex.split(service["ExecStart"])
    assert program.startswith("/opt/sogoms/.venv/bin/")
    tool = Path(program).name
    if tool == "python":
        assert args[:2] == ["-m", "sogoms_site.socketserver"]
        assert importlib.util.find_spec("sogoms_site.socketserver") is not None
    elif tool in ("granian", "uvicorn"):
        target = args[-1] if tool == "granian" else args[0]
        module, _, attribute = target.partition(":")
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin, module
        # Read, not imported: importing the entry point would start its background work.
        defined = {
            target.id
            for node in ast.parse(Path(spec.origin).read_text()).body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        assert attribute in defined, target
        assert (tool, module) in (("granian", "sogoms_site.wsgi"), ("uvicorn", "sogoms_site.asgi"))
    else:
        assert tool == "celery"
        assert args[:2] == ["-A", "sogoms_site"] and args[2] in ("worker", "beat")
        assert importlib.util.find_spec("sogoms_site.celery") is not None
    assert (Path(sys.executable).parent / tool).exists(), tool


def test_target_wants_every_service() -> None:
    unit = unit_sections(UNITS / "sogoms.target")["Unit"]
    assert set(unit["Wants"].split()) == {f"sogoms-{name}.service" for name in SERVICES}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_units_verify(tmp_path: Path) -> None:
    # The units name /opt/sogoms; here its programs are this virtualenv's.
    venv_bin = str(Path(sys.executable).parent) + "/"
    for path in UNITS.iterdir():
        text = path.read_text().replace("/opt/sogoms/.venv/bin/", venv_bin)
        (tmp_path / path.name).write_text(text)
    units = sorted(str(path) for path in tmp_path.iterdir())
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True, timeout=60
    )
    ours = [line for line in result.stderr.splitlines() if "sogoms" in line]
    assert result.returncode == 0 and not ours, result.stderr


def children(pid: int) -> set[int]:
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def test_reload_swaps_the_http_workers_under_the_same_server_and_restarts_the_socket(site: Site) -> None:
    started = site.ctl("start")
    assert started.returncode == 0, started.stdout + started.stderr
    assert wait_for(lambda: healthy(site.http) and healthy(site.socket), 30)
    http_pid, socket_pid = site.pid("http"), site.pid("socket")
    assert http_pid and socket_pid
    workers = children(http_pid)
    assert len(workers) == 2

    reloaded = site.ctl("reload", timeout=120)
    assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
    assert f"http: workers replaced on the same port (pid {http_pid})" in reloaded.stdout
    assert site.pid("http") == http_pid  # the same server kept its port open
    assert not children(http_pid) & workers
    assert site.pid("socket") not in (None, socket_pid)
    # the new workers may still be importing the code: requests wait in the open socket
    assert wait_for(lambda: healthy(site.http), 30)
    assert wait_for(lambda: healthy(site.socket), 10)

    unknown = site.ctl("reload", "nothing")
    assert unknown.returncode == 2 and "unknown process 'nothing'" in unknown.stdout


def test_worker_and_beat_run_only_with_a_broker(settings) -> None:
    from sogoms_site.ctl.processes import processes

    settings.SOGOMS_EMBEDDED_WORKER = True
    assert [process.name for process in processes()] == ["http", "socket"]
    settings.SOGOMS_EMBEDDED_WORKER = False
    assert [process.name for process in processes()] == ["http", "socket", "worker", "beat"]
