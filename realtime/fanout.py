"""Push delivery: each event crosses Redis once, and each socket process fans it out itself.

With Redis, publishing an event is one PUBLISH on the deployment's push channel
(`SOGOMS_PUSH_CHANNEL`), whatever the number of its subscribers; every socket process holds
one subscription to that channel and hands the frame to those of its own sockets that
listen to the event's topic. Without Redis (the embedded default), the frame goes straight
to the sockets of this process. The frame is the event's JSON text, encoded once.

Each socket writes its frames in order on a task of its own, so a client that does not
read holds up nobody else; one that lets MAX_PENDING_FRAMES pile up is closed with 1013
(try again later: it reconnects and subscribes again). Who may listen to a topic is
decided when the socket subscribes (realtime.consumers); what reaches a topic, by the
publisher (realtime.events, the push services).

Push is best effort: an event published while a process is cut from Redis does not reach
that process's sockets. Its subscription is made again, and the sockets keep theirs, since
they live here and not in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Coroutine, Generator
from typing import Any, Protocol

import redis
import redis.asyncio
from django.conf import settings

logger = logging.getLogger("sogoms.push")
MAX_PENDING_FRAMES = 1000
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "try again later": the client reconnects and subscribes again
# After a lost subscription: wait this long before subscribing again, doubling up to the cap.
RESUBSCRIBE_SECONDS, RESUBSCRIBE_MAX_SECONDS = 0.1, 2.0
SUBSCRIBED_WITHIN_SECONDS = 5.0  # a subscribe frame waits this long for a lost subscription


class Listener(Protocol):
    """What the fan-out needs of a socket (PushConsumer)."""

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None: ...

    async def close(self, code: int | None = None, reason: str | None = None) -> None: ...


class Mailbox:
    """The frames one socket has still to write, written in order.

    An idle socket's frame is written at once, in the deliverer's own step: the ASGI server
    finishes a send without waiting unless the client's buffer is full, so a broadcast to
    thousands of sockets costs no task per socket. Only a send that must wait is handed to
    a task of the socket's own (`writer`), which then also writes the frames queued behind it.
    """

    __slots__ = ("frames", "socket", "writer")

    def __init__(self, socket: Listener) -> None:
        self.socket = socket
        self.frames: deque[str] = deque()
        self.writer: asyncio.Task | None = None

    def put(self, text: str) -> None:
        if self.writer is None:
            waiting = _begin(self.socket.send(text_data=text))
            if waiting is not None:
                self.writer = asyncio.get_running_loop().create_task(self._write(waiting))
            return
        if len(self.frames) >= MAX_PENDING_FRAMES:
            if self.frames[-1] is not _CLOSING:
                self.frames.clear()
                self.frames.append(_CLOSING)  # the writer closes the socket after its current frame
            return
        self.frames.append(text)

    async def _write(self, begun: _Begun) -> None:
        try:
            await begun
            while self.frames:
                text = self.frames.popleft()
                if text is _CLOSING:
                    logger.warning("a push socket fell %d frames behind; closing it", MAX_PENDING_FRAMES)
                    await self.socket.close(code=CLOSE_TRY_AGAIN, reason="too many events waiting; reconnect")
                    return
                await self.socket.send(text_data=text)
        except Exception:  # the client went away mid-write: its disconnect cleans up
            logger.debug("a push frame could not be written", exc_info=True)
        finally:
            self.writer = None

    def stop(self) -> None:
        self.frames.clear()
        if self.writer is not None:
            self.writer.cancel()


def _begin(coroutine: Coroutine[Any, Any, Any]) -> _Begun | None:
    """Run `coroutine` until it ends (None) or must wait (what is left of it, to await)."""
    try:
        waiting = coroutine.send(None)
    except StopIteration:
        return None
    except Exception:  # the client went away: its disconnect cleans up
        logger.debug("a push frame could not be written", exc_info=True)
        return None
    return _Begun(coroutine, waiting)


class _Begun:
    """A coroutine begun outside any task that now waits on a future: awaiting this (in a
    task) lets it wait there and carries it to its end, as if it had run in that task."""

    __slots__ = ("coroutine", "waiting")

    def __init__(self, coroutine: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self.coroutine, self.waiting = coroutine, waiting

    def __await__(self) -> Generator[Any, Any, None]:
        yielded = self.waiting
        while True:
            try:
                answer = yield yielded
            except BaseException as exc:  # cancelled (the socket closed): the coroutine ends its way
                try:
                    yielded = self.coroutine.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    yielded = self.coroutine.send(answer)
                except StopIteration:
                    return


_CLOSING = "\0close"  # a marker no frame can be (frames are JSON objects)
# topic -> {socket: mailbox}, the listener task, its loop and its "subscribed" event.
_state: dict[str, Any] = {"topics": {}, "mailboxes": {}, "task": None, "loop": None, "ready": None}


def redis_url() -> str:
    return settings.REDIS_URL or ""


async def join(topic: str, socket: Listener) -> None:
    """From here on the socket gets the frames of `topic` (once this process hears Redis)."""
    _for_this_loop()
    mailbox = _state["mailboxes"].get(socket)
    if mailbox is None:
        mailbox = _state["mailboxes"][socket] = Mailbox(socket)
    _state["topics"].setdefault(topic, {})[socket] = mailbox
    if redis_url():
        # The subscription must be in place before the client is told (by its next pong)
        # that it listens: an event published after that reaches it. Redis away for long:
        # the consumer closes the socket with 1013 for the client to try again later.
        try:
            await asyncio.wait_for(_state["ready"].wait(), SUBSCRIBED_WITHIN_SECONDS)
        except TimeoutError:
            raise redis.ConnectionError("the push subscription to Redis is not in place") from None


def leave(topic: str, socket: Listener) -> None:
    listeners = _state["topics"].get(topic)
    if listeners is not None:
        listeners.pop(socket, None)
        if not listeners:
            del _state["topics"][topic]


def leave_all(socket: Listener, topics: list[str]) -> None:
    for topic in topics:
        leave(topic, socket)
    mailbox = _state["mailboxes"].pop(socket, None)
    if mailbox is not None:
        mailbox.stop()


def deliver(topic: str, text: str) -> int:
    """On the sockets' loop: queue the frame for every local socket of the topic."""
    listeners = _state["topics"].get(topic)
    if not listeners:
        return 0
    for mailbox in list(listeners.values()):
        mailbox.put(text)
    return len(listeners)


def sockets_loop() -> asyncio.AbstractEventLoop | None:
    """The loop this process's sockets live on, once one has subscribed."""
    return _state["loop"]


def _for_this_loop() -> None:
    """The state belongs to the loop of the sockets (tests run several loops in turn)."""
    loop = asyncio.get_running_loop()
    task = _state["task"]
    if _state["loop"] is loop and (not redis_url() or (task is not None and not task.done())):
        return
    if _state["loop"] is not loop:
        _state["topics"], _state["mailboxes"] = {}, {}
    _state["loop"] = loop
    if redis_url():
        _state["ready"] = asyncio.Event()
        _state["task"] = loop.create_task(_listen(_state["ready"]))


async def _listen(ready: asyncio.Event) -> None:
    """One subscription for the process; made again (after a pause) whenever it is lost."""
    channel = settings.SOGOMS_PUSH_CHANNEL
    pause = RESUBSCRIBE_SECONDS
    while True:
        client = redis.asyncio.Redis.from_url(redis_url(), socket_connect_timeout=2)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(channel)
            while (confirmed := await pubsub.get_message(timeout=5)) is None or confirmed[
                "type"
            ] != "subscribe":
                pass
            ready.set()
            pause = RESUBSCRIBE_SECONDS
            async for message in pubsub.listen():
                if message["type"] == "message":
                    topic, _, text = message["data"].decode().partition("\n")
                    deliver(topic, text)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            if ready.is_set():
                logger.warning("the push subscription lost Redis (%s); subscribing again", exc)
            ready.clear()
        except Exception:  # a bad message must not end delivery for good
            logger.exception("the push subscription failed; subscribing again")
            ready.clear()
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
                await client.aclose()
        await asyncio.sleep(pause)
        pause = min(pause * 2, RESUBSCRIBE_MAX_SECONDS)


_publisher: dict[str, redis.Redis] = {}


def publish_to_processes(topic: str, text: str) -> None:
    """Through Redis, to every socket process (this one too). Blocks for one round trip."""
    url = redis_url()
    client = _publisher.get(url)
    if client is None:
        client = _publisher[url] = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=1
        )
    try:
        client.publish(settings.SOGOMS_PUSH_CHANNEL, f"{topic}\n{text}")
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        logger.error("a push event could not reach Redis: %s", exc)
