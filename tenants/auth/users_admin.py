"""`<base>/_users`: role admin manages the tenant's users over REST.

`GET _users` lists them (page, per_page, `q` on e-mail and name, `role`, `is_active`);
`PATCH _users/<id>` changes `role` and `is_active`, which hold at once: a deactivation ends
every session, and every request reads the current role. An admin cannot change their own
role or deactivate themselves (someone else must), so a tenant is never left without one
by a slip.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.views import APIView

from sogoms_site.api.envelope import ok, page_meta
from sogoms_site.api.inputs import StrictInput
from sogoms_site.api.paging import page_and_size
from sogoms_site.errors import InvalidInput, NotFoundError, StateConflict
from tenants.auth import services
from tenants.auth.permissions import TenantAdmin
from tenants.auth.selectors import user_public
from tenants.requests import TenantRequest, caller
from tenants.usermodel import TenantUserBase, user_model

LIST_PARAMS = ("page", "per_page", "q", "role", "is_active")


class UserChangeInput(StrictInput):
    role = serializers.CharField(required=False, max_length=32)
    is_active = serializers.BooleanField(required=False)


def user_managed(user: TenantUserBase) -> dict[str, Any]:
    """A user as role admin sees them: the public fields and the account state."""
    return {**user_public(user), "is_active": user.is_active, "updated_at": user.updated_at}


def _listing(request: TenantRequest) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    params = request.query_params
    unknown = [key for key in params if key not in LIST_PARAMS]
    if unknown:
        raise InvalidInput(
            "The query parameters are invalid.", details={k: ["unknown parameter"] for k in unknown}
        )
    page, per_page = page_and_size(params)
    users = user_model(request.tenant).objects.order_by("id")
    if params.get("q"):
        users = users.filter(Q(email__icontains=params["q"]) | Q(name__icontains=params["q"]))
    if params.get("role"):
        users = users.filter(role=params["role"])
    if "is_active" in params:
        flag = params["is_active"].lower()
        if flag not in ("true", "false"):
            raise InvalidInput("The query parameters are invalid.", details={"is_active": ["true or false"]})
        users = users.filter(is_active=flag == "true")
    total = users.count()
    rows = [user_managed(user) for user in users[(page - 1) * per_page : page * per_page]]
    return rows, page_meta(page=page, per_page=per_page, total=total)


class UsersView(APIView):
    permission_classes = [TenantAdmin]
    admin_only_message = "Managing users is for role admin."

    def get(self, request: TenantRequest) -> HttpResponse:
        rows, meta = _listing(request)
        return ok(rows, meta=meta)


class UserView(APIView):
    permission_classes = [TenantAdmin]
    admin_only_message = "Managing users is for role admin."

    def _user(self, request: TenantRequest, user_id: int) -> TenantUserBase:
        user = user_model(request.tenant).objects.filter(pk=user_id).first()
        if user is None:
            raise NotFoundError(f"No user with id {user_id}.")
        return user

    def get(self, request: TenantRequest, user_id: int) -> HttpResponse:
        return ok(user_managed(self._user(request, user_id)))

    def patch(self, request: TenantRequest, user_id: int) -> HttpResponse:
        serializer = UserChangeInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = self._user(request, user_id)
        if user.pk == caller(request).id and (
            ("role" in data and data["role"] != user.role) or data.get("is_active") is False
        ):
            raise StateConflict("An admin cannot change their own role or deactivate themselves.")
        changed = services.user_change(
            tenant=request.tenant, user=user, role=data.get("role"), is_active=data.get("is_active")
        )
        return ok(user_managed(changed), "Updated")
