"""Operator admin: tenants (read-only, from the config) and each tenant's users.

Tenant users live in the tenant databases; each tenant's user model is registered
here with its own admin, so the changelist and forms query the right database.
Only superusers manage tenant data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from typing_extensions import override

from sogoms_site.errors import DomainError
from sogoms_site.probes import database_reachable
from tenants.config import Tenant
from tenants.models import Identity, TenantRecord
from tenants.registry import ensure_loaded
from tenants.usermodel import user_model


def _superuser(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.is_superuser


class SuperuserOnly(admin.ModelAdmin):
    """Tenant data: for active superusers only, whatever the object; nothing is added here."""

    @override
    def has_module_permission(self, request: HttpRequest) -> bool:
        return _superuser(request)

    @override
    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _superuser(request)

    @override
    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _superuser(request)

    @override
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @override
    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _superuser(request)


@admin.register(TenantRecord)
class TenantRecordAdmin(SuperuserOnly):
    list_display = [
        "app",
        "host_list",
        "base_path",
        "db_engine",
        "reachable",
        "token_lifetime",
        "users_link",
    ]
    search_fields = ["app", "hosts"]
    readonly_fields = [f.name for f in TenantRecord._meta.fields] + ["reachable", "users_link"]

    @override
    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # the YAML is the truth; edit it and reload

    @override
    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.display(description="hosts")
    def host_list(self, obj: TenantRecord) -> str:
        return ", ".join(obj.hosts.split())

    @admin.display(description="database reachable", boolean=True)
    def reachable(self, obj: TenantRecord) -> bool:
        return database_reachable(obj.db_alias)

    @admin.display(description="token lifetime")
    def token_lifetime(self, obj: TenantRecord) -> str:
        hours, seconds = divmod(obj.jwt_expiry_seconds, 3600)
        return f"{hours}h{seconds // 60:02d}m" if seconds else f"{hours}h"

    @admin.display(description="users")
    def users_link(self, obj: TenantRecord) -> str:
        """Links to the tenant's page and its users, by path: the tenant is built when one is
        opened (sogoms_site.tenant_admin), not for this list."""
        registry = ensure_loaded().registry
        if registry is None or registry.get(obj.app) is None:
            return "-"
        base = reverse("admin:index")
        return format_html(
            '<a href="{}tenant/{}/">models</a> · <a href="{}tenants/user_{}/">{} users</a>',
            base,
            obj.app,
            base,
            obj.app,
            obj.app,
        )


@admin.register(Identity)
class IdentityAdmin(SuperuserOnly):
    """Provider accounts linked to tenant users: read-only (users unlink them through the API,
    which keeps their last way to sign in)."""

    list_display = ["app", "provider", "subject", "user_id", "email", "email_verified", "last_used_at"]
    list_filter = ["app", "provider"]
    search_fields = ["subject", "email"]
    readonly_fields = [f.name for f in Identity._meta.fields]

    @override
    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @override
    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class TenantUserAdmin(SuperuserOnly):
    """The users of one tenant; register_tenant_users() makes a subclass per tenant."""

    list_display = ["id", "email", "name", "role", "is_active", "email_verified", "created_at"]
    list_filter = ["role", "is_active", ("email_verified_at", admin.EmptyFieldListFilter)]
    search_fields = ["email", "name"]
    ordering = ["id"]
    fields = ["email", "name", "role", "is_active", "email_verified_at", "created_at", "updated_at"]
    # Verified by a code the user received, or by the operator's action (logged), never typed.
    readonly_fields = ["email", "email_verified_at", "created_at", "updated_at"]
    actions = ["reset_password", "mark_verified"]
    sogoms_tenant: Tenant  # set by each tenant's subclass

    @admin.display(description="e-mail verified", boolean=True, ordering="email_verified_at")
    def email_verified(self, obj: Any) -> bool:
        return bool(obj.email_verified)

    @admin.action(description="Mark the e-mail address verified")
    def mark_verified(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        from tenants.auth.verification import user_mark_verified

        marked = sum(user_mark_verified(tenant=self.sogoms_tenant, user=user) for user in queryset)
        self.message_user(request, f"{marked} address(es) marked verified.")

    @admin.action(description="Reset the password (a new one is shown once; sessions end)")
    def reset_password(self, request: HttpRequest, queryset: QuerySet[Any]) -> TemplateResponse:
        """New passwords on the page this answer renders, never in a message.

        A message would travel in the messages cookie (or sit in the session), readable
        after the page is gone; this page is not cached and is the only place they show.
        """
        from tenants.auth.services import user_password_reset_by_operator

        rows: list[dict[str, str]] = []
        for user in queryset:
            try:
                password = user_password_reset_by_operator(tenant=self.sogoms_tenant, user=user)
            except DomainError as exc:
                rows.append({"email": user.email, "error": exc.message})
                continue
            rows.append({"email": user.email, "password": password})
        context = {
            **self.admin_site.each_context(request),
            "title": "New passwords",
            "tenant_app": self.sogoms_tenant.app,
            "rows": rows,
            "back_url": request.get_full_path(),
        }
        response = TemplateResponse(request, "admin/tenants/passwords_reset.html", context)
        add_never_cache_headers(response)
        return response

    @override
    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "role":  # the tenant's own roles (routes: roles)
            roles = self.sogoms_tenant.roles
            return forms.ChoiceField(choices=[(role, role) for role in roles], label="Role")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @override
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        from tenants.auth.services import user_state_changed

        super().save_model(request, obj, form, change)
        changed = set(form.changed_data) if change else set()
        # A demotion or a deactivation holds at once: the old tokens carry the old role.
        user_state_changed(
            tenant=self.sogoms_tenant,
            user=obj,
            role_changed="role" in changed,
            active_changed="is_active" in changed,
        )

    @override
    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        from tenants.auth.services import user_deleted

        user_id = obj.pk
        super().delete_model(request, obj)
        user_deleted(tenant=self.sogoms_tenant, user_id=user_id)

    @override
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        from tenants.auth.services import user_deleted

        user_ids = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        for user_id in user_ids:
            user_deleted(tenant=self.sogoms_tenant, user_id=user_id)

    @override
    def get_actions(self, request: HttpRequest) -> dict[str, tuple[Callable[..., str], str, str] | None]:
        actions = super().get_actions(request)
        if self.sogoms_tenant.admin_read_only:
            actions.pop("reset_password", None)
            actions.pop("mark_verified", None)
        return actions

    @override
    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return not self.sogoms_tenant.admin_read_only and super().has_change_permission(request, obj)

    @override
    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return not self.sogoms_tenant.admin_read_only and super().has_delete_permission(request, obj)


def register_tenant_users(site: admin.AdminSite, tenant: Tenant) -> list[type[Model]]:
    """The tenant's user model in the admin (built now): called when the tenant is opened in
    the admin (sogoms_site.tenant_admin), not at start."""
    model = user_model(tenant)
    if not site.is_registered(model):
        site.register(model, type(f"{tenant.app}_user_admin", (TenantUserAdmin,), {"sogoms_tenant": tenant}))
    return [model]
