"""Reads of v1 query-YAML resources: the operator's SQL, the role filter, bound values.

Placeholders take their values from the token (`:user_id`, `:role`), the URL (`:id`) and
the request's parameters (`:project_id`...); a missing one is a 400 naming it. Values
are always bound parameters, never spliced into the SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connections

from crud.params import DEFAULT_PER_PAGE, MAX_PER_PAGE, positive_int
from crud.runtime import BoundResource
from crud.sql import add_condition, bind, placeholders
from sogoms_site.api.envelope import page_meta
from sogoms_site.errors import InvalidInput, NotFoundError
from tenants.auth.principal import TenantPrincipal

PAGING = ("page", "per_page")

# The request's query parameters (a QueryDict reads as its last value per key).
Params = Mapping[str, str]


def role_filter(bound: BoundResource, operation: str, caller: TenantPrincipal) -> str:
    filters = bound.resource.role_filters.get(operation, {})
    if caller.is_admin and filters.get("admin") is not None:
        return filters["admin"]
    return filters.get("default", "")


def placeholder_values(sql: str, caller: TenantPrincipal, params: Params, pk: Any = None) -> dict[str, Any]:
    values: dict[str, Any] = {"user_id": caller.id, "role": caller.role}
    if pk is not None:
        values["id"] = pk
    missing = []
    for name in placeholders(sql):
        if name in values:
            continue
        if name in params and name not in PAGING:
            values[name] = params.get(name)
        else:
            missing.append(name)
    if missing:
        raise InvalidInput(
            "A parameter of this query is missing.", details={name: ["is required"] for name in missing}
        )
    return values


def _page(params: Params) -> tuple[int, int]:
    errors = {}
    numbers = {}
    for key, default in (("page", 1), ("per_page", DEFAULT_PER_PAGE)):
        raw = params.get(key, str(default))
        number = positive_int(raw)
        if number is None:
            errors[key] = [f"{raw!r} is not a positive integer"]
        else:
            numbers[key] = number
    if numbers.get("per_page", 0) > MAX_PER_PAGE:
        errors["per_page"] = [f"at most {MAX_PER_PAGE}"]
    if errors:
        raise InvalidInput("The query parameters are invalid.", details=errors)
    return numbers["page"], numbers["per_page"]


def _unknown_params(sql: str, params: Params) -> None:
    allowed = {*placeholders(sql), *PAGING}
    unknown = [key for key in params if key not in allowed]
    if unknown:
        raise InvalidInput(
            "The query parameters are invalid.", details={key: ["unknown parameter"] for key in unknown}
        )


def _fetch(alias: str, sql: str, params: list) -> list[dict]:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def sql_list(bound: BoundResource, caller: TenantPrincipal, params: Params) -> tuple[list[dict], dict]:
    resource = bound.resource
    sql = add_condition(resource.sql["list"], role_filter(bound, "list", caller))
    _unknown_params(sql, params)
    page, per_page = _page(params)
    statement, values = bind(sql, placeholder_values(sql, caller, params))
    alias = bound.tenant.db_alias
    count = f"SELECT COUNT(*) AS n FROM ({statement}) AS sogoms_count"  # noqa: S608  (operator SQL, bound values)
    total = _fetch(alias, count, values)[0]["n"]
    ordered = f"{statement} ORDER BY {resource.order}" if resource.order else statement
    rows = _fetch(alias, f"{ordered} LIMIT %s OFFSET %s", [*values, per_page, (page - 1) * per_page])
    return rows, page_meta(page=page, per_page=per_page, total=total)


def sql_show(bound: BoundResource, caller: TenantPrincipal, pk: Any, params: Params) -> dict:
    sql = add_condition(bound.resource.sql["show"], role_filter(bound, "show", caller))
    _unknown_params(sql, params)
    statement, values = bind(sql, placeholder_values(sql, caller, params, pk))
    rows = _fetch(bound.tenant.db_alias, statement, values)
    if not rows:
        raise NotFoundError(f"No {bound.name} with id {pk}.")
    return rows[0]
