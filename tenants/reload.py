"""Config reload without a restart: `sogoms reload` (or SIGHUP) in every process.

`sogoms reload` validates the new config first: with any problem it prints them all and
changes nothing. A valid config is announced twice: a file under var/run is touched (the
processes of this machine) and the config generation, a counter in the shared cache
(Redis with `REDIS_URL`: the processes of every machine), is bumped. Each process looks
at both at most once a second, where its work begins: an HTTP request (the tenant
middleware), a new socket (`ReloadingApplication` in asgi.py), a Celery task (the
`task_prerun` hook, so every cron tick and job, every mail delivery); one that is behind
swaps its registry in one assignment. Requests already running keep the tenant they
started with, so none is dropped; a process that cannot load the new config keeps the old
one. Beat itself needs nothing: its schedule is the built-in one, and the jobs of
`config/cron/` are read by the tick, a task on a worker.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any, TypedDict

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache

from tenants.config import LoadResult, load_config

logger = logging.getLogger("sogoms.reload")
CHECK_INTERVAL = 1.0
_lock = threading.Lock()


GENERATION_KEY = "config-generation"


class _WatchState(TypedDict):
    checked_at: float  # time.monotonic() of the last look at the signal file
    seen: tuple[int, int | None] | None  # (signal file mtime ns, generation) this process is at
    requested: bool  # SIGHUP asked for a reload


_state: _WatchState = {"checked_at": 0.0, "seen": None, "requested": False}


def signal_file() -> Path:
    return Path(settings.VAR_DIR) / "run" / "config-reload"


def _mtime() -> int:
    try:
        return signal_file().stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def generation() -> int | None:
    """The config generation in the shared cache; None when the cache cannot be read."""
    try:
        value = cache.get(GENERATION_KEY)
    except Exception as exc:  # Redis down: the signal file still reaches this machine
        logger.warning("config generation unreadable: %s", exc)
        return None
    return int(value) if isinstance(value, int) else 0


def _bump_generation() -> int | None:
    try:
        cache.add(GENERATION_KEY, 0, timeout=None)
        return int(cache.incr(GENERATION_KEY))
    except Exception as exc:
        logger.warning("config generation not bumped, only this machine's processes reload: %s", exc)
        return None


def announce() -> int | None:
    """Tell every process to reload: touch the signal file (this machine) and bump the
    generation (every machine sharing the cache). The new generation, or None."""
    path = signal_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(time.time()))
    return _bump_generation()


def load_new() -> LoadResult:
    from tenants.registry import load_options

    return load_config(load_options())


def install(result: LoadResult) -> None:
    """Make a valid result this process's registry (new database aliases included)."""
    from tenants import registry as registry_module
    from tenants.databases import register_tenant_databases
    from tenants.usermodel import forget_tenants_except

    if result.registry is None:
        raise ValueError("a config with problems cannot be installed")
    register_tenant_databases(result.registry)
    registry_module._state["result"] = result
    forget_tenants_except(result.registry)


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


def reload_due() -> bool:
    """Whether it is time to look (once a second, or at once after SIGHUP): no I/O."""
    return _state["requested"] or time.monotonic() - _state["checked_at"] >= CHECK_INTERVAL


def maybe_reload() -> None:
    """Called where work begins (request, socket, task): cheap unless a reload was
    announced or signalled."""
    if not reload_due():
        return
    with _lock:
        _state["checked_at"] = time.monotonic()
        mtime, current_generation = _mtime(), generation()
        seen = _state["seen"]
        if seen is None:
            seen = _state["seen"] = (mtime, current_generation)  # the config loaded at start is this one
        if current_generation is None:  # unreadable: judge by the file alone, keep the last known
            current_generation = seen[1]
        current = (mtime, current_generation)
        if current == seen and not _state["requested"]:
            return
        _state["seen"] = current
        _state["requested"] = False
        reload_now()


def reload_before_task(**_signal: Any) -> None:
    """Celery's `task_prerun` receiver: a worker applies a reload before each task."""
    maybe_reload()


class ReloadingApplication:
    """ASGI wrapper for the socket: a socket-only process applies a reload on each new
    connection, as an HTTP process does on each request."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if reload_due():
            await sync_to_async(maybe_reload, thread_sensitive=False)()
        return await self.application(scope, receive, send)


def install_sighup_handler() -> None:
    """SIGHUP asks this process to reload (unless the server owns SIGHUP itself)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, None):
        return

    def on_sighup(_signum: int, _frame: FrameType | None) -> None:
        _state["requested"] = True

    signal.signal(signal.SIGHUP, on_sighup)
