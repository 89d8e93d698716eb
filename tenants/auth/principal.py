"""The authenticated caller of a tenant API: the token's user and session, with the user's
role, name and e-mail as they are now (tenants.auth.current), never the token's claims.

The principal of a Go-era token (`auth.legacy_tokens_until`) has no session and no jti;
it carries the token's issue time instead, which the user's "tokens valid after" ends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenants.usermodel import TenantUserBase


@dataclass(frozen=True, slots=True)
class TenantPrincipal:
    id: int
    email: str
    name: str
    role: str
    app: str
    jti: str
    session_id: str
    expires_at: datetime | None
    legacy_issued_at: datetime | None = None  # set only for a token of the Go original

    is_authenticated = True
    is_anonymous = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_legacy(self) -> bool:
        return self.legacy_issued_at is not None

    @classmethod
    def of_user(cls, user: TenantUserBase, app: str) -> TenantPrincipal:
        """The principal of a user acting outside a request (login lists, seeding)."""
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            app=app,
            jti="",
            session_id="",
            expires_at=None,
        )
