"""The supervisor daemon (`sogoms ctl supervise`): runs the processes, restarts the dead.

It starts the processes in order, checks them five times a second, and restarts one that
exits unexpectedly after a back-off (1 s, doubling to 30 s; back to 1 s once a process
stayed up 60 s). SIGTERM or SIGINT stops them in reverse order and ends it; SIGUSR1 has
it restart the processes named in the restart file. Its state goes to the run files.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import IO

from django.conf import settings

from sogoms_site.ctl import runfiles
from sogoms_site.ctl.processes import KILL_MARGIN, Process, grace_seconds, processes

TICK = 0.2
FIRST_DELAY = 1.0
MAX_DELAY = 30.0
STABLE_AFTER = 60.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Child:
    process: Process
    popen: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    started_at: str = ""
    restarts: int = 0
    delay: float = FIRST_DELAY
    due: float | None = None  # when a dead process is started again
    log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.process.name


class Supervisor:
    def __init__(self, children: list[Child], grace: float) -> None:
        self.children = children
        self.grace = grace
        self.stopping = False
        self.restart_requested = False

    # Signal handlers only set flags; the loop acts on them between its checks.
    def _on_stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _on_restart(self, _signum: int, _frame: FrameType | None) -> None:
        self.restart_requested = True

    def say(self, message: str) -> None:
        print(f"{_now()} ctl: {message}", flush=True)

    def start(self, child: Child) -> None:
        if child.log is None:
            child.log = open(runfiles.log_dir() / f"{child.name}.log", "ab")  # noqa: SIM115  (kept open)
        child.log.write(f"--- {_now()} ctl starts {child.name}\n".encode())
        child.log.flush()
        # A process group of its own, so stopping it also reaches what it forked
        # (gunicorn's workers) and the supervisor's signals are not its own.
        child.popen = subprocess.Popen(  # noqa: S603  (the commands of processes.py)
            child.process.command,
            cwd=settings.BASE_DIR,
            env={**os.environ, **child.process.env},
            stdin=subprocess.DEVNULL,
            stdout=child.log,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        child.started = time.monotonic()
        child.started_at = _now()
        child.due = None
        runfiles.write_atomic(runfiles.pid_file(child.name), f"{child.popen.pid}\n")
        self.say(f"{child.name} started, pid {child.popen.pid}")

    def stop(self, child: Child) -> None:
        popen = child.popen
        child.popen = None
        child.due = None
        runfiles.pid_file(child.name).unlink(missing_ok=True)
        if popen is None:
            return
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout=self.grace + KILL_MARGIN)
            except subprocess.TimeoutExpired:
                self.say(f"{child.name} did not stop in {self.grace + KILL_MARGIN:g} s: killed")
        _kill_group(popen.pid)
        popen.wait()
        self.say(f"{child.name} stopped")

    def check(self, child: Child) -> None:
        """Notice an unexpected exit and schedule the restart; start it when due."""
        now = time.monotonic()
        if child.popen is not None and child.popen.poll() is not None:
            code = child.popen.returncode
            # What the dead process forked (gunicorn's workers) would hold its port.
            _kill_group(child.popen.pid)
            if now - child.started >= STABLE_AFTER:
                child.delay = FIRST_DELAY
            child.due = now + child.delay
            self.say(f"{child.name} exited ({code}); restart in {child.delay:g} s")
            child.delay = min(child.delay * 2, MAX_DELAY)
            child.popen = None
            runfiles.pid_file(child.name).unlink(missing_ok=True)
        if child.popen is None and child.due is not None and now >= child.due:
            child.restarts += 1
            self.start(child)

    def restart_requested_ones(self) -> None:
        self.restart_requested = False
        path = runfiles.restart_file()
        try:
            names = set(path.read_text().split())
        except OSError:
            return
        path.unlink(missing_ok=True)
        chosen = [c for c in self.children if "all" in names or c.name in names]
        for child in reversed(chosen):
            self.stop(child)
        for child in chosen:
            child.delay = FIRST_DELAY
            self.start(child)

    def write_state(self) -> None:
        state = {
            "supervisor": os.getpid(),
            "processes": {
                c.name: {
                    "pid": c.popen.pid if c.popen else None,
                    "started_at": c.started_at if c.popen else None,
                    "restarts": c.restarts,
                    "state": "running" if c.popen else ("waiting" if c.due is not None else "stopped"),
                }
                for c in self.children
            },
        }
        runfiles.write_atomic(runfiles.state_file(), json.dumps(state, indent=2) + "\n")

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGUSR1, self._on_restart)
        try:
            for child in self.children:
                if self.stopping:
                    break
                self.start(child)
                self.write_state()
            while not self.stopping:
                if self.restart_requested:
                    self.restart_requested_ones()
                for child in self.children:
                    self.check(child)
                self.write_state()
                time.sleep(TICK)
        finally:
            for child in reversed(self.children):
                self.stop(child)
            for child in self.children:
                if child.log is not None:
                    child.log.close()
            runfiles.clean()
            self.say("stopped")


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def supervise() -> int:
    """Run the supervisor in this process until it is stopped; 1 if one already runs."""
    if runfiles.running_supervisor() is not None:
        print("ctl: a supervisor already runs", file=sys.stderr)
        return 1
    # O_EXCL: of two supervisors started at once, only one gets the pid file.
    try:
        fd = os.open(runfiles.supervisor_pid_file(), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        print("ctl: a supervisor already runs", file=sys.stderr)
        return 1
    with os.fdopen(fd, "w") as pid_out:
        pid_out.write(f"{os.getpid()}\n")
    children = [Child(process) for process in processes()]
    Supervisor(children, grace_seconds()).run()
    return 0
