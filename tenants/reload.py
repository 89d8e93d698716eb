"""Config reload without a restart: `sogoms reload` (or SIGHUP) in every process.

`sogoms reload` validates the new config first: with any problem it prints them all and
changes nothing. A valid config is announced by touching a file under var/run; each
process notices it on its next request (at most once a second it looks) and swaps its
registry in one assignment. Requests already running keep the tenant they started with,
so none is dropped; a process that cannot load the new config keeps the old one.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TypedDict

from django.conf import settings

from tenants.config import LoadResult, load_config

logger = logging.getLogger("sogoms.reload")
CHECK_INTERVAL = 1.0
_lock = threading.Lock()


class _WatchState(TypedDict):
    checked_at: float  # time.monotonic() of the last look at the signal file
    seen: int | None  # the signal file's mtime (ns) this process is at; None: not looked yet
    requested: bool  # SIGHUP asked for a reload


_state: _WatchState = {"checked_at": 0.0, "seen": None, "requested": False}


def signal_file() -> Path:
    return Path(settings.VAR_DIR) / "run" / "config-reload"


def _mtime() -> int:
    try:
        return signal_file().stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def announce() -> None:
    """Tell every process on this machine to reload (touch the signal file)."""
    path = signal_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(time.time()))


def load_new() -> LoadResult:
    from tenants.registry import load_options

    return load_config(load_options())


def install(result: LoadResult) -> None:
    """Make a valid result this process's registry (new database aliases included)."""
    from tenants import registry as registry_module
    from tenants.databases import register_tenant_databases

    if result.registry is None:
        raise ValueError("a config with problems cannot be installed")
    register_tenant_databases(result.registry)
    registry_module._state["result"] = result


def reload_now() -> bool:
    result = load_new()
    if result.registry is None:
        logger.error(
            "config reload refused, the old config keeps serving: %s", "; ".join(map(str, result.problems))
        )
        return False
    install(result)
    logger.info("config reloaded: %s", ", ".join(t.app for t in result.registry))
    return True


def maybe_reload() -> None:
    """Called on every request: cheap unless a reload was announced or signalled."""
    now = time.monotonic()
    if now - _state["checked_at"] < CHECK_INTERVAL and not _state["requested"]:
        return
    with _lock:
        _state["checked_at"] = now
        current = _mtime()
        if _state["seen"] is None:
            _state["seen"] = current  # the config loaded at start is already this one
        if current == _state["seen"] and not _state["requested"]:
            return
        _state["seen"] = current
        _state["requested"] = False
        reload_now()


def install_sighup_handler() -> None:
    """SIGHUP asks this process to reload (unless the server owns SIGHUP itself)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, None):
        return

    def on_sighup(_signum: int, _frame: FrameType | None) -> None:
        _state["requested"] = True

    signal.signal(signal.SIGHUP, on_sighup)
