"""Reads of tenant users."""

from __future__ import annotations

from tenants.config import Tenant
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
    }
