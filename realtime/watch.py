"""Closing sockets whose session ended, with one query per process per check.

A session ends on logout (one or all), a password change or reset, deactivation or deletion
of its user, or a reused refresh token. One watcher per event loop asks the control database
which sessions ended lately (an indexed range on `ended_at`, whatever the number of open
sockets) and closes the sockets of those it holds, with the unauthorized close code.

It checks every SOGOMS_PUSH_REVOCATION_CHECK_SECONDS, and at once when this process hears of
an auth change (tenants.auth.current: a change made here, or announced through Redis by
another process), so a socket is closed within moments of the ending, in every process.
A role change ends nothing: each frame of the socket reads the current role. A socket
opened with a Go-era token (no session) is checked against its user at each check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from realtime.auth import CLOSE_UNAUTHORIZED
from sogoms_site.errors import InvalidToken
from tenants.auth import current
from tenants.auth.sessions import sessions_ended_since

logger = logging.getLogger("sogoms.push")
# Endings are looked for this far before the previous check: a commit lands a little after
# its `ended_at` was taken, and servers' clocks differ a little.
OVERLAP = timedelta(seconds=15)
# (app, session id) -> set of consumers; the running task, its loop and its wake-up event.
_state: dict[str, Any] = {"sockets": {}, "task": None, "loop": None, "wake": None, "since": None}


def _key(consumer: Any) -> tuple[str, str]:
    return (consumer.tenant.app, consumer.principal.session_id)


def watch(consumer: Any) -> None:
    _state["sockets"].setdefault(_key(consumer), set()).add(consumer)
    task = _state["task"]
    loop = asyncio.get_running_loop()
    if task is None or task.done() or task.get_loop() is not loop:
        _state["loop"], _state["wake"] = loop, asyncio.Event()
        _state["since"] = timezone.now() - OVERLAP
        _state["task"] = loop.create_task(_run())
        current.add_listener(_heard)


def unwatch(consumer: Any) -> None:
    if getattr(consumer, "principal", None) is None or getattr(consumer, "tenant", None) is None:
        return
    key = _key(consumer)
    consumers = _state["sockets"].get(key)
    if consumers is not None:
        consumers.discard(consumer)
        if not consumers:
            del _state["sockets"][key]


def _heard(_change: current.Change) -> None:
    """From any thread: a session or user changed somewhere, check now."""
    loop, wake = _state["loop"], _state["wake"]
    if loop is None or wake is None or loop.is_closed():
        return
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
        loop.call_soon_threadsafe(wake.set)


async def _run() -> None:
    wake: asyncio.Event = _state["wake"]
    while _state["sockets"]:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=max(1, settings.SOGOMS_PUSH_REVOCATION_CHECK_SECONDS))
        wake.clear()
        if not _state["sockets"]:
            break
        started = timezone.now()
        try:
            ended = await database_sync_to_async(sessions_ended_since)(_state["since"])
        except Exception:  # a database hiccup must not end the watch for good
            logger.exception("the session check of the push sockets failed")
            continue
        _state["since"] = started - OVERLAP
        for key in ended:
            for consumer in list(_state["sockets"].pop(key, ())):
                await consumer.close(code=CLOSE_UNAUTHORIZED, reason="the session has ended")
        await _close_ended_sessionless()
    _state["task"] = None


async def _close_ended_sessionless() -> None:
    """Sockets opened with a Go-era token have no session to end: each is checked against
    its user as it is now (deactivated, deleted, tokens ended by a logout everywhere or a
    password change), through the same short-lived auth state every request reads."""
    for key in [key for key in _state["sockets"] if not key[1]]:
        for consumer in list(_state["sockets"].get(key, ())):
            try:
                await database_sync_to_async(current.refreshed)(consumer.principal, consumer.tenant)
            except InvalidToken:
                unwatch(consumer)
                await consumer.close(code=CLOSE_UNAUTHORIZED, reason="the token has ended")
            except Exception:  # a database hiccup: the next check tries again
                logger.exception("the check of a session-less push socket failed")
                return
