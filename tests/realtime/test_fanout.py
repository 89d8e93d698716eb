"""The fan-out of push events in a socket process (realtime.fanout).

Through the real socket and the push services (on the Redis channel layer when REDIS_URL
is set, the in-memory one otherwise): a user's event reaches that user only, a broadcast every listener of
its app and no other app's. Then the fan-out's own promises, on stand-in sockets whose
writes can be held: a client that does not read holds up nobody else, its frames keep
their order, and one that falls MAX_PENDING_FRAMES behind is closed with 1013.
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from realtime import fanout, layer, services
from realtime.topics import Topic, parse_topic
from tests.realtime.conftest import access_token, close_code, frame, open_socket, run, subscribe
from tests.realtime.servers import free_port


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_users_event_and_a_broadcast_reach_exactly_their_listeners(alpha, beta, alice, bob, charlie):
    async def scenario():
        sockets = {
            "alice": await open_socket("alpha.test", access_token(alpha, alice)),
            "bob": await open_socket("alpha.test", access_token(alpha, bob)),
            "charlie": await open_socket("beta.test", access_token(beta, charlie), path="/v1/ws"),
        }
        await subscribe(
            sockets["alice"], f"alpha/user/{alice.id}/notifications", "alpha/broadcast/notifications"
        )
        await subscribe(sockets["bob"], f"alpha/user/{bob.id}/notifications", "alpha/broadcast/notifications")
        await subscribe(
            sockets["charlie"], f"beta/user/{charlie.id}/notifications", "beta/broadcast/notifications"
        )
        await sync_to_async(services.notify_user)(
            app="alpha", user_id=alice.id, channel="notifications", data=1
        )
        await sync_to_async(services.broadcast)(app="alpha", channel="notifications", data=2)
        await sync_to_async(services.broadcast)(app="beta", channel="notifications", data=3)
        heard = {}
        for name, socket_ in sockets.items():
            frames = []
            while not await socket_.receive_nothing(timeout=0.5):
                frames.append(await frame(socket_))
            heard[name] = [(item["topic"], item["data"]) for item in frames]
            await socket_.disconnect()
        return heard

    heard = run(scenario())
    assert heard["alice"] == [
        (f"alpha/user/{alice.id}/notifications", 1),
        ("alpha/broadcast/notifications", 2),
    ]
    assert heard["bob"] == [("alpha/broadcast/notifications", 2)]
    assert heard["charlie"] == [("beta/broadcast/notifications", 3)]


class StandInSocket:
    """Records what is written to it; while `held`, a write waits (a client not reading)."""

    write_prepared = None  # its frames go through the ASGI send (tests of prepared frames below)

    def __init__(self) -> None:
        self.written: list[str] = []
        self.closed_with: int | None = None
        self.held = asyncio.Event()
        self.held.set()

    async def send(self, text_data: str | None = None) -> None:
        await self.held.wait()
        self.written.append(str(text_data))

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        self.closed_with = code


def test_a_client_that_does_not_read_holds_up_nobody_and_gets_its_frames_in_order(in_process):
    async def scenario():
        slow, quick = StandInSocket(), StandInSocket()
        slow.held.clear()
        for socket_ in (slow, quick):
            await fanout.join(parse_topic("alpha/broadcast/news"), socket_)
        for number in range(3):
            fanout.deliver("alpha/broadcast/news", f"frame {number}")
        quick_at_once, slow_at_once = list(quick.written), list(slow.written)
        slow.held.set()
        for _ in range(10):
            await asyncio.sleep(0)
        fanout.leave_all(slow, [parse_topic("alpha/broadcast/news")])
        fanout.leave_all(quick, [parse_topic("alpha/broadcast/news")])
        return quick_at_once, slow_at_once, slow.written

    quick_at_once, slow_at_once, slow_later = run(scenario())
    assert quick_at_once == ["frame 0", "frame 1", "frame 2"]  # written in the deliverer's own step
    assert slow_at_once == []
    assert slow_later == ["frame 0", "frame 1", "frame 2"]


def test_a_client_too_far_behind_is_closed_with_try_again_later(in_process):
    async def scenario():
        slow = StandInSocket()
        slow.held.clear()
        await fanout.join(parse_topic("alpha/user/1/news"), slow)
        for number in range(fanout.MAX_PENDING_FRAMES + 2):
            fanout.deliver("alpha/user/1/news", f"frame {number}")
        slow.held.set()
        for _ in range(10):
            await asyncio.sleep(0)
        fanout.leave_all(slow, [parse_topic("alpha/user/1/news")])
        return slow

    slow = run(scenario())
    assert slow.closed_with == fanout.CLOSE_TRY_AGAIN
    assert slow.written == ["frame 0"]  # the write in flight; the backlog was dropped with the socket


def test_a_socket_that_left_gets_nothing_more(in_process):
    async def scenario():
        socket_ = StandInSocket()
        await fanout.join(parse_topic("alpha/user/1/news"), socket_)
        reached_before = fanout.deliver("alpha/user/1/news", "before")
        fanout.leave_all(socket_, [parse_topic("alpha/user/1/news")])
        reached_after = fanout.deliver("alpha/user/1/news", "after")
        return reached_before, reached_after, socket_.written

    assert run(scenario()) == (1, 0, ["before"])


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_subscription_while_redis_is_away_closes_the_socket_with_try_again_later(settings, alpha, alice):
    away = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": away, "socket_connect_timeout": 0.5}]},
        }
    }

    async def scenario():
        socket_ = await open_socket("alpha.test", access_token(alpha, alice))
        await socket_.send_to(
            text_data=f'{{"type":"subscribe","topic":"alpha/user/{alice.id}/notifications"}}'
        )
        return await close_code(socket_)

    assert run(scenario()) == fanout.CLOSE_TRY_AGAIN


async def heard(socket_: StandInSocket, topic: Topic, text: str) -> list[str]:
    """Publish `text` on `topic` as the push services do, let the fan-out run, then leave:
    what the socket was written."""
    layer.publish(topic, text)
    for _ in range(20):
        await asyncio.sleep(0.01)
    fanout.leave_all(socket_, [topic])
    return socket_.written


def test_a_topic_left_and_joined_again_at_once_keeps_its_group(in_process):
    """The last socket of a topic leaves (its group's discard is scheduled) and another
    joins before that runs: the process stays in the group and hears the next event."""
    topic = parse_topic("alpha/broadcast/news")

    async def scenario():
        first, second = StandInSocket(), StandInSocket()
        await fanout.join(topic, first)
        fanout.leave_all(first, [topic])
        await fanout.join(topic, second)
        for _ in range(5):
            await asyncio.sleep(0)  # the scheduled discard runs here
        return await heard(second, topic, "after")

    assert run(scenario()) == ["after"]


def test_sockets_joining_at_once_on_a_fresh_process_share_one_channel(in_process, monkeypatch):
    """Two channels of one process in a group would hand every frame over twice."""
    topic = parse_topic("alpha/broadcast/news")
    channel_layer = get_channel_layer()
    new_channel = channel_layer.new_channel

    async def slow_new_channel(*args, **kwargs):  # as the Redis layer's, which subscribes first
        await asyncio.sleep(0.01)
        return await new_channel(*args, **kwargs)

    monkeypatch.setattr(channel_layer, "new_channel", slow_new_channel)

    async def scenario():
        sockets = [StandInSocket() for _ in range(5)]
        await asyncio.gather(*(fanout.join(topic, socket_) for socket_ in sockets))
        for socket_ in sockets:
            fanout.leave_all(socket_, [topic])
        for _ in range(5):
            await asyncio.sleep(0)
        again = StandInSocket()
        await fanout.join(topic, again)
        return await heard(again, topic, "once")

    assert run(scenario()) == ["once"]
