"""The WebSocket edge: Host to tenant, token to principal, once per connection.

Like the HTTP TenantMiddleware it reads the one registry and sets the tenant context
for everything below. It never refuses by itself: it writes `tenant`, `principal` and
`refusal` into the scope, and the consumer accepts then closes with the refusal's code,
because a socket closed during the handshake only shows the client an HTTP 403.
"""

from __future__ import annotations

from channels.db import database_sync_to_async

from realtime.auth import CLOSE_NOT_FOUND, Refusal, authenticate, socket_token
from tenants.context import tenant_context
from tenants.registry import registry


def _header(scope: dict, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


class TenantSocketMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        host = _header(scope, b"host")
        tenant = registry().for_host(host) if host else None
        token, bearer = socket_token(scope)
        principal, refusal = None, None
        if tenant is None:
            refusal = Refusal(CLOSE_NOT_FOUND, "no app is served on this host")
        elif scope.get("path", "").rstrip("/") != f"{tenant.base_path}/ws":
            refusal = Refusal(CLOSE_NOT_FOUND, f"the socket of this app is {tenant.base_path}/ws")
        else:
            checked = await database_sync_to_async(authenticate)(token, tenant)
            if isinstance(checked, Refusal):
                refusal = checked
            else:
                principal = checked
        scope = {
            **scope,
            "tenant": tenant,
            "principal": principal,
            "refusal": refusal,
            "bearer_subprotocol": bearer,
        }
        with tenant_context(tenant):
            return await self.inner(scope, receive, send)
