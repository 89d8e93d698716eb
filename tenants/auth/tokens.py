"""simplejwt tokens signed per tenant.

Each token class asks `get_token_backend()` for the backend of its tenant (HS256 with the
tenant's secret) and refuses a token whose `app` claim names another tenant, so a token
of tenant A fails on tenant B even when both share a secret. `sub` stays the numeric user
id the Go clients expect, hence PyJWT's string-subject check is turned off.

`legacy_claims` reads a token the Go original signed (same secret, HS256, no `jti`, no
`type`, no session) for a tenant with `auth.legacy_tokens_until`; see
tenants.auth.authentication for where it is accepted.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

import jwt
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import (
    ExpiredTokenError,
    TokenBackendError,
    TokenBackendExpiredToken,
    TokenError,
)
from rest_framework_simplejwt.tokens import Token
from typing_extensions import override

from tenants.config import Tenant

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "jti", "sub", "app", "type"]
# The Go original's access token: {"sub", "email", "name", "app", "exp", "iat"}.
LEGACY_REQUIRED_CLAIMS = ["exp", "iat", "sub", "app"]
# Claims only SOGOMS writes: a token carrying one is SOGOMS's and never read as the Go
# original's (so a refresh token, or an access token stripped of its jti, stays refused).
SOGOMS_CLAIMS = ("jti", "type", "token_type", "sid")


class TenantTokenBackend(TokenBackend):
    def __init__(self, secret: str) -> None:
        super().__init__(ALGORITHM, signing_key=secret)
        self.secret = secret  # simplejwt's signing_key may be None; a tenant's never is

    @override
    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                options={
                    "verify_signature": verify,
                    "verify_sub": False,
                    "require": REQUIRED_CLAIMS,
                },
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenBackendExpiredToken("Token is expired") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenBackendError("Token is invalid") from exc


@cache
def backend_for(secret: str) -> TenantTokenBackend:
    return TenantTokenBackend(secret)


def legacy_claims(raw: str, tenant: Tenant) -> dict[str, Any]:
    """The claims of an access token the Go original signed for this tenant.

    Checked: HS256 with the tenant's secret, `exp` in the future, `iat` present, `app` is the
    tenant's, no claim only SOGOMS writes. Whether the tenant still accepts such tokens is
    the caller's question. Raises ExpiredTokenError or TokenError like simplejwt's tokens."""
    try:
        payload = jwt.decode(
            raw,
            tenant.jwt_secret,
            algorithms=[ALGORITHM],
            options={"verify_sub": False, "require": LEGACY_REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise ExpiredTokenError("Token is expired") from None
    except jwt.InvalidTokenError:
        raise TokenError("Token is invalid") from None
    if any(claim in payload for claim in SOGOMS_CLAIMS):
        raise TokenError("Token is invalid")
    if payload["app"] != tenant.app:
        raise TokenError("Token belongs to another app")
    return payload


class TenantToken(Token):
    def __init__(self, token: Any = None, verify: bool = True, *, tenant: Tenant) -> None:
        self.tenant = tenant
        self.lifetime = self.lifetime_for(tenant)
        super().__init__(token, verify)
        if token is None:
            self.payload["app"] = tenant.app

    @classmethod
    def lifetime_for(cls, tenant: Tenant) -> timedelta:
        raise NotImplementedError

    def get_token_backend(self) -> TokenBackend:
        return backend_for(self.tenant.jwt_secret)

    def verify(self) -> None:
        super().verify()
        if self.payload.get("app") != self.tenant.app:
            raise TokenError("Token belongs to another app")


class TenantAccessToken(TenantToken):
    token_type = "access"  # noqa: S105  (a token kind, not a secret)

    @classmethod
    def lifetime_for(cls, tenant: Tenant) -> timedelta:
        return tenant.jwt_expiry


class TenantRefreshToken(TenantToken):
    token_type = "refresh"  # noqa: S105

    @classmethod
    def lifetime_for(cls, tenant: Tenant) -> timedelta:
        return tenant.refresh_expiry
