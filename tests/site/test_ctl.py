"""`sogoms ctl` with real processes: the supervisor starts, restarts and stops them.

Each test runs the supervisor on a copy of the test config with a var directory of its
own and free ports, without REDIS_URL (so only http and socket run; worker and beat are
embedded); the fixture stops it whatever happens, so no process outlives the test.
"""

from __future__ import annotations

import json
import os
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

    # A process that dies is started again, under a new pid, within the back-off.
    http_pid = site.pid("http")
    assert http_pid
    os.kill(http_pid, signal.SIGKILL)
    assert wait_for(lambda: site.pid("http") not in (None, http_pid) and healthy(site.http), 5)
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
