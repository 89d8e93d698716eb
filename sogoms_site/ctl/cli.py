"""`sogoms ctl start|stop|restart|reload|status [process]`: drive the supervisor of this host.

`start` launches the supervisor (`sogoms ctl supervise`) in a session of its own and
returns once its processes run; the other actions read its run files and signal it.
`reload` loads new code: the HTTP server gets SIGHUP and replaces its workers while its
port stays open (no request is lost); the other processes are restarted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from django.conf import settings

from sogoms_site.commands import Options, Out, Subparsers
from sogoms_site.ctl import runfiles
from sogoms_site.ctl.processes import KILL_MARGIN, grace_seconds, processes, separate_workers

START_TIMEOUT = 30.0


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("ctl", help="run the site's processes on this host (small installs)")
    actions = parser.add_subparsers(dest="ctl_action", required=True, metavar="action")
    actions.add_parser("start", help="start the supervisor and its processes").set_defaults(handler=start)
    actions.add_parser("stop", help="stop the processes and the supervisor").set_defaults(handler=stop)
    restart = actions.add_parser("restart", help="restart one process, or all")
    restart.add_argument("process", nargs="?", default="all")
    restart.set_defaults(handler=restart_process)
    reload = actions.add_parser(
        "reload", help="new code: http swaps its workers on the same port, the others restart"
    )
    reload.add_argument("process", nargs="?", default="all")
    reload.set_defaults(handler=reload_process)
    actions.add_parser("status", help="each process: pid, uptime, restarts").set_defaults(handler=status)
    supervise = actions.add_parser("supervise", help="run the supervisor in the foreground")
    supervise.set_defaults(handler=run_supervisor)


def _names() -> list[str]:
    return [process.name for process in processes()]


def _pids() -> dict[str, int | None]:
    found = runfiles.read_state().get("processes", {})
    return {name: found.get(name, {}).get("pid") for name in _names()}


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def start(options: Options, out: Out) -> int:
    pid = runfiles.running_supervisor()
    if pid is not None:
        out.write(f"refused: the supervisor already runs (pid {pid}); `sogoms ctl status`")
        return 1
    log = open(runfiles.log_dir() / "ctl.log", "ab")  # noqa: SIM115  (handed to the daemon)
    with log:
        # A session of its own: the supervisor outlives this command and its terminal.
        subprocess.Popen(  # noqa: S603  (this interpreter and manage.py)
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "sogoms", "ctl", "supervise"],
            cwd=settings.BASE_DIR,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if not _wait(lambda: all(_pids().values()), START_TIMEOUT):
        out.write(f"the processes did not all start in {START_TIMEOUT:g} s; see {runfiles.log_dir()}")
        return 1
    return status(options, out)


def stop(_options: Options, out: Out) -> int:
    pid = runfiles.running_supervisor()
    if pid is None:
        out.write("the supervisor is not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    # Each process may take the grace period; a little more for the supervisor itself.
    timeout = (grace_seconds() + KILL_MARGIN) * len(_names()) + 10
    if not _wait(lambda: not runfiles.alive(pid), timeout):
        out.write(f"the supervisor (pid {pid}) did not stop in {timeout} s")
        return 1
    out.write("stopped")
    return 0


def _chosen(options: Options, out: Out) -> list[str] | None:
    """The processes named on the command line ("all" by default); None, said, if unknown."""
    name = options["process"]
    names = _names()
    if name != "all" and name not in names:
        out.write(f"unknown process {name!r}; one of: {', '.join(names)}")
        return None
    return names if name == "all" else [name]


def restart_process(options: Options, out: Out) -> int:
    chosen = _chosen(options, out)
    return 2 if chosen is None else _restart(chosen, options, out)


def _restart(chosen: list[str], options: Options, out: Out) -> int:
    pid = runfiles.running_supervisor()
    if pid is None:
        out.write("the supervisor is not running; `sogoms ctl start`")
        return 1
    before = _pids()
    runfiles.write_atomic(runfiles.restart_file(), " ".join(chosen) + "\n")
    os.kill(pid, signal.SIGUSR1)
    timeout = (grace_seconds() + KILL_MARGIN) * len(chosen) + START_TIMEOUT

    def restarted() -> bool:
        now = _pids()
        return all(now[n] and now[n] != before[n] for n in chosen)

    if not _wait(restarted, timeout):
        out.write(f"not restarted in {timeout:g} s; see {runfiles.log_dir()}")
        return 1
    return status(options, out)


def _children(pid: int) -> set[int]:
    """The processes `pid` forked (the HTTP server's workers)."""
    try:
        return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except (OSError, ValueError):
        return set()


def reload_process(options: Options, out: Out) -> int:
    chosen = _chosen(options, out)
    if chosen is None:
        return 2
    if runfiles.running_supervisor() is None:
        out.write("the supervisor is not running; `sogoms ctl start`")
        return 1
    if "http" in chosen:
        http = _pids()["http"]
        if not http or not runfiles.alive(http):
            out.write("http is not running; `sogoms ctl status`")
            return 1
        old = _children(http)
        # gunicorn and granian alike: new workers import the code afresh, then the old
        # ones stop gracefully; the listening socket stays open all along.
        os.kill(http, signal.SIGHUP)
        timeout = (grace_seconds() + KILL_MARGIN) * max(len(old), 1) + START_TIMEOUT

        def swapped() -> bool:
            now = _children(http)
            return bool(now) and not now & old

        if not _wait(swapped, timeout):
            out.write(f"http: its workers were not all replaced in {timeout:g} s; see {runfiles.log_dir()}")
            return 1
        out.write(f"http: workers replaced on the same port (pid {http})")
    others = [name for name in chosen if name != "http"]
    return _restart(others, options, out) if others else status(options, out)


def _uptime(started_at: str | None) -> str:
    if not started_at:
        return "-"
    seconds = int((datetime.now().astimezone() - datetime.fromisoformat(started_at)).total_seconds())
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


def status(_options: Options, out: Out) -> int:
    pid = runfiles.running_supervisor()
    if pid is None:
        out.write("supervisor: not running")
        return 1
    out.write(f"supervisor: running, pid {pid}")
    found = runfiles.read_state().get("processes", {})
    down = 0
    for name in _names():
        entry = found.get(name, {})
        process_pid = entry.get("pid")
        up = bool(process_pid) and runfiles.alive(process_pid)
        down += not up
        out.write(
            f"{name:<7} {'running' if up else entry.get('state', 'down'):<8} "
            f"pid {process_pid or '-':<8} up {_uptime(entry.get('started_at') if up else None):<10} "
            f"restarts {entry.get('restarts', 0)}"
        )
    if not separate_workers():
        out.write("worker, beat: embedded in the http and socket processes (no REDIS_URL)")
    return 1 if down else 0


def run_supervisor(_options: Options, _out: Out) -> int:
    from sogoms_site.ctl.supervisor import supervise

    return supervise()
