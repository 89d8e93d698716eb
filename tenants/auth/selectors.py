"""Reads of tenant users."""

from __future__ import annotations

from tenants.config import Tenant
from tenants.models import AuthSession
from tenants.usermodel import TenantUserBase, user_model


def normalize_email(email: str) -> str:
    return email.strip().lower()


def user_by_email(*, tenant: Tenant, email: str) -> TenantUserBase | None:
    return user_model(tenant).objects.filter(email=normalize_email(email)).first()


def user_by_id(*, tenant: Tenant, user_id: int) -> TenantUserBase | None:
    return user_model(tenant).objects.filter(pk=user_id).first()


def user_public(user: TenantUserBase) -> dict:
    """The user as clients see it: never the password hash."""
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "created_at": user.created_at,
        "email_verified": user.email_verified,
    }


def session_public(session: AuthSession, *, current_id: str) -> dict:
    """A session as its owner sees it; `current` marks the one of the token asking."""
    return {
        "id": session.id,
        "created_at": session.created_at,
        "last_used_at": session.last_used_at,
        "ip": session.ip,
        "user_agent": session.user_agent,
        "current": session.id == current_id,
    }
