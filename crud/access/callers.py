"""Who asks: a signed-in principal, or the anonymous caller of a public read.

The anonymous caller is a TenantPrincipal that is not authenticated, so selectors and
services take one kind of caller. Its id (0) is no user's: auto-increment keys start at 1,
and the rules never compare a column with the id of an anonymous caller anyway.
"""

from __future__ import annotations

from rest_framework.request import Request

from tenants.auth.principal import TenantPrincipal


class AnonymousCaller(TenantPrincipal):
    """The caller of a request without a token (only where a rule lets it through)."""

    is_authenticated = False
    is_anonymous = True


def anonymous(app: str) -> TenantPrincipal:
    return AnonymousCaller(id=0, email="", name="", role="", app=app, jti="", session_id="", expires_at=None)


def is_anonymous(caller: TenantPrincipal) -> bool:
    return not caller.is_authenticated


def request_caller(request: Request, app: str) -> TenantPrincipal:
    """The signed-in caller, or the anonymous one (the view's permission let it in)."""
    user = request.user
    return user if isinstance(user, TenantPrincipal) else anonymous(app)
