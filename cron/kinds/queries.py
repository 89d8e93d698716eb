"""Reading a resource from a job: the API's query language, as a given user or as admin."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs

from django.http import QueryDict

from crud import sqlreads
from crud.params import parse_query
from crud.runtime import bound_resource
from crud.selectors import rows_list
from sogoms_site.errors import DomainError, NotFoundError
from tenants.auth.principal import TenantPrincipal
from tenants.config import Tenant

ADMIN = TenantPrincipal(
    id=0, email="", name="scheduled job", role="admin", app="", jti="", session_id="", expires_at=None
)


def query_params(query: str, limit: int) -> QueryDict:
    """`filter=due_today&sort=-position` as the request's query parameters would be."""
    params = QueryDict(mutable=True)
    for key, values in parse_qs(query, keep_blank_values=True, strict_parsing=False).items():
        params.setlist(key, values)
    params.setdefault("per_page", str(limit))
    return params


def check_query(tenant: Tenant, resource: str, query: str, limit: int) -> str | None:
    """What is wrong with a job's query, for the config loader; None when it is fine."""
    resources = tenant.extensions.get("resources", {})
    if resource not in resources:
        return f"{resource!r} is not a resource of {tenant.app} ({', '.join(sorted(resources)) or 'none'})"
    if resources[resource].source == "queries":
        return None  # v1 SQL: its parameters are checked when it runs
    params = query_params(query, limit)
    # Includes need the tenant's models, which the loader does not build: they are
    # checked on the first run; everything else is checked here.
    named = tuple(name for value in params.getlist("include") for name in value.split(",") if name)
    try:
        parse_query(params, resources[resource], includable=named)
    except DomainError as exc:
        return "; ".join(f"{key}: {', '.join(map(str, v))}" for key, v in exc.details.items()) or exc.message
    return None


def query_rows(
    tenant: Tenant, resource: str, query: str, *, caller: TenantPrincipal, limit: int
) -> list[dict]:
    bound = bound_resource(tenant, resource)
    if bound is None:  # checked at load; a reload may have dropped it since
        raise NotFoundError(f"{resource!r} is not a resource of {tenant.app}.")
    params = query_params(query, limit)
    if bound.resource.source == "queries":
        rows, _ = sqlreads.sql_list(bound, caller, params)
        return rows
    spec = parse_query(params, bound.resource, includable=tuple(bound.includes))
    rows, _ = rows_list(bound, caller, spec)
    return rows


def admin_of(tenant: Tenant) -> TenantPrincipal:
    """Role admin without a user: a job that reads for everyone sees every row."""
    return dataclasses.replace(ADMIN, app=tenant.app)
