"""Push delivery: each event crosses the channel layer once, and each socket process fans
it out to its own sockets.

Every socket process has ONE channel on the Channels layer (Redis pub/sub with REDIS_URL,
in memory without), joined to the group of each topic that one of its sockets listens to.
Publishing an event is one `group_send` to the topic's group (one PUBLISH on Redis), however
many sockets listen; the process's receive loop hands the frame to those of its sockets
that listen to the topic. The frame is the event's JSON text, encoded once. (A Channels
channel per socket, as consumers have by default, cost a task wake-up and a dispatch per
socket and event: a broadcast to 5,000 sockets took seconds; docs/performance.md.)

The frame is also made once per event into the bytes of a WebSocket text frame, and a
socket whose server takes prepared frames (PREPARED_FRAMES: realtime.wsprotocol, the
production socket server) gets those bytes written straight to its connection while it can
take them at once: no ASGI message, no re-encoding or framing per socket. Other servers (and
a socket that must wait) go through the consumer's ASGI send.

Each socket writes its frames in order; a socket whose write must wait gets a task of its
own, so a client that does not read holds up nobody else; one that lets MAX_PENDING_FRAMES
pile up is closed with 1013 (try again later: it reconnects and subscribes again). Who may
listen to a topic is decided when the socket subscribes (realtime.consumers); what reaches
a topic, by the publisher (realtime.events, the push services).

Push is best effort: an event published while a process is cut from Redis does not reach
that process's sockets; the Redis layer subscribes again when Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Generator, Iterable
from typing import Any, Protocol

from channels.layers import get_channel_layer
from websockets.frames import Frame, Opcode

from realtime.topics import Topic

logger = logging.getLogger("sogoms.push")
MAX_PENDING_FRAMES = 1000
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "try again later": the client reconnects and subscribes again
RESUBSCRIBE_SECONDS = 0.1  # the receive loop's pause after a failure
# The ASGI scope extension of a server that writes prepared frames: {"write": callable}, the
# callable taking the bytes of a whole server frame and answering whether it wrote them (it
# does only when the connection is open, uses no extension such as compression, and can
# take them without waiting).
PREPARED_FRAMES = "sogoms.websocket.prepared_frames"


class Listener(Protocol):
    """What the fan-out needs of a socket (PushConsumer)."""

    write_prepared: Callable[[bytes], bool] | None  # PREPARED_FRAMES' writer, if the server has one

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None: ...

    async def close(self, code: int | None = None, reason: str | None = None) -> None: ...


class Mailbox:
    """The frames one socket has still to write, written in order.

    An idle socket's frame is written at once, in the deliverer's own step: as prepared bytes
    when its server takes them, else by an ASGI send, which the server finishes without
    waiting unless the client's buffer is full; so a broadcast to thousands of sockets costs
    no task per socket. Only a send that must wait is handed to a task of the socket's own
    (`writer`), which then also writes the frames queued behind it.
    """

    __slots__ = ("frames", "socket", "write_prepared", "writer")

    def __init__(self, socket: Listener) -> None:
        self.socket = socket
        self.write_prepared = socket.write_prepared
        self.frames: deque[str] = deque()
        self.writer: asyncio.Task | None = None

    def put(self, text: str, frame: bytes) -> None:
        """Write `text` now, or queue it; `frame` is the same text as a server frame's bytes."""
        if self.writer is None:
            if self.write_prepared is not None and self.write_prepared(frame):
                return
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
_state: dict[str, Any] = {
    "topics": {},
    "mailboxes": {},
    "joining": {},
    "channel": None,
    "task": None,
    "loop": None,
}


async def join(topic: Topic, socket: Listener) -> None:
    """From here on the socket gets the frames of `topic`. The process's channel is in the
    topic's group before this returns (with Redis: subscribed), so an event published after
    the client is told (by its next pong) that it listens reaches it. Redis away: the
    layer's ConnectionError goes up, and the consumer closes the socket with 1013."""
    channel = await _process_channel()
    mailbox = _state["mailboxes"].get(socket)
    if mailbox is None:
        mailbox = _state["mailboxes"][socket] = Mailbox(socket)
    name = str(topic)  # the table's key: what a frame's message names
    listeners = _state["topics"].get(name)
    if listeners is None:
        # In the table before the layer is asked, so a leave meanwhile does not discard the
        # group; a join meanwhile waits for the same group_add.
        listeners = _state["topics"][name] = {}
        joined = _state["joining"][name] = asyncio.get_running_loop().create_future()
        try:
            await get_channel_layer().group_add(topic.group, channel)
            joined.set_result(None)
        except BaseException as exc:
            if not listeners:
                _state["topics"].pop(name, None)
            joined.set_exception(exc)
            joined.exception()  # retrieved: a join without company must not warn
            raise
        finally:
            _state["joining"].pop(name, None)
    elif name in _state["joining"]:
        await asyncio.shield(_state["joining"][name])
    listeners[socket] = mailbox


def leave(topic: Topic, socket: Listener) -> None:
    name = str(topic)
    listeners = _state["topics"].get(name)
    if listeners is not None:
        listeners.pop(socket, None)
        if not listeners and name not in _state["joining"]:
            del _state["topics"][name]
            _later(_discard_unless_joined(topic))


def leave_all(socket: Listener, topics: Iterable[Topic]) -> None:
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
    frame = text_frame(text)  # encoded and framed once, whatever the number of sockets
    for mailbox in list(listeners.values()):
        mailbox.put(text, frame)
    return len(listeners)


def text_frame(text: str) -> bytes:
    """The bytes of a whole, unmasked WebSocket text frame (RFC 6455) holding `text`."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def sockets_loop() -> asyncio.AbstractEventLoop | None:
    """The loop this process's sockets live on, once one has subscribed."""
    return _state["loop"]


async def _process_channel() -> str:
    """This process's channel on the layer, and the loop receiving from it (made once per
    loop: the state belongs to the sockets' loop; tests run several loops in turn)."""
    loop = asyncio.get_running_loop()
    if _state["loop"] is not loop:
        _state.update(topics={}, mailboxes={}, joining={}, channel=None, task=None, loop=loop)
    made: asyncio.Future | None = _state["channel"]
    if made is None:
        # One channel per loop, also when the first sockets join at once: they all wait for
        # the same one (two channels in one group would deliver each frame twice).
        made = _state["channel"] = loop.create_future()
        try:
            channel = await get_channel_layer().new_channel("push.process.")
        except BaseException as exc:
            _state["channel"] = None
            made.set_exception(exc)
            made.exception()  # retrieved: the sockets waiting on it get it raised
            raise
        made.set_result(channel)
        _state["task"] = loop.create_task(_receive(channel))
    return await asyncio.shield(made)


async def _receive(channel: str) -> None:
    """Hand each frame the layer brings to the local sockets of its topic."""
    layer = get_channel_layer()
    while True:
        try:
            message = await layer.receive(channel)
            deliver(message["topic"], message["text"])
        except asyncio.CancelledError:
            raise
        except Exception:  # a bad message or a lost connection must not end delivery for good
            logger.exception("the push receive loop failed; going on")
            await asyncio.sleep(RESUBSCRIBE_SECONDS)


async def _discard_unless_joined(topic: Topic) -> None:
    """Leave the topic's group, unless a socket of this process joined it again meanwhile."""
    if str(topic) not in _state["topics"]:
        channel = await asyncio.shield(_state["channel"])
        await get_channel_layer().group_discard(topic.group, channel)


def _later(coroutine: Coroutine[Any, Any, Any]) -> None:
    """Run a group change on the sockets' loop without waiting for it (a socket leaving)."""
    loop = _state["loop"]
    if loop is None or loop.is_closed():
        coroutine.close()
        return
    task = loop.create_task(coroutine)
    _tasks.add(task)  # a task nobody references may be collected mid-flight
    task.add_done_callback(_tasks.discard)


_tasks: set[asyncio.Task] = set()
