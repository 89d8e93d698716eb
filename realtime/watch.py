"""Closing sockets whose token was revoked (logout), with one query per process per interval.

Each socket asking on its own would cost a query per socket per interval, all on the one
thread that also runs the sync views; one watcher per event loop asks for every open
socket's `jti` at once instead.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from django.conf import settings

from realtime.auth import CLOSE_UNAUTHORIZED
from tenants.auth.revocation import revoked_among

logger = logging.getLogger("sogoms.push")
_state: dict = {"sockets": {}, "task": None}  # jti -> set of consumers


def watch(consumer) -> None:
    _state["sockets"].setdefault(consumer.principal.jti, set()).add(consumer)
    task = _state["task"]
    loop = asyncio.get_running_loop()
    if task is None or task.done() or task.get_loop() is not loop:
        _state["task"] = loop.create_task(_run())


def unwatch(consumer) -> None:
    principal = getattr(consumer, "principal", None)
    if principal is None:
        return
    consumers = _state["sockets"].get(principal.jti)
    if consumers is not None:
        consumers.discard(consumer)
        if not consumers:
            del _state["sockets"][principal.jti]


async def _run() -> None:
    while _state["sockets"]:
        await asyncio.sleep(max(1, settings.SOGOMS_PUSH_REVOCATION_CHECK_SECONDS))
        jtis = list(_state["sockets"])
        if not jtis:
            break
        try:
            revoked = await database_sync_to_async(revoked_among)(jtis)
        except Exception:  # a database hiccup must not end the watch for good
            logger.exception("the revocation check of the push sockets failed")
            continue
        for jti in revoked:
            for consumer in list(_state["sockets"].pop(jti, ())):
                await consumer.close(code=CLOSE_UNAUTHORIZED, reason="the token has been revoked")
    _state["task"] = None
