"""A publish made outside any server loop (a WSGI worker, a command) on `realtime.layer`.

The messages arrive, in order, and no thread is started per publish. On the Redis pub/sub
layer it is a PUBLISH on a blocking client, with no event loop at all (a loop round cost a
write several times the command's own CPU), sent by the process's one publisher thread so
the request does not wait for Redis; a PUBLISH Redis refuses is logged and counted, and
what is queued at exit is sent. On other layers it runs on the thread's own loop, kept
from one publish to the next.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import threading
import time
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
    # at most the process's one publisher (Redis), started by its first publish ever
    assert [thread.name for thread in started] in ([], ["sogoms-push-publisher"])


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


def _needs_redis() -> None:
    if not os.environ.get("REDIS_URL"):
        if os.environ.get("SOGOMS_REQUIRE_SERVICES"):
            pytest.fail("REDIS_URL is not set")
        pytest.skip("needs REDIS_URL (the Redis pub/sub layer)")


def test_on_redis_many_publishes_arrive_in_order_without_the_request_waiting_for_each(monkeypatch):
    _needs_redis()
    group = f"test-layer-{uuid.uuid4().hex}"
    receiver, received = _listen(group, 300)
    monkeypatch.setitem(layer._state, "loop", None)
    writers = [str(number) for number in range(300)]
    for text in writers:
        layer.group_send(group, {"type": "push.event", "text": text})
    receiver.join(15)

    assert received == writers


class _SilentServer:
    """Accepts connections and never answers: a Redis that stalls."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.sock.getsockname()[1]}/0"

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def test_a_publish_returns_before_redis_answers_and_a_refused_one_is_logged_and_counted(caplog):
    from sogoms_site.metrics import PUSH_PUBLISH_FAILURES

    server = _SilentServer()
    client = redis.Redis.from_url(server.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    publisher = layer.Publisher(client, "asgi")
    failures = PUSH_PUBLISH_FAILURES.labels("refused")._value.get()
    try:
        started = time.monotonic()
        with caplog.at_level(logging.ERROR, logger="sogoms.push"):
            publisher.put("asgi__group__silent", b"frame")
            returned = time.monotonic() - started
            assert publisher.flush(10)
    finally:
        server.close()

    assert returned < 0.2  # a blocking PUBLISH would have waited the 0.5 s timeout
    assert PUSH_PUBLISH_FAILURES.labels("refused")._value.get() == failures + 1
    assert "1 message(s) not published" in caplog.text


def _redis_listener(channel: str) -> redis.client.PubSub:
    """A plain Redis subscriber of `channel` (a pattern if it holds `*`), once subscribed."""
    _needs_redis()
    listener = redis.Redis.from_url(os.environ["REDIS_URL"]).pubsub()
    if "*" in channel:
        listener.psubscribe(channel)
    else:
        listener.subscribe(channel)
    assert listener.get_message(timeout=5)["type"] in ("subscribe", "psubscribe")
    return listener


def test_what_a_command_published_just_before_it_exits_is_sent():
    group = f"test-exit-{uuid.uuid4().hex}"
    # the command's channel prefix is its own (the test settings name it by process)
    listener = _redis_listener(f"*__group__{group}")
    script = (
        "import django, os\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'tests.settings')\n"
        "django.setup()\n"
        "from realtime import layer\n"
        f"layer.group_send({group!r}, {{'type': 'push.event', 'text': 'last'}})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    message = listener.get_message(timeout=5)
    listener.close()

    assert message is not None and message["channel"].decode().endswith(f"__group__{group}")
    assert get_channel_layer().deserialize(message["data"])["text"] == "last"


def test_past_the_queue_limit_a_publish_is_refused_logged_and_counted(monkeypatch, caplog):
    from sogoms_site.metrics import PUSH_PUBLISH_FAILURES

    monkeypatch.setattr(layer, "MAX_QUEUED", 2)
    server = _SilentServer()  # the first send stalls, so what follows waits in the queue
    client = redis.Redis.from_url(server.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    publisher = layer.Publisher(client, "asgi")
    full = PUSH_PUBLISH_FAILURES.labels("queue_full")._value.get()
    try:
        with caplog.at_level(logging.ERROR, logger="sogoms.push"):
            for number in range(4):
                publisher.put("asgi__group__stalled", str(number).encode())
            assert publisher.flush(10)
    finally:
        server.close()

    assert PUSH_PUBLISH_FAILURES.labels("queue_full")._value.get() == full + 2
    assert caplog.text.count("the queue is full") == 2


def test_a_forked_child_publishes_on_its_own_thread_even_if_forked_mid_put():
    group = f"test-fork-{uuid.uuid4().hex}"
    listener = _redis_listener(f"asgi__group__{group}")
    publisher = layer.Publisher(redis.Redis.from_url(os.environ["REDIS_URL"]), "asgi")
    publisher.put(f"asgi__group__{group}", b"parent")
    assert publisher.flush(5)
    with publisher._lock:  # a fork while another thread of the parent held the lock
        child = os.fork()
        if child == 0:  # the child: its own thread and queue, and a lock that is free
            try:
                publisher.put(f"asgi__group__{group}", b"child")
                os._exit(0 if publisher.flush(5) else 1)
            finally:
                os._exit(2)
    deadline = time.monotonic() + 15
    while (done := os.waitpid(child, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:  # stuck on the parent's lock
        os.kill(child, 9)
        os.waitpid(child, 0)
        pytest.fail("the forked child never published")
    status = done[1]
    messages = [listener.get_message(timeout=5) for _ in range(2)]
    listener.close()

    assert os.waitstatus_to_exitcode(status) == 0
    assert [message["data"] for message in messages if message] == [b"parent", b"child"]


def test_a_celery_pool_process_sends_its_queue_before_it_ends():
    # a pool process ends with os._exit (no atexit handler); Celery sends it
    # worker_process_shutdown first. Redis answers slowly here, so nothing is sent in time
    # unless the shutdown waits for it.
    group = f"test-pool-exit-{uuid.uuid4().hex}"
    listener = _redis_listener(f"*__group__{group}")
    script = (
        "import django, os, time\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'tests.settings')\n"
        "django.setup()\n"
        "from celery.signals import worker_process_shutdown\n"
        "from realtime import layer\n"
        "slow = layer.Publisher._send\n"
        "layer.Publisher._send = lambda self, batch: (time.sleep(0.5), slow(self, batch))\n"
        f"layer.group_send({group!r}, {{'type': 'push.event', 'text': 'last'}})\n"
        "worker_process_shutdown.send(sender=None, pid=os.getpid(), exitcode=0)\n"
        "os._exit(0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    message = listener.get_message(timeout=5)
    listener.close()

    assert message is not None, "the pool process ended without sending its queue"
    assert get_channel_layer().deserialize(message["data"])["text"] == "last"


def test_a_connection_redis_closed_is_opened_again_and_loses_nothing():
    # a Redis restart (or CLIENT KILL, a timeout on the server's side) closes the publisher
    # thread's connection; the next write on it fails, and its messages go out again
    from sogoms_site.metrics import PUSH_PUBLISH_FAILURES

    group = f"test-reconnect-{uuid.uuid4().hex}"
    listener = _redis_listener(f"asgi__group__{group}")
    name = f"publisher-{uuid.uuid4().hex}"
    publisher = layer.Publisher(redis.Redis.from_url(os.environ["REDIS_URL"], client_name=name), "asgi")
    admin = redis.Redis.from_url(os.environ["REDIS_URL"])
    failures = PUSH_PUBLISH_FAILURES.labels("refused")._value.get()
    publisher.put(f"asgi__group__{group}", b"before")
    assert publisher.flush(5)
    [connection] = [client for client in admin.client_list() if client["name"] == name]
    assert admin.client_kill_filter(_id=connection["id"]) == 1
    publisher.put(f"asgi__group__{group}", b"after")
    assert publisher.flush(5)
    messages = [listener.get_message(timeout=5) for _ in range(2)]
    listener.close()
    admin.close()

    assert [message["data"] for message in messages if message] == [b"before", b"after"]
    assert PUSH_PUBLISH_FAILURES.labels("refused")._value.get() == failures


def test_a_message_redis_refuses_is_lost_alone_and_the_rest_of_its_batch_arrives(caplog):
    from sogoms_site.metrics import PUSH_PUBLISH_FAILURES

    tag = uuid.uuid4().hex
    allowed, denied = f"asgi__group__ok-{tag}", f"asgi__group__no-{tag}"
    listener = _redis_listener(allowed)
    admin = redis.Redis.from_url(os.environ["REDIS_URL"])
    user = f"publisher-{tag}"
    # a user whose PUBLISH to any channel but the allowed one is refused (NOPERM)
    admin.execute_command("ACL", "SETUSER", user, "on", ">secret", "~*", f"&{allowed}", "+@all")
    client = redis.Redis.from_url(os.environ["REDIS_URL"], username=user, password="secret")
    publisher = layer.Publisher(client, "asgi")
    failures = PUSH_PUBLISH_FAILURES.labels("refused")._value.get()
    try:
        with caplog.at_level(logging.ERROR, logger="sogoms.push"):
            publisher._send([(allowed, b"first"), (denied, b"refused"), (allowed, b"last")])
        messages = [listener.get_message(timeout=5) for _ in range(2)]
    finally:
        listener.close()
        client.close()
        admin.execute_command("ACL", "DELUSER", user)
        admin.close()

    assert [message["data"] for message in messages if message] == [b"first", b"last"]
    assert PUSH_PUBLISH_FAILURES.labels("refused")._value.get() == failures + 1
    assert "1 message(s) not published: NoPermissionError: this user has no permissions" in caplog.text
