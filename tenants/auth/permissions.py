"""Permission classes for tenant APIs: the operator-style endpoints are for role admin."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from sogoms_site.api.errors import Forbidden
from tenants.auth.principal import TenantPrincipal


class TenantAdmin(BasePermission):
    """An authenticated user of the tenant with role admin; others get 403 FORBIDDEN.

    A view may say what the refusal means for it with `admin_only_message`."""

    message = "This endpoint is for role admin."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False  # DRF answers 401 with the authenticator's challenge
        if not isinstance(user, TenantPrincipal) or not user.is_admin:
            raise Forbidden(getattr(view, "admin_only_message", self.message))
        return True
