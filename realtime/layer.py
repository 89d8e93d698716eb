"""Handing an event to the sockets from wherever a publish happens.

With Redis, the event is published once to every socket process (realtime.fanout), from
any thread. Without Redis (the embedded default) the sockets are those of this process,
on the server's loop: a publish from a sync view running in a worker thread is handed to
that loop (`call_soon_threadsafe`), which also keeps the request from waiting on delivery.
A process without a server loop and without Redis (a command) has no socket to reach.
"""

from __future__ import annotations

import asyncio
import logging

from realtime import fanout

logger = logging.getLogger("sogoms.push")
_state: dict = {"loop": None}


def remember_server_loop() -> None:
    """Called from the ASGI edge: the loop that owns this process's sockets."""
    _state["loop"] = asyncio.get_running_loop()


class LoopRecorder:
    """ASGI wrapper that remembers the server loop on the first connection of any kind."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if _state["loop"] is not asyncio.get_running_loop():
            remember_server_loop()
        return await self.inner(scope, receive, send)


def publish(topic: str, text: str) -> None:
    """Send the frame `text` to every socket listening to `topic`; never waits for them."""
    if fanout.redis_url():
        fanout.publish_to_processes(topic, text)
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    loop = fanout.sockets_loop() or _state["loop"]
    if running is not None and running is loop:  # async code of the sockets' loop
        fanout.deliver(topic, text)
    elif loop is not None and loop.is_running():
        loop.call_soon_threadsafe(fanout.deliver, topic, text)
    else:
        logger.debug("no socket server in this process and no Redis: the event reaches no one")
