"""DRF authentication: `Authorization: Bearer <jwt>` checked against the request's tenant.

Token checking (`principal_from_token`, shared with the socket) verifies the signature and
claims, then reads the token's session and user as they are now (tenants.auth.current): the
principal carries the user's current role, and an ended session or a disabled user is
refused whatever the token says. It raises domain errors;
the DRF class turns them into contract errors at once, as DRF expects an APIException
from `authenticate` to mark the request unauthenticated.

With `auth.legacy_tokens_until`, a token that is not SOGOMS's is tried as one of the Go
original (tenants.auth.tokens.legacy_claims) until that moment: no session, so it cannot
be refreshed and no session of it can end, but the user's state and "tokens valid after"
hold for it like for any token. Without the key, or after the moment, it is refused with
the same answer as any other invalid token.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from typing_extensions import override

from sogoms_site.api.errors import from_domain
from sogoms_site.errors import DomainError, ExpiredToken, InvalidToken
from tenants.auth import current
from tenants.auth.principal import TenantPrincipal
from tenants.auth.revocation import epoch_to_datetime
from tenants.auth.tokens import TenantAccessToken, legacy_claims
from tenants.config import Tenant


def bearer_token(request: Request) -> str | None:
    """The token of a well-formed Bearer header, None without a header, InvalidToken if malformed."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise InvalidToken("The Authorization header must be 'Bearer <token>'.")
    return parts[1]


@lru_cache(maxsize=4096)
def _verified_payload(raw: str, tenant: Tenant) -> dict[str, Any]:
    """Signature and claims checked once per token; a client sends the same one often."""
    return TenantAccessToken(raw, tenant=tenant).payload


@lru_cache(maxsize=4096)
def _verified_legacy_payload(raw: str, tenant: Tenant) -> dict[str, Any]:
    return legacy_claims(raw, tenant)


def legacy_tokens_accepted(tenant: Tenant) -> bool:
    """Whether the tenant still takes tokens of the Go original (`auth.legacy_tokens_until`)."""
    until = tenant.legacy_tokens_until
    return until is not None and time.time() < until.timestamp()


def principal_from_token(raw: str, tenant: Tenant) -> TenantPrincipal:
    """Validate an access token for a tenant; raises ExpiredToken or InvalidToken."""
    try:
        payload = _verified_payload(raw, tenant)
    except ExpiredTokenError:
        raise ExpiredToken() from None
    except TokenError as exc:
        if not legacy_tokens_accepted(tenant):
            raise InvalidToken(f"The token is not valid: {exc}.") from None
        return _legacy_principal(raw, tenant, exc)
    if payload["exp"] <= time.time():  # expired since it was first checked
        raise ExpiredToken()
    try:
        user_id = int(payload["sub"])
    except (TypeError, ValueError):
        raise InvalidToken("The token is not valid: bad subject.") from None
    session_id = payload.get("sid")
    return current.principal_for(
        tenant=tenant,
        user_id=user_id,
        session_id=session_id if isinstance(session_id, str) else "",
        jti=str(payload["jti"]),
        expires_at=epoch_to_datetime(payload["exp"]),
    )


def _legacy_principal(raw: str, tenant: Tenant, refusal: TokenError) -> TenantPrincipal:
    """The principal of a Go-era token; a token that is not one either gets `refusal`."""
    try:
        payload = _verified_legacy_payload(raw, tenant)
    except ExpiredTokenError:
        raise ExpiredToken() from None
    except TokenError:
        raise InvalidToken(f"The token is not valid: {refusal}.") from None
    if payload["exp"] <= time.time():
        raise ExpiredToken()
    subject, issued_at = payload["sub"], payload["iat"]
    # Go wrote the id as a number; a string of digits is taken too, nothing else.
    if isinstance(subject, str) and subject.isascii() and subject.isdigit():
        subject = int(subject)
    if not isinstance(subject, int) or isinstance(subject, bool) or not isinstance(issued_at, int | float):
        raise InvalidToken(f"The token is not valid: {refusal}.")
    return current.principal_for(
        tenant=tenant,
        user_id=subject,
        session_id="",
        jti="",
        expires_at=epoch_to_datetime(payload["exp"]),
        legacy_issued_at=epoch_to_datetime(int(issued_at)),
    )


class TenantJWTAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[TenantPrincipal, str] | None:
        tenant = getattr(request, "tenant", None)
        try:
            raw = bearer_token(request)
            if raw is None or tenant is None:
                return None
            principal = principal_from_token(raw, tenant)
        except DomainError as exc:
            raise from_domain(exc) from None
        return principal, raw

    @override
    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
