"""The authenticated caller of a tenant API: read from the token, no database hit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TenantPrincipal:
    id: int
    email: str
    name: str
    role: str
    app: str
    jti: str
    session_id: str
    expires_at: datetime

    is_authenticated = True
    is_anonymous = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
