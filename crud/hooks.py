"""What the resource engine plugs into tenants: its tables and the login lists."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db import models

from crud.access.rules import is_default
from crud.config import login_lists_of, resources_of
from crud.dynamic import schema_models
from crud.params import QuerySpec
from crud.runtime import BoundResource, existing_resource
from crud.selectors import fetch_rows, filtered, order_by_terms, readable_names, sort_order
from tenants.auth.principal import TenantPrincipal
from tenants.config import Tenant
from tenants.usermodel import TenantUserBase

MAX_LOGIN_ROWS = 1000


def resource_tables(tenant: Tenant) -> list[type[models.Model]]:
    """Schema tables to create, in foreign-key order (v1 query tables already exist)."""
    return [model for name, model in schema_models(tenant).items() if name != "users"]


def login_lists(tenant: Tenant, user: TenantUserBase) -> dict[str, list[dict[str, Any]]]:
    """The login answer's lists (seed phase 8): the user's own rows of each resource named
    in `auth.login_includes` or the auth.yaml's `login_data`, or of a login query's own."""
    user_caller = TenantPrincipal.of_user(user, tenant.app)
    # own rows even for an admin: the login lists are the user's data, not an audit
    caller = dataclasses.replace(user_caller, role="default")
    lists: dict[str, list[dict[str, Any]]] = {}
    resources = resources_of(tenant)
    for name, resource in login_lists_of(tenant).items():
        if resource.source == "queries":
            from crud import sqlreads

            exposed = resources.get(resource.name) is resource
            bound = (
                existing_resource(tenant, resource.name)
                if exposed
                else BoundResource(tenant, resource, None, {})
            )
            rows, _ = sqlreads.sql_list(bound, caller, {})
        else:
            bound = existing_resource(tenant, resource.name)
            rows = _own_rows(bound, caller if is_default(bound.resource, "list") else user_caller)
        lists[name] = rows
    return lists


def _own_rows(bound: BoundResource, caller: TenantPrincipal) -> list[dict[str, Any]]:
    """The rows of a schema resource the login answer lists: those its list rule lets the
    user see (with the user's own role under a table's own rule: a role the user does not
    have could let more through), and in an owner-filtered table only the user's own."""
    spec = QuerySpec()
    queryset = filtered(bound, caller, spec)
    owner = bound.resource.owner_field
    if owner is not None and not is_default(bound.resource, "list"):  # the default is owner already
        queryset = queryset.filter(**{bound.attnames[owner.name]: caller.id})
    queryset = queryset.order_by(*order_by_terms(bound, sort_order(bound, spec)))
    return fetch_rows(bound, queryset[:MAX_LOGIN_ROWS], readable_names(bound, caller))
