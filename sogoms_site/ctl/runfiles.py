"""The supervisor's files under `$SOGOMS_VAR_DIR`: pid files, the state JSON, the logs.

The command line and the supervisor are different processes; these files are all they
share (plus signals to the supervisor's pid).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.conf import settings


def run_dir() -> Path:
    path = Path(settings.VAR_DIR) / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    path = Path(settings.VAR_DIR) / "log"
    path.mkdir(parents=True, exist_ok=True)
    return path


def supervisor_pid_file() -> Path:
    return run_dir() / "ctl.pid"


def pid_file(name: str) -> Path:
    return run_dir() / f"ctl-{name}.pid"


def state_file() -> Path:
    return run_dir() / "ctl-state.json"


def restart_file() -> Path:
    """Names the command line asks the supervisor to restart (it then sends SIGUSR1)."""
    return run_dir() / "ctl-restart"


def alive(pid: int) -> bool:
    """Whether `pid` runs; a zombie (exited, not yet reaped) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # The field after the parenthesised command name is the state; Z is a zombie.
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def running_supervisor() -> int | None:
    """The supervisor's pid if it runs; a stale pid file (and its state) is removed."""
    pid = read_pid(supervisor_pid_file())
    if pid is not None and alive(pid):
        return pid
    if supervisor_pid_file().exists():
        clean()
    return None


def clean() -> None:
    """Remove every pid and state file of the supervisor (it is not running)."""
    for path in run_dir().glob("ctl*"):
        path.unlink(missing_ok=True)


def write_atomic(path: Path, text: str) -> None:
    # A reader never sees a half-written file: write beside it, then rename.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def read_state() -> dict[str, Any]:
    try:
        return json.loads(state_file().read_text())
    except (OSError, ValueError):
        return {}
