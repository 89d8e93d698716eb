"""A publish made outside any server loop (a WSGI worker, a command) on `realtime.layer`.

It runs to completion on the thread's own loop, kept from one publish to the next: the
messages arrive, in order, and no thread is started per publish (with Redis the layer
keeps its connections for that loop instead of opening one per publish).
"""

from __future__ import annotations

import asyncio
import threading
import uuid

from channels.layers import get_channel_layer

from realtime import layer


def test_publishes_outside_a_server_loop_arrive_in_order_and_start_no_thread(monkeypatch):
    channels = get_channel_layer()
    group = f"test-layer-{uuid.uuid4().hex}"
    ready = threading.Event()
    received: list[str] = []

    def receive_three() -> None:
        """A socket's side, on a loop of its own (the Redis layer's channels belong to one)."""

        async def run() -> None:
            channel = await channels.new_channel()
            await channels.group_add(group, channel)
            ready.set()
            deadline = asyncio.get_running_loop().time() + 10
            while len(received) < 3 and asyncio.get_running_loop().time() < deadline:
                # short waits: the in-memory layer's queue belongs to this loop and is not
                # woken by a put from the publisher's loop; a new wait finds the message
                try:
                    received.append((await asyncio.wait_for(channels.receive(channel), 0.1))["text"])
                except TimeoutError:
                    continue
            await channels.group_discard(group, channel)

        asyncio.run(run())

    receiver = threading.Thread(target=receive_three)
    receiver.start()
    assert ready.wait(10)
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
