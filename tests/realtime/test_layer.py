"""A publish made outside any server loop (a WSGI worker, a command) on `realtime.layer`.

It runs to completion: the messages arrive, in order, and no thread is started per
publish. On the Redis pub/sub layer it is one blocking PUBLISH, with no event loop at all
(a loop round cost a write several times the command's own CPU); on other layers it runs
on the thread's own loop, kept from one publish to the next.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid

import pytest
import redis
from channels.layers import get_channel_layer

from realtime import layer


def _listen(group: str, count: int) -> tuple[threading.Thread, list[str]]:
    """A socket's side, on a loop of its own (the Redis layer's channels belong to one),
    listening to `group` on the layer itself until `count` messages came."""
    channels = get_channel_layer()
    ready = threading.Event()
    received: list[str] = []

    async def run() -> None:
        channel = await channels.new_channel()
        await channels.group_add(group, channel)
        await _subscribed(group)
        ready.set()
        deadline = asyncio.get_running_loop().time() + 10
        # short waits on the in-memory layer: its queue belongs to this loop and is not
        # woken by a put from the publisher's loop, a new wait finds the message. One long
        # wait on Redis: there a receive cut short drops the channel's subscription, and
        # what is published before the next wait subscribes again is lost
        wait = 10 if os.environ.get("REDIS_URL") else 0.1
        while len(received) < count and asyncio.get_running_loop().time() < deadline:
            try:
                received.append((await asyncio.wait_for(channels.receive(channel), wait))["text"])
            except TimeoutError:
                continue
        await channels.group_discard(group, channel)

    receiver = threading.Thread(target=lambda: asyncio.run(run()))
    receiver.start()
    assert ready.wait(10)
    return receiver, received


async def _subscribed(group: str) -> None:
    """On Redis, until the server has the subscription: SUBSCRIBE is answered on the
    layer's reading task, so a PUBLISH from another connection may come before it."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return
    from django.conf import settings

    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"].get("prefix", "asgi")
    client = redis.Redis.from_url(url)
    try:
        for _ in range(200):
            if client.pubsub_numsub(f"{prefix}__group__{group}")[0][1]:
                return
            await asyncio.sleep(0.01)
    finally:
        client.close()


def test_publishes_outside_a_server_loop_arrive_in_order_and_start_no_thread(monkeypatch):
    group = f"test-layer-{uuid.uuid4().hex}"
    receiver, received = _listen(group, 3)
    monkeypatch.setitem(layer._state, "loop", None)  # no server loop in this process
    started: list[threading.Thread] = []
    original_start = threading.Thread.start

    def counting_start(thread: threading.Thread) -> None:
        started.append(thread)
        original_start(thread)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    for number in range(3):
        layer.group_send(group, {"type": "push.event", "text": str(number)})
    monkeypatch.setattr(threading.Thread, "start", original_start)
    receiver.join(15)

    assert received == ["0", "1", "2"]
    assert started == []


def test_on_redis_a_publish_reaches_the_layer_without_an_event_loop(monkeypatch):
    if not os.environ.get("REDIS_URL"):
        if os.environ.get("SOGOMS_REQUIRE_SERVICES"):
            pytest.fail("REDIS_URL is not set")
        pytest.skip("needs REDIS_URL (the Redis pub/sub layer)")
    group = f"test-layer-{uuid.uuid4().hex}"
    receiver, received = _listen(group, 2)
    monkeypatch.setitem(layer._state, "loop", None)
    loops: list[object] = []

    def publish_twice() -> None:  # a fresh thread, as a WSGI worker's
        layer.group_send(group, {"type": "push.event", "text": "a"})
        layer.group_send(group, {"type": "push.event", "text": "b"})
        loops.append(getattr(layer._own, "loop", None))

    publisher = threading.Thread(target=publish_twice)
    publisher.start()
    publisher.join(10)
    receiver.join(15)

    assert received == ["a", "b"]
    assert loops == [None]


def test_on_the_in_memory_layer_a_group_nobody_listens_to_costs_no_event_loop(monkeypatch):
    """A WSGI worker of the embedded default holds no sockets: its publishes reach no one,
    and must not run an event loop for nothing on every write."""
    from channels.layers import InMemoryChannelLayer

    memory = InMemoryChannelLayer()
    monkeypatch.setattr(layer, "get_channel_layer", lambda: memory)
    monkeypatch.setitem(layer._state, "loop", None)
    loops: list[object] = []

    def publish() -> None:
        layer.group_send("nobody-here", {"type": "push.event", "text": "x"})
        loops.append(getattr(layer._own, "loop", None))

    publisher = threading.Thread(target=publish)
    publisher.start()
    publisher.join(10)
    assert loops == [None]

    async def listen_and_publish() -> str:
        channel = await memory.new_channel()
        await memory.group_add("somebody-here", channel)
        await asyncio.to_thread(layer.group_send, "somebody-here", {"type": "push.event", "text": "y"})
        return (await asyncio.wait_for(memory.receive(channel), 5))["text"]

    assert asyncio.run(listen_and_publish()) == "y"
