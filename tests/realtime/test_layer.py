"""A publish made outside any server loop (a WSGI worker, a command) on `realtime.layer`.

It runs to completion on the thread's own loop, kept from one publish to the next: the
messages arrive, in order, and no thread is started per publish (with Redis the layer
keeps its connections for that loop instead of opening one per publish).
"""

from __future__ import annotations

import threading
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from realtime import layer


def test_publishes_outside_a_server_loop_arrive_in_order_and_start_no_thread(monkeypatch):
    channels = get_channel_layer()
    group = f"test-layer-{uuid.uuid4().hex}"
    channel = async_to_sync(channels.new_channel)()
    async_to_sync(channels.group_add)(group, channel)
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

    async def three() -> list[str]:  # one loop: the Redis layer's receive belongs to one
        return [(await channels.receive(channel))["text"] for _ in range(3)]

    received = async_to_sync(three)()

    assert received == ["0", "1", "2"]
    assert started == []
    async_to_sync(channels.group_discard)(group, channel)
