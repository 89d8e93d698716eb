"""The push socket: subscribe / unsubscribe / ping frames in, event / pong / error out.

Thin on purpose: the tenant and the principal come from TenantSocketMiddleware, the
database is read only by `realtime.auth` and `realtime.watch`, and each client frame
type has its handler (`on_<type>`). A socket lives no longer than its token and its session:
it is closed at `exp`, when the process's watch (realtime.watch) finds its session ended,
and at the first frame after its user was disabled; each frame sees the user's current role.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

import redis
from channels.generic.websocket import AsyncWebsocketConsumer
from typing_extensions import override

from realtime import fanout, watch
from realtime.auth import CLOSE_UNAUTHORIZED, SUBPROTOCOL, Refusal, recheck
from realtime.config import push_settings
from realtime.fanout import CLOSE_TRY_AGAIN, PREPARED_FRAMES
from realtime.topics import Topic, TopicError, parse_topic
from sogoms_site import metrics

logger = logging.getLogger("sogoms.push")
MAX_FRAME_CHARS = 8192
MAX_SUBSCRIPTIONS = 200
# Going away (RFC 6455): the server process stops (a deploy, a restart); the client reconnects.
CLOSE_GOING_AWAY = 1001
_open: set[PushConsumer] = set()  # this process's accepted sockets, closed when it stops


class PushConsumer(AsyncWebsocketConsumer):
    # No channel of its own on the layer: frames reach the socket through its process's one
    # channel and fan-out (realtime.fanout); a channel per socket would cost a Redis
    # subscription and a waiting task each. An alias with no layer gives Channels none.
    channel_layer_alias = "sockets-take-frames-from-the-process-fan-out"
    # The server's writer of prepared frames (fanout.PREPARED_FRAMES), when it has one.
    write_prepared: Callable[[bytes], bool] | None = None

    @override
    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # Redis went away under a frame (a restart): "try again later" (RFC 6455).
            logger.warning("a socket lost Redis (%s); closing it with %d", exc, CLOSE_TRY_AGAIN)
            await self._forget()
            try:
                await self.close(code=CLOSE_TRY_AGAIN, reason="the server lost Redis; reconnect")
            except Exception:  # the client may be gone already
                logger.debug("the socket was closed already")

    async def connect(self) -> None:
        refusal = self.scope["refusal"]
        # Accept first: a code sent before the handshake completes never reaches the client.
        await self.accept(subprotocol=SUBPROTOCOL if self.scope["bearer_subprotocol"] else None)
        if refusal is not None:
            await self.close(code=refusal.code, reason=refusal.reason)
            return
        self.write_prepared = self.scope.get("extensions", {}).get(PREPARED_FRAMES, {}).get("write")
        self.tenant = self.scope["tenant"]
        self.principal = self.scope["principal"]
        self.topics: dict[str, Topic] = {}
        self.expiry = asyncio.create_task(self._close_at_expiry())
        watch.watch(self)
        _open.add(self)
        metrics.push_opened(self, self.tenant.app)

    async def _forget(self) -> None:
        expiry = getattr(self, "expiry", None)
        if expiry is not None:
            expiry.cancel()
        _open.discard(self)
        watch.unwatch(self)
        fanout.leave_all(self, list(getattr(self, "topics", {}).values()))
        metrics.push_closed(self)

    @override
    async def disconnect(self, code: int) -> None:
        await self._forget()

    @override
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.scope["refusal"] is not None:
            return
        checked = await recheck(self.principal, self.tenant)
        if isinstance(checked, Refusal):
            await self.close(code=checked.code, reason=checked.reason)
            return
        self.principal = checked
        if text_data is None or len(text_data) > MAX_FRAME_CHARS:
            await self._error("VALIDATION_ERROR", f"frames are JSON text of at most {MAX_FRAME_CHARS} chars")
            return
        try:
            frame = json.loads(text_data)
        except ValueError:
            await self._error("VALIDATION_ERROR", "the frame is not valid JSON")
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        handler = {"subscribe": self.on_subscribe, "unsubscribe": self.on_unsubscribe, "ping": self.on_ping}
        if kind not in handler:
            await self._error("VALIDATION_ERROR", "type must be subscribe, unsubscribe or ping")
            return
        await handler[kind](frame)

    async def on_subscribe(self, frame: dict) -> None:
        topic = await self._allowed_topic(frame.get("topic"))
        if topic is None or str(topic) in self.topics:
            return
        if len(self.topics) >= MAX_SUBSCRIPTIONS:
            await self._error("VALIDATION_ERROR", f"at most {MAX_SUBSCRIPTIONS} subscriptions per socket")
            return
        self.topics[str(topic)] = topic
        await fanout.join(topic, self)

    async def on_unsubscribe(self, frame: dict) -> None:
        topic = self.topics.pop(str(frame.get("topic")), None)
        if topic is not None:
            fanout.leave(topic, self)

    async def on_ping(self, _frame: dict) -> None:
        # Frames are handled in order: a pong also says every earlier frame was applied.
        await self.send(text_data='{"type":"pong"}')

    async def _allowed_topic(self, text: object) -> Topic | None:
        try:
            topic = parse_topic(text)
        except TopicError as exc:
            await self._error("VALIDATION_ERROR", str(exc))
            return None
        if topic.app != self.tenant.app:
            await self._error("FORBIDDEN", "the topic belongs to another app")
            return None
        if topic.user_id is not None and topic.user_id != self.principal.id:
            await self._error("FORBIDDEN", "the topic belongs to another user")
            return None
        if topic.channel not in push_settings(self.tenant).channels:
            await self._error("NOT_FOUND", f"{self.tenant.app} has no channel {topic.channel!r}")
            return None
        return topic

    async def _close_at_expiry(self) -> None:
        expires = self.principal.expires_at
        if expires is None:
            return
        while (left := expires.timestamp() - time.time()) > 0:
            await asyncio.sleep(left)
        await self.close(code=CLOSE_UNAUTHORIZED, reason="the token has expired")

    async def _error(self, code: str, message: str) -> None:
        frame = {"type": "error", "code": code, "message": message}
        await self.send(text_data=json.dumps(frame, ensure_ascii=False, separators=(",", ":")))


async def close_all_going_away(timeout: float) -> int:
    """Close every open socket of this process with 1001, waiting at most `timeout` s for
    the closing handshakes; the number closed. The socket server calls it when it stops,
    before the server's own close (1012) would reach the clients."""
    consumers = list(_open)
    if consumers:
        await asyncio.wait([asyncio.ensure_future(_go_away(c)) for c in consumers], timeout=timeout)
    return len(consumers)


async def _go_away(consumer: PushConsumer) -> None:
    try:
        await consumer.close(code=CLOSE_GOING_AWAY, reason="the server is stopping; reconnect")
    except Exception:  # the client may be gone already
        logger.debug("a socket was closed already when the server stopped")
