"""Each tenant's tables in the Django admin: list, search, filters, and edits that pass
the same validation as the API. A tenant with `admin_read_only: true` can be looked at
but not changed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from typing_extensions import override

from crud.config import resources_of
from crud.dynamic import django_name, schema_models
from crud.fieldtypes import all_types, field_type
from crud.runtime import BoundResource, existing_resource
from tenants.admin import SuperuserOnly
from tenants.config import Tenant


class ApiValidatedForm(forms.ModelForm):
    """Runs the resource's API serializer on the admin's input, field by field."""

    sogoms_bound: ClassVar[BoundResource]  # set on each table's form by table_admin()

    @override
    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean() returns
        bound = self.sogoms_bound
        serializer_class = bound.serializer("partial")
        data = {}
        for spec in bound.resource.fields:
            name = django_name(spec)
            if name in cleaned and spec.name in serializer_class().fields:
                value = cleaned[name]
                data[spec.name] = getattr(value, "pk", value)
        serializer = serializer_class(data=data)
        if not serializer.is_valid():
            for field_name, messages in serializer.errors.items():
                named = bound.resource.field(field_name)
                target = django_name(named) if named and django_name(named) in self.fields else None
                for message in messages:
                    self.add_error(target, str(message))
        return cleaned


def table_admin(tenant: Tenant, bound: BoundResource) -> type[admin.ModelAdmin]:
    resource = bound.resource
    visible = [spec for spec in resource.fields if not spec.hidden]
    names: list[Any] = [django_name(spec) for spec in visible]
    # the admin searches with icontains: the fields whose type allows that operator
    searchable = [django_name(s) for s in visible if "icontains" in field_type(s.type).operators]
    filterable: list[Any] = [
        django_name(s) for s in visible if s.choices or field_type(s.type).admin_list_filter
    ]
    widgets = {
        kind.model_class: dict(kind.admin_form_options) for kind in all_types() if kind.admin_form_options
    }
    read_only = tenant.admin_read_only
    # the admin adds the model and fields (with its widgets) when it builds the real form
    form = type(f"{resource.name}_{tenant.app}_form", (ApiValidatedForm,), {"sogoms_bound": bound})

    class TenantTableAdmin(SuperuserOnly, admin.ModelAdmin):
        list_display = names[:7]
        search_fields = searchable[:4]
        list_filter = filterable[:4]
        exclude = [django_name(spec) for spec in resource.fields if spec.hidden]
        readonly_fields = [django_name(s) for s in visible if s.timestamp or (s.readonly and not s.primary)]
        list_per_page = 50
        formfield_overrides = widgets
        show_full_result_count = False  # no COUNT(*) over big tenant tables on every page

        def get_form(
            self, request: HttpRequest, obj: models.Model | None = None, change: bool = False, **kwargs: Any
        ) -> type[forms.ModelForm]:
            kwargs["form"] = form
            return super().get_form(request, obj, change, **kwargs)

        def has_add_permission(self, request: HttpRequest) -> bool:
            return not read_only and super().has_change_permission(request)

        def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
            return not read_only and super().has_change_permission(request, obj)

        def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
            return not read_only and super().has_delete_permission(request, obj)

    return TenantTableAdmin


def register_tenant_tables(site: admin.AdminSite, tenant: Tenant) -> list[type[models.Model]]:
    """The tenant's schema tables in the admin (their models built now): called when the
    tenant is opened in the admin (sogoms_site.tenant_admin), not at start."""
    tables = []
    for name, model in schema_models(tenant).items():
        resource = resources_of(tenant).get(name)
        if name == "users" or resource is None:
            continue
        if not site.is_registered(model):
            site.register(model, table_admin(tenant, existing_resource(tenant, name)))
        tables.append(model)
    return tables
