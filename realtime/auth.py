"""Who is on a socket: the tenant by Host, the user by the same access token as HTTP.

The token comes from `Sec-WebSocket-Protocol: bearer, <token>` (browsers cannot set an
Authorization header on a WebSocket) or from `?token=`. It is checked by the one HTTP
path, `principal_from_token`, so a socket accepts exactly the tokens the API accepts.
A refusal carries the close code the client sees. Every later frame asks `recheck` for the
principal as it is now (current role; refused once the session or the user is over).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

import jwt
from channels.db import database_sync_to_async
from rest_framework_simplejwt.exceptions import TokenError

from sogoms_site.errors import DomainError, ExpiredToken
from tenants.auth import current
from tenants.auth.authentication import principal_from_token
from tenants.auth.principal import TenantPrincipal
from tenants.auth.tokens import TenantAccessToken
from tenants.config import Tenant
from tenants.registry import registry

# Close codes (4000-4999 are the application's own range in RFC 6455).
CLOSE_UNAUTHORIZED = 4401  # missing, malformed, invalid, expired or revoked token
CLOSE_FORBIDDEN = 4403  # a valid token, but of another app
CLOSE_NOT_FOUND = 4404  # no app on this host, or no socket at this path
SUBPROTOCOL = "bearer"


@dataclass(frozen=True, slots=True)
class Refusal:
    code: int
    reason: str


def socket_token(scope: dict) -> tuple[str | None, bool]:
    """(token or None, whether the client offered the `bearer` subprotocol)."""
    offered = [item.strip() for item in scope.get("subprotocols") or []]
    if SUBPROTOCOL in offered:
        index = offered.index(SUBPROTOCOL)
        return (offered[index + 1] if index + 1 < len(offered) else ""), True
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    values = query.get("token")
    return (values[0] if values else None), False


def authenticate(raw: str | None, tenant: Tenant) -> TenantPrincipal | Refusal:
    """The principal of a token, or the refusal to close with. Reads the revocation table."""
    if raw is None or raw == "":
        return Refusal(CLOSE_UNAUTHORIZED, "a token is required")
    if raw.count(".") != 2 or len(raw) > 4096:
        return Refusal(CLOSE_UNAUTHORIZED, "the token is malformed")
    try:
        return principal_from_token(raw, tenant)
    except ExpiredToken:
        return Refusal(CLOSE_UNAUTHORIZED, "the token has expired")
    except DomainError as exc:
        if _valid_for_another_app(raw, tenant):
            return Refusal(CLOSE_FORBIDDEN, "the token belongs to another app")
        return Refusal(CLOSE_UNAUTHORIZED, exc.message[:120])


async def recheck(principal: TenantPrincipal, tenant: Tenant) -> TenantPrincipal | Refusal:
    """The socket's principal as it is now: from the process's cache, else from the database."""
    try:
        fresh = current.refreshed_from_cache(principal, tenant)
        if fresh is None:
            fresh = await database_sync_to_async(current.refreshed)(principal, tenant)
    except DomainError as exc:
        return Refusal(CLOSE_UNAUTHORIZED, exc.message[:120])
    return fresh


def _valid_for_another_app(raw: str, tenant: Tenant) -> bool:
    """A genuine token of the app it claims, only not of this one (4403, not 4401)."""
    try:
        claimed = jwt.decode(raw, options={"verify_signature": False}).get("app")
    except jwt.InvalidTokenError:
        return False
    other = registry().get(claimed) if isinstance(claimed, str) and claimed != tenant.app else None
    if other is None:
        return False
    try:
        TenantAccessToken(raw, tenant=other)
    except TokenError:
        return False
    return True
