"""Publishing push events: `publish`, `notify_user`, `broadcast` (keyword-only).

An event is one frame, `{"type": "event", "topic", "data", "id", "ts"}`, sent to the
sockets of the topic (through the channel layer to every socket process with Redis, to this
one without; each process fans it out: realtime.fanout)
and, when the tenant has an `mqtt:` block, to the same topic over MQTT. Nothing here waits for
delivery. A topic of another app, or a channel the app does not have, is refused with
`PushError`, a domain `InvalidInput` keyed by the field at fault (the API answers it as
VALIDATION_ERROR, the CLI prints it).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from realtime import layer, mqtt
from realtime.config import push_settings
from realtime.topics import Topic, TopicError, broadcast_topic, parse_topic, user_topic
from sogoms_site import metrics
from sogoms_site.api.envelope import render_json
from sogoms_site.errors import InvalidInput
from tenants.config import Tenant
from tenants.registry import registry

MAX_DATA_BYTES = 64 * 1024


class PushError(InvalidInput):
    """Input a publish refuses; `details` maps the field to its messages."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, details={field: [message]})


def publish(*, app: str, topic: str | Topic, data: Any = None) -> dict:
    """Send `data` on a topic of the app; returns the event frame that was sent."""
    tenant = _tenant(app)
    if isinstance(topic, str):
        try:
            topic = parse_topic(topic)
        except TopicError as exc:
            raise PushError("topic", str(exc)) from None
    if topic.app != tenant.app:
        raise PushError("topic", f"the topic belongs to another app than {tenant.app!r}")
    if topic.channel not in push_settings(tenant).channels:
        raise PushError("topic", f"{tenant.app} has no channel {topic.channel!r}")
    return _send(tenant, topic, data)


def notify_user(*, app: str, user_id: int, channel: str, data: Any = None) -> dict:
    """Send to one user: `<app>/user/<user_id>/<channel>`."""
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise PushError("user_id", "must be an integer")
    return publish(app=app, topic=_topic(lambda: user_topic(app, user_id, channel), "channel"), data=data)


def broadcast(*, app: str, channel: str, data: Any = None) -> dict:
    """Send to every user of the app who listens: `<app>/broadcast/<channel>`."""
    return publish(app=app, topic=_topic(lambda: broadcast_topic(app, channel), "channel"), data=data)


def _topic(make, field: str) -> Topic:
    try:
        return make()
    except TopicError as exc:
        raise PushError(field, str(exc)) from None


def _tenant(app: str) -> Tenant:
    tenant = registry().get(app)
    if tenant is None:
        raise PushError("app", f"unknown app {app!r}")
    return tenant


def event_frame(topic: Topic, data: Any) -> dict:
    return {
        "type": "event",
        "topic": str(topic),
        "data": data if data is not None else {},
        "id": uuid.uuid4().hex,
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def _send(tenant: Tenant, topic: Topic, data: Any) -> dict:
    frame = event_frame(topic, data)
    try:
        payload = render_json(frame)
    except (TypeError, ValueError):
        raise PushError("data", "must be JSON (objects, lists, strings, numbers, booleans, null)") from None
    if len(payload) > MAX_DATA_BYTES:
        raise PushError("data", f"is larger than {MAX_DATA_BYTES} bytes as JSON")
    # the frame travels as its JSON text: encoded once, whatever the number of sockets
    layer.publish(topic, payload.decode())
    metrics.push_published(tenant.app)
    mqtt.forward(tenant, topic, payload)
    return frame
