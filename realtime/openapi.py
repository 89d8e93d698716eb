"""The OpenAPI description of push: `<base>/_push/*` and the socket at `<base>/ws`.

Registered by RealtimeConfig.ready() as a provider of the tenant's OpenAPI document
(sogoms_site.api.openapi). The socket is not an HTTP operation, so OpenAPI 3.0 cannot
describe it as a path: it is the document's `x-websocket` entry (URL, authentication,
topics, the frames both ways as JSON schemas, close codes, limits), and the `push` tag's
description tells people reading Swagger UI where it is.
"""

from __future__ import annotations

from typing import Any

from realtime.auth import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_UNAUTHORIZED, SUBPROTOCOL
from realtime.config import push_settings
from realtime.consumers import MAX_FRAME_CHARS, MAX_SUBSCRIPTIONS
from realtime.services import MAX_DATA_BYTES
from realtime.topics import MAX_TOPIC_LENGTH
from realtime.views import BroadcastInput, NotifyInput, PublishInput
from sogoms_site.api.openapi import OpenApiPart, envelope, json_body, ref, responses, serializer_schema
from tenants.config import Tenant

TAG = "push"
PUBLISHING = ("400", "401", "403", "413", "415", "500")
ERROR_CODES = ("VALIDATION_ERROR", "FORBIDDEN", "NOT_FOUND")


def push_paths(tenant: Tenant) -> OpenApiPart:
    """The provider: the publishing endpoints, the socket, and the frame schemas."""
    actions = {
        "publish": (PublishInput, "Publish an event on a topic of this app"),
        "notify": (NotifyInput, "Publish an event to one user: topic <app>/user/<user_id>/<channel>"),
        "broadcast": (BroadcastInput, "Publish an event to every user: topic <app>/broadcast/<channel>"),
    }
    paths: dict[str, dict[str, Any]] = {}
    for action, (serializer, summary) in actions.items():
        body = serializer_schema(serializer)
        body["properties"]["data"]["description"] = f"any JSON (default {{}}), at most {MAX_DATA_BYTES} bytes"
        paths[f"/_push/{action}"] = {
            "post": {
                "tags": [TAG],
                "operationId": f"push_{action}",
                "summary": f"{summary} (role admin)",
                "requestBody": json_body(body),
                "responses": responses("202", envelope(ref("PushPublished")), "published", PUBLISHING),
            }
        }
    published = {
        "type": "object",
        "required": ["topic", "id", "ts"],
        "properties": {
            "topic": {"type": "string"},
            "id": {"type": "string"},
            "ts": {"type": "string", "format": "date-time"},
        },
    }
    return OpenApiPart(
        paths=paths,
        schemas={"PushPublished": published, **_frame_schemas()},
        tags=[{"name": TAG, "description": _socket_summary(tenant)}],
        extensions={"x-websocket": _socket(tenant)},
    )


def _socket_summary(tenant: Tenant) -> str:
    return (
        f"Real-time push. Clients listen on the WebSocket `{tenant.base_path}/ws` of this host "
        f"(token: subprotocols `{SUBPROTOCOL}, <token>` or `?token=<token>`), send "
        '`{"type": "subscribe"|"unsubscribe", "topic"}` and `{"type": "ping"}`, and receive `event`, '
        "`pong` and `error` frames; it closes with 4401 (token), 4403 (another app's token) or 4404. "
        "The document's `x-websocket` entry has the details. These endpoints publish from the server."
    )


def _socket(tenant: Tenant) -> dict[str, Any]:
    frame = "#/components/schemas/"
    return {
        "path": "/ws",
        "url": f"ws://<host>{tenant.base_path}/ws (wss:// behind TLS), on this app's hosts",
        "description": "One socket per client for the app's push topics. JSON text frames both ways, "
        "handled in order (a pong confirms every earlier frame). No acknowledgement of subscribe and "
        "no replay: events sent while not subscribed are not kept. An error frame does not close "
        "the socket. The socket closes at its token's exp, and soon after a logout.",
        "authentication": {
            "description": "the same access token as the HTTP API; a refused socket is accepted then "
            "closed with its code, so the client sees it",
            "subprotocol": f"Sec-WebSocket-Protocol: {SUBPROTOCOL}, <token> (answered with `{SUBPROTOCOL}`); "
            f'browsers: new WebSocket(url, ["{SUBPROTOCOL}", token])',
            "query": "?token=<token>",
        },
        "topics": {
            "<app>/user/<user_id>/<channel>": "only that user of the app",
            "<app>/broadcast/<channel>": "every user of the app",
        },
        "app": tenant.app,
        "channels": sorted(push_settings(tenant).channels),
        "clientFrames": {name: {"$ref": f"{frame}{schema}"} for name, schema in _CLIENT_FRAMES.items()},
        "serverFrames": {name: {"$ref": f"{frame}{schema}"} for name, schema in _SERVER_FRAMES.items()},
        "closeCodes": {
            str(CLOSE_UNAUTHORIZED): "no token; a malformed, badly signed, expired or revoked token "
            "(also when it expires or is revoked while the socket is open)",
            str(CLOSE_FORBIDDEN): "a valid token of another app",
            str(CLOSE_NOT_FOUND): f"no app on this host, or not its socket path ({tenant.base_path}/ws)",
        },
        "limits": {
            "maxFrameChars": MAX_FRAME_CHARS,
            "maxSubscriptions": MAX_SUBSCRIPTIONS,
            "maxTopicLength": MAX_TOPIC_LENGTH,
        },
    }


_CLIENT_FRAMES = {"subscribe": "SocketSubscribe", "unsubscribe": "SocketUnsubscribe", "ping": "SocketPing"}
_SERVER_FRAMES = {"event": "SocketEvent", "pong": "SocketPong", "error": "SocketError"}


def _frame_schemas() -> dict[str, Any]:
    def frame(kind: str, **properties: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["type", *properties],
            "properties": {"type": {"type": "string", "enum": [kind]}, **properties},
        }

    topic = {"type": "string", "maxLength": MAX_TOPIC_LENGTH, "description": "a topic of this app"}
    return {
        "SocketSubscribe": frame("subscribe", topic=topic),
        "SocketUnsubscribe": frame("unsubscribe", topic=topic),
        "SocketPing": frame("ping"),
        "SocketEvent": frame(
            "event",
            topic=topic,
            data={"description": "what was published; for CRUD events {resource, action, id, changed}"},
            id={"type": "string"},
            ts={"type": "string", "format": "date-time"},
        ),
        "SocketPong": frame("pong"),
        "SocketError": frame(
            "error", code={"type": "string", "enum": list(ERROR_CODES)}, message={"type": "string"}
        ),
    }
