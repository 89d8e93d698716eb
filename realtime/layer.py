"""Handing a message to the channel layer from wherever a publish happens.

A publish may come from the server's event loop, from a sync view running in a worker
thread, or from a command with no loop at all. The in-memory layer's queues belong to
the server's loop and are not thread-safe, so a publish from another thread is handed
to that loop (`run_coroutine_threadsafe`) instead of running on a loop of its own; that
also keeps the request from waiting on delivery. Without a server loop in the process
(a command, a worker, a WSGI server) the publish is done here. On the Redis pub/sub layer
that is a PUBLISH on a plain (blocking) connection: the message the layer's own `group_send`
would send, to the channel it would send it to, without the round of an event loop (about
180 us of a write's CPU, against 50 us). The request does not wait for Redis's answer: one
thread per process sends what the request threads queued, in order, as many PUBLISHes as
have queued in one write on a connection of its own (a fifth of a MariaDB write's time
under load had been the wait for that answer). A publish Redis refuses is logged and counted
(`sogoms_push_publish_failures`), as a failed subscriber is; at exit (and at a Celery pool
process's shutdown, which runs no atexit handler) the queue is sent first. Any other layer
runs on an event loop kept per thread: a new loop (and thread) per publish cost about 1.5
ms per write.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import queue
import threading
import time
from concurrent.futures import Future
from typing import Any

import redis
from celery.signals import worker_process_shutdown
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer

from realtime.topics import Topic
from sogoms_site import metrics

logger = logging.getLogger("sogoms.push")
_state: dict = {"loop": None, "tasks": set()}
_own = threading.local()  # .loop: this thread's loop for publishes outside any server loop
# The publisher of a Redis pub/sub layer, per layer object (settings may be swapped in
# tests): (layer, publisher), or None for a layer it cannot serve.
_blocking: dict[str, Any] = {"layer": None, "target": None}
# Messages queued and not yet sent past which a publish is refused (Redis stalled): memory
# stays bounded, and the loss is logged and counted like a failed PUBLISH.
MAX_QUEUED = 100_000
PIPELINE_LIMIT = 1_000
EXIT_FLUSH_SECONDS = 5.0


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
    publisher = _blocking_target(layer)
    if publisher is not None:
        publisher.put(f"{publisher.prefix}__group__{group}", layer.serialize(message))
        return
    loop = _state["loop"]
    if loop is not None and loop.is_running():
        asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).add_done_callback(_failed)
        return
    _thread_loop().run_until_complete(layer.group_send(group, message))


class Publisher:
    """The PUBLISHes of this process's request threads, sent by one thread of its own.

    `put` queues and returns; the thread sends everything queued since its last round in
    one pipeline, so the order of publishes is kept and a busy process makes fewer round
    trips than publishes. The thread is started by the first `put` of each process (a
    forked worker gets its own).
    """

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        # a C queue: a put wakes the thread by releasing a lock, where a Condition's notify
        # had been a twentieth of a write's own time under load
        self._queue: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._queued = 0  # put since start (under the lock)
        self._done = 0  # sent or refused since start (by the thread alone)
        self._lock = threading.Lock()
        self._pid = 0
        self._conn: Any = None  # the thread's own connection (_connection)
        # a child forked while a thread held the lock would wait on it forever
        os.register_at_fork(after_in_child=self._forget_the_parent)

    def _forget_the_parent(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0  # the next put starts this process's own thread and queue
        self._conn = None  # the parent's socket: the child's thread opens its own

    def put(self, channel: str, payload: bytes) -> None:
        if self._pid != os.getpid():
            self._start()
        with self._lock:
            full = self._queued - self._done >= MAX_QUEUED
            if not full:
                self._queued += 1
                self._queue.put((channel, payload))
        if full:
            _lost(1, "queue_full", "the queue is full (Redis does not keep up)")

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued was sent (or refused); False if time ran out."""
        deadline = time.monotonic() + timeout
        while self._done < self._queued:
            if time.monotonic() >= deadline or self._pid != os.getpid():
                return False
            time.sleep(0.005)  # at exit and in tests only
        return True

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return  # another thread of this process started it meanwhile
            # a forked child's copy of its parent's queue is the parent's to send
            self._queue = queue.SimpleQueue()
            self._queued = self._done = 0
            threading.Thread(target=self._run, name="sogoms-push-publisher", daemon=True).start()
            self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < PIPELINE_LIMIT:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._send(batch)
            finally:
                self._done += len(batch)

    def _send(self, batch: list[tuple[str, bytes]]) -> None:
        """PUBLISH the batch, in order, in one write on the thread's own connection.

        A connection Redis closed since its last use (a restart) fails on the first write
        after it: the messages it did not answer are sent once more on a new connection.
        A message Redis refuses, and every message not yet answered when the batch fails
        otherwise (a timeout, Redis down), is lost: logged and counted."""
        pending, retried, refused = batch, False, []
        try:
            while pending:
                connection = self._connection()
                answered = 0
                try:
                    commands = [("PUBLISH", channel, payload) for channel, payload in pending]
                    connection.send_packed_command(connection.pack_commands(commands))
                    for _ in pending:
                        try:
                            connection.read_response()
                        except redis.ResponseError as exc:  # this message refused; its reply is read
                            refused.append(exc)
                        answered += 1
                    return
                except Exception as exc:  # the thread must outlive any one failure
                    connection.disconnect()
                    pending = pending[answered:]
                    if not retried and isinstance(exc, redis.ConnectionError):
                        retried = True
                        continue
                    _lost(len(pending), "refused", _why(exc))
                    return
        finally:
            if refused:
                _lost(len(refused), "refused", _why(refused[0]))

    def _connection(self) -> Any:
        """The thread's connection to Redis, made by the client's pool with the client's
        settings and held for the thread's life: a PUBLISH on the client itself (the
        pool's checkout and return, its retry wrapper) took three times the instructions."""
        if self._conn is None:
            self._conn = self.client.connection_pool.make_connection()
        return self._conn


def flush_at_exit(**_signal_arguments: Any) -> None:
    """Send what this process's publisher still holds before the process ends."""
    publisher = _blocking["target"]
    if publisher is not None and not publisher.flush(EXIT_FLUSH_SECONDS):
        logger.warning("push messages were still unsent after %g s at exit", EXIT_FLUSH_SECONDS)


# Nothing to do in a process that published nothing. A Celery pool process ends with
# os._exit, which runs no atexit handler: it has its own signal (as realtime.mqtt's bridges).
atexit.register(flush_at_exit)
worker_process_shutdown.connect(flush_at_exit, weak=False)


def _why(exc: BaseException) -> str:
    """The error's class and message (redis-py's own repr leaves the message out)."""
    return f"{type(exc).__name__}: {exc}"


def _lost(count: int, reason: str, why: str) -> None:
    logger.error("push to the channel layer failed: %d message(s) not published: %s", count, why)
    metrics.push_publish_failed(count, reason)


def _blocking_target(layer: Any) -> Publisher | None:
    """The publisher, on a blocking client, of a one-server Redis pub/sub layer.

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
                host["address"],
                health_check_interval=host.get("health_check_interval", 0),
                # a stalled server fails the batch (logged, counted) instead of the thread
                socket_timeout=5,
                socket_connect_timeout=5,
            )
            target = Publisher(client, config.get("prefix", "asgi"))
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
    error = None if task.cancelled() else task.exception()
    if error is not None:
        logger.error("push to the channel layer failed: %s", _why(error))


def _failed(future: Future) -> None:
    error = None if future.cancelled() else future.exception()
    if error is not None:
        logger.error("push to the channel layer failed: %s", _why(error))
