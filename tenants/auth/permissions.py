"""Permission classes for tenant APIs: the operator-style endpoints are for role admin."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from sogoms_site.api.errors import Forbidden


class TenantAdmin(BasePermission):
    """An authenticated user of the tenant with role admin; others get 403 FORBIDDEN.

    A view may say what the refusal means for it with `admin_only_message`."""

    message = "This endpoint is for role admin."

    def has_permission(self, request, view) -> bool:
        if request.user is None or not request.user.is_authenticated:
            return False  # DRF answers 401 with the authenticator's challenge
        if not request.user.is_admin:
            raise Forbidden(getattr(view, "admin_only_message", self.message))
        return True
