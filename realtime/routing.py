"""The WebSocket application that asgi.py routes to: tenant and token, then the consumer."""

from __future__ import annotations

from realtime.consumers import PushConsumer
from realtime.middleware import TenantSocketMiddleware


def websocket_application():
    return TenantSocketMiddleware(PushConsumer.as_asgi())
