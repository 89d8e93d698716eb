"""Handing a message to the channel layer from wherever a publish happens.

A publish may come from the server's event loop, from a sync view running in a worker
thread, or from a command with no loop at all. The in-memory layer's queues belong to
the server's loop and are not thread-safe, so a publish from another thread is handed
to that loop (`run_coroutine_threadsafe`) instead of running on a loop of its own; that
also keeps the request from waiting on delivery. Without a server loop in the process
(a command, a worker, a WSGI server) the publish runs to completion here. On the Redis
pub/sub layer that is one PUBLISH on a plain (blocking) client: the message the layer's own
`group_send` would send, to the channel it would send it to, without the round of an event
loop (about 180 us of a write's CPU, against 50 us). Any other layer runs on an event loop
kept per thread: a new loop (and thread) per publish cost about 1.5 ms per write.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from typing import Any

import redis
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer

from realtime.topics import Topic

logger = logging.getLogger("sogoms.push")
_state: dict = {"loop": None, "tasks": set()}
_own = threading.local()  # .loop: this thread's loop for publishes outside any server loop
# The blocking client of a Redis pub/sub layer, per layer object (settings may be swapped
# in tests): (layer, client, channel prefix), or None for a layer it cannot serve.
_blocking: dict[str, Any] = {"layer": None, "target": None}


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


def publish(topic: Topic, text: str) -> None:
    """The frame `text` to every socket process listening to `topic` (realtime.fanout): one
    message to the topic's group, whatever the number of sockets; never waits for them."""
    group_send(topic.group, {"type": "push.frame", "topic": str(topic), "text": text})


def group_send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer) and not layer.groups.get(group):
        return  # this layer reaches this process only, and no socket of it listens
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not None:  # async code of this thread: schedule, do not block the loop
        task = running.create_task(layer.group_send(group, message))
        _state["tasks"].add(task)  # a task nobody references may be collected mid-flight
        task.add_done_callback(_finished)
        return
    target = _blocking_target(layer)
    if target is not None:
        client, prefix = target
        client.publish(f"{prefix}__group__{group}", layer.serialize(message))
        return
    loop = _state["loop"]
    if loop is not None and loop.is_running():
        asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).add_done_callback(_failed)
        return
    _thread_loop().run_until_complete(layer.group_send(group, message))


def _blocking_target(layer: Any) -> tuple[redis.Redis, str] | None:
    """A blocking client and the channel prefix for a one-server Redis pub/sub layer.

    The channel name and the message's bytes are those of channels_redis's own
    `group_send` (`<prefix>__group__<group>`, the layer's serializer), so listeners on the
    layer cannot tell the two apart; several servers (sharded by a hash of the name) are
    left to the layer itself.
    """
    if _blocking["layer"] is layer:
        return _blocking["target"]
    target = None
    if isinstance(layer, RedisPubSubChannelLayer):
        config = getattr(layer, "_kwargs", {})
        hosts = config.get("hosts") or []
        if len(hosts) == 1:
            host = hosts[0] if isinstance(hosts[0], dict) else {"address": hosts[0]}
            client = redis.Redis.from_url(
                host["address"], health_check_interval=host.get("health_check_interval", 0)
            )
            target = (client, config.get("prefix", "asgi"))
    _blocking.update(layer=layer, target=target)
    return target


def _thread_loop() -> asyncio.AbstractEventLoop:
    """This thread's own loop, made once: the Redis layer keeps its connections per loop."""
    loop = getattr(_own, "loop", None)
    if loop is None or loop.is_closed():
        loop = _own.loop = asyncio.new_event_loop()
    return loop


def _finished(task: asyncio.Task) -> None:
    _state["tasks"].discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("push to the channel layer failed: %r", task.exception())


def _failed(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("push to the channel layer failed: %r", future.exception())
