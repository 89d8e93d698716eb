"""Reads of v1 query-YAML resources: the operator's SQL, the role filter, bound values.

Placeholders take their values from the token (`:user_id`, `:role`), the URL (`:id`) and
the request's parameters (`:project_id`...); a missing one is a 400 naming it. Values
are always bound parameters, never spliced into the SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connections

from crud.config import resources_of
from crud.runtime import BoundResource, existing_resource
from crud.sql import add_condition, bind, placeholders
from sogoms_site.api.envelope import page_meta
from sogoms_site.api.paging import page_and_size
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


def _count(alias: str, statement: str, values: list) -> int:
    count = f"SELECT COUNT(*) AS n FROM ({statement}) AS sogoms_count"  # noqa: S608  (operator SQL, bound values)
    return int(_fetch(alias, count, values)[0]["n"])


def unpaged_meta(*, total: int, limit: int, truncated: bool) -> dict:
    """The `meta` of a list asked without `page`: how many rows, and whether the cap cut it."""
    return {"total": total, "limit": limit, "truncated": truncated}


def sql_list(bound: BoundResource, caller: TenantPrincipal, params: Params) -> tuple[list[dict], dict]:
    """Rows of the list query. Without `page`/`per_page`, every row up to the resource's
    `max_rows` (as the Go system answered every row); with them, one page."""
    resource = bound.resource
    sql = add_condition(resource.sql["list"], role_filter(bound, "list", caller))
    _unknown_params(sql, params)
    paged = any(key in params for key in PAGING)
    page, per_page = page_and_size(params) if paged else (1, resource.max_rows)
    statement, values = bind(sql, placeholder_values(sql, caller, params))
    alias = bound.tenant.db_alias
    ordered = f"{statement} ORDER BY {resource.order}" if resource.order else statement
    if not paged:
        # one row more than the cap tells whether it cuts; the count runs only then
        rows = _fetch(alias, f"{ordered} LIMIT %s", [*values, per_page + 1])
        truncated = len(rows) > per_page
        total = _count(alias, statement, values) if truncated else len(rows)
        return rows[:per_page], unpaged_meta(total=total, limit=per_page, truncated=truncated)
    total = _count(alias, statement, values)
    rows = _fetch(alias, f"{ordered} LIMIT %s OFFSET %s", [*values, per_page, (page - 1) * per_page])
    return rows, page_meta(page=page, per_page=per_page, total=total)


def sql_show(bound: BoundResource, caller: TenantPrincipal, pk: Any, params: Params) -> dict:
    sql = _show_sql(bound, caller)
    _unknown_params(sql, params)
    row = _first_row(bound, sql, caller, pk, params)
    if row is None:
        raise NotFoundError(f"No {bound.name} with id {pk}.")
    return row


def show_row(bound: BoundResource, caller: TenantPrincipal, pk: Any, params: Params) -> dict | None:
    """The row `pk` as the show query answers it for the caller, or None when it is hidden."""
    return _first_row(bound, _show_sql(bound, caller), caller, pk, params)


def _show_sql(bound: BoundResource, caller: TenantPrincipal) -> str:
    return add_condition(bound.resource.sql["show"], role_filter(bound, "show", caller))


def _first_row(
    bound: BoundResource, sql: str, caller: TenantPrincipal, pk: Any, params: Params
) -> dict | None:
    statement, values = bind(sql, placeholder_values(sql, caller, params, pk))
    rows = _fetch(bound.tenant.db_alias, statement, values)
    return rows[0] if rows else None


def _showing_resource(bound: BoundResource, table: str) -> BoundResource | None:
    """The v1 resource of the tenant that shows rows of `table` (by its table, else its name)."""
    candidates = [
        other
        for other in resources_of(bound.tenant).values()
        if other.source == "queries" and other.allows("show")
    ]
    for other in sorted(candidates, key=lambda other: other.sql.get("table") != table):
        if other.sql.get("table") == table or (not other.sql.get("table") and other.name == table):
            return existing_resource(bound.tenant, other.name)
    return None


def v1_row_visible(
    bound: BoundResource, caller: TenantPrincipal, table: str, column: str, value: Any
) -> bool:
    """Whether the caller may point at the row of `table` whose `column` is `value`.

    The row must be one the caller sees through the show query of the resource over that
    table (its role filter applies); a table no resource shows, or a show query that needs
    parameters a write does not have, leaves the check to the row's existence.
    """
    alias = bound.tenant.db_alias
    connection = connections[alias]
    showing = _showing_resource(bound, table)
    if showing is not None:
        primary: str | None = None
        if showing.table_model is not None:
            primary = showing.resource.primary.name
        else:
            with connection.cursor() as cursor:
                primary = connection.introspection.get_primary_key_column(cursor, table)
        if column == primary:
            try:
                return show_row(showing, caller, value, {}) is not None
            except InvalidInput:  # the show query needs a request parameter
                pass
    quote = connection.ops.quote_name
    exists = f"SELECT 1 AS found FROM {quote(table)} WHERE {quote(column)} = %s"  # noqa: S608  (names from the database's own constraints)
    return bool(_fetch(alias, exists, [value]))
