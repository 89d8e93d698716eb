"""Reads of resources: lists with filters, sort, pages and includes; single rows.

Rows are read with `values_list()` (no model instances on the hot path) and keyed by
the API field names. Access rules (crud.access: a table's `access:`, or the default owner
rule) apply to every row read, included rows too; a field a caller may not read is left
out of its answers.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connections
from django.db.models import Q, QuerySet
from django.utils import timezone

from crud import compiled
from crud.access.compile import apply, shape_key, to_q, uses_now
from crud.access.rules import is_default, rule_for, static_decision, unreadable
from crud.fieldtypes import value_type
from crud.params import QuerySpec, coerce, encode_cursor, is_invalid
from crud.resource import FieldSpec
from crud.runtime import BoundResource, existing_resource
from sogoms_site.api.envelope import page_meta
from sogoms_site.errors import InvalidInput, NotFoundError, NotPermitted
from tenants.auth.principal import TenantPrincipal

LOOKUPS = {
    "eq": "exact",
    "lt": "lt",
    "lte": "lte",
    "gt": "gt",
    "gte": "gte",
    "in": "in",
    "contains": "contains",
    "icontains": "icontains",
    "startswith": "startswith",
    "isnull": "isnull",
}
MAX_INCLUDED_ROWS = 1000


def scoped(bound: BoundResource, caller: TenantPrincipal, operation: str = "show") -> QuerySet:
    """The rows the rule of `operation` lets this caller reach (by default: view).

    Without an `access:` block that is the owner rule: its own rows in an owner-filtered
    table (admins see all), every row of a table without an owner field."""
    resource = bound.resource
    owner = resource.owner_field
    compiled_rule = to_q(
        rule_for(resource, operation).node,
        caller,
        bound.attnames,
        bound.attnames[owner.name] if owner is not None else None,
    )
    return apply(bound.model._default_manager.all(), compiled_rule)


def require(bound: BoundResource, caller: TenantPrincipal, operation: str) -> None:
    """Refuse (403) an operation whose rule no row can pass for this caller (e.g. a role)."""
    resource = bound.resource
    if not is_default(resource, operation) and static_decision(resource, operation, caller) is False:
        raise NotPermitted(f"You may not {operation} {bound.name}.")


def readable_names(bound: BoundResource, caller: TenantPrincipal) -> list[str]:
    """The visible fields of the resource this caller may read, in declaration order."""
    hidden = unreadable(bound.resource, caller)
    return [f.name for f in bound.resource.visible_fields if f.name not in hidden]


def _condition(bound: BoundResource, name: str, op: str, value: Any) -> Q:
    attname = bound.attnames[name]
    if op == "ne":
        return ~Q(**{attname: value}) if value is not None else Q(**{f"{attname}__isnull": False})
    return Q(**{f"{attname}__{LOOKUPS[op]}": value})


def _named_value(value: Any, caller: TenantPrincipal) -> Any:
    if value == ":user_id":
        return caller.id
    if value == ":today":
        return timezone.localdate()
    if value == ":now":
        return datetime.now(UTC)
    return value


def filtered(
    bound: BoundResource, caller: TenantPrincipal, spec: QuerySpec, operation: str = "list"
) -> QuerySet:
    queryset = scoped(bound, caller, operation)
    for name, op, value in spec.filters:
        queryset = queryset.filter(_condition(bound, name, op, value))
    for filter_name in spec.named_filters:
        for name, operations in bound.resource.named_filters[filter_name].items():
            for op, value in operations.items():
                queryset = queryset.filter(_condition(bound, name, op, _named_value(value, caller)))
    if spec.q:
        search = Q()
        hidden = unreadable(bound.resource, caller)  # a match would tell what they hold
        for field_spec in bound.resource.search_fields:
            if field_spec.name in hidden:
                continue
            search |= Q(**{f"{bound.attnames[field_spec.name]}__icontains": spec.q})
        queryset = queryset.filter(search)
    return queryset


def sort_order(bound: BoundResource, spec: QuerySpec) -> list[tuple[str, bool]]:
    """(field, descending) pairs: the asked or default sort, then the primary key."""
    sort = list(spec.sort)
    if not sort:
        for item in bound.resource.default_sort:
            sort.append((item.lstrip("-"), item.startswith("-")))
    primary = bound.resource.primary.name
    if primary not in [name for name, _ in sort]:
        sort.append((primary, False))  # a total order: pages never skip or repeat rows
    return sort


def _output_names(bound: BoundResource, caller: TenantPrincipal, spec: QuerySpec) -> list[str]:
    visible = readable_names(bound, caller)
    return [name for name in visible if name in spec.fields] if spec.fields else visible


def rows_list(bound: BoundResource, caller: TenantPrincipal, spec: QuerySpec) -> tuple[list[dict], dict]:
    require(bound, caller, "list")
    order = sort_order(bound, spec)
    names = _output_names(bound, caller, spec)
    needed = _with_keys(bound, names, spec.include)
    if spec.cursor is not None:
        rows, meta = _keyset_page(bound, filtered(bound, caller, spec), order, needed, spec)
    else:
        start = (spec.page - 1) * spec.per_page
        total, rows = _page(bound, caller, spec, order, needed, start)
        meta = (
            page_meta(page=spec.page, per_page=spec.per_page, total=total)
            if total is not None
            else {"page": spec.page, "per_page": spec.per_page}
        )
    if spec.include:
        attach_includes(bound, caller, rows, spec.include)
    return [_project(row, names, spec.include) for row in rows], meta


def row_show(bound: BoundResource, caller: TenantPrincipal, pk: Any, spec: QuerySpec | None = None) -> dict:
    spec = spec or QuerySpec()
    require(bound, caller, "show")
    names = _output_names(bound, caller, spec)
    needed = _with_keys(bound, names, spec.include)
    attnames = [bound.attnames[name] for name in needed]

    def build(values: list) -> QuerySet:
        marked = dataclasses.replace(caller, id=values[0])
        return scoped(bound, marked).filter(**{bound.pk_attname: values[1]}).values_list(*attnames)

    # the caller's anonymity and role decide the rule's SQL; its id is a bound value
    key = ("show", bound, shape_key(caller), tuple(needed))
    kinds = ["int", _kind(bound.resource.primary)]
    cached = None
    if not uses_now(rule_for(bound.resource, "show").node):  # @now is a new value each time
        cached = compiled.cached_read(key, bound.tenant.db_alias, kinds, [caller.id, pk], build)
    found: Iterable[Sequence[Any]] = cached if cached is not None else build([caller.id, pk])
    rows = [dict(zip(needed, values, strict=True)) for values in found]
    if not rows:
        raise NotFoundError(f"No {bound.name} with id {pk}.")
    if spec.include:
        attach_includes(bound, caller, rows, spec.include)
    return _project(rows[0], names, spec.include)


def _kind(field_spec: FieldSpec) -> str:
    """How the compiled-read cache stands in for a value of this field (crud.compiled)."""
    return value_type(field_spec).marker_kind


def _page(
    bound: BoundResource,
    caller: TenantPrincipal,
    spec: QuerySpec,
    order: list[tuple[str, bool]],
    needed: list[str],
    start: int,
) -> tuple[int | None, list[dict]]:
    """One page and the total (None when `total=false`), through compiled SQL when the
    shape allows it."""
    kinds, values, shape = ["int"], [caller.id], []
    for name, op, value in spec.filters:
        kind = _kind(bound.resource.declared_field(name))
        if op == "isnull" or (op == "ne" and value is None):
            shape.append((name, op, value))
            continue
        items = value if op == "in" else [value]
        kinds += [kind] * len(items)
        values += items
        shape.append((name, op, len(items)))
    timely = any(
        value in (":today", ":now")
        for name in spec.named_filters
        for operations in bound.resource.named_filters[name].values()
        for value in operations.values()
    ) or uses_now(rule_for(bound.resource, "list").node)

    def build_filtered(markers: list) -> QuerySet:
        marked = dataclasses.replace(caller, id=markers[0])
        position = iter(markers[1:])
        filters = []
        for name, op, value in spec.filters:
            if op == "isnull" or (op == "ne" and value is None):
                filters.append((name, op, value))
            elif op == "in":
                filters.append((name, op, [next(position) for _ in value]))
            else:
                filters.append((name, op, next(position)))
        return filtered(bound, marked, dataclasses.replace(spec, filters=filters))

    attnames = [bound.attnames[name] for name in needed]
    order_by = order_by_terms(bound, order)
    alias = bound.tenant.db_alias
    rows: Iterable[Sequence[Any]] | None
    if timely or spec.q:  # today's date, a search pattern: not plain values, never cached
        queryset = build_filtered(values)
        total = queryset.count() if spec.total else None
        rows = queryset.order_by(*order_by)[start : start + spec.per_page].values_list(*attnames)
    else:
        base = ("list", bound, shape_key(caller), tuple(shape), tuple(spec.named_filters))
        total = None
        if spec.total:
            counted = compiled.cached_read(
                (*base, "count"),
                alias,
                kinds,
                values,
                lambda m: build_filtered(m).order_by().values_list(bound.pk_attname),
                count=True,
            )
            total = counted[0][0] if counted is not None else build_filtered(values).count()
        key = (*base, tuple(order_by), tuple(needed), start, spec.per_page)

        def build_page(markers: list) -> QuerySet:
            return (
                build_filtered(markers)
                .order_by(*order_by)[start : start + spec.per_page]
                .values_list(*attnames)
            )

        rows = compiled.cached_read(key, alias, kinds, values, build_page)
        if rows is None:
            rows = build_page(values)
    return total, [dict(zip(needed, row, strict=True)) for row in rows]


def _with_keys(bound: BoundResource, names: list[str], include: list[str]) -> list[str]:
    needed = list(names)
    for name in include:
        key = bound.includes[name].local
        if key not in needed:
            needed.append(key)
    return needed


def _project(row: dict, names: list[str], include: list[str]) -> dict:
    return {name: row[name] for name in (*names, *include)}


def order_by_terms(bound: BoundResource, order: list[tuple[str, bool]]) -> list[str]:
    """`QuerySet.order_by()` arguments of a sort order."""
    return [("-" if desc else "") + bound.attnames[name] for name, desc in order]


def fetch_rows(bound: BoundResource, queryset: QuerySet, names: list[str]) -> list[dict]:
    """The rows of a queryset as dicts keyed by API field names, without model instances."""
    attnames = [bound.attnames[name] for name in names]
    return [dict(zip(names, values, strict=True)) for values in queryset.values_list(*attnames)]


def _keyset_page(
    bound: BoundResource,
    queryset: QuerySet,
    order: list[tuple[str, bool]],
    names: list[str],
    spec: QuerySpec,
) -> tuple[list[dict], dict]:
    """A page after the cursor: the sort keys of its rows first, then the rows by key."""
    keys = [name for name, _ in order]
    wanted = spec.per_page + 1  # one more tells whether a next page exists
    if spec.cursor:
        spec.cursor = _checked_cursor(bound, order, spec.cursor)
        seeks = _after(bound, order, spec.cursor)
        if connections[queryset.db].vendor == "mysql":
            # MariaDB finds each part's exact range in their OR: one query, one round trip
            seeks = [functools.reduce(operator.or_, seeks)]
        found: list[tuple] = []
        for seek in seeks:
            found += _keys(bound, queryset.filter(seek), order, wanted - len(found))
            if len(found) == wanted:
                break
    else:
        found = _keys(bound, queryset, order, wanted)
    more = len(found) > spec.per_page
    found = found[: spec.per_page]
    primary = keys.index(bound.resource.primary.name)
    pks = [values[primary] for values in found]
    fetch = names + [key for key in keys if key not in names]
    by_pk = {
        row[keys[primary]]: row
        for row in fetch_rows(bound, queryset.filter(**{f"{bound.pk_attname}__in": pks}), fetch)
    }
    rows = [by_pk[pk] for pk in pks if pk in by_pk]  # a row deleted in between is left out
    next_cursor = encode_cursor(list(found[-1])) if more and found else None
    return rows, {"per_page": spec.per_page, "next_cursor": next_cursor}


def _keys(bound: BoundResource, queryset: QuerySet, order: list[tuple[str, bool]], limit: int) -> list[tuple]:
    """The sort keys (the primary key last) of the first `limit` rows, in order.

    Only the keys, which the index declared for the order holds: MariaDB 10.11 weighs a
    range against a table scan without counting the LIMIT, so a range from a cursor to the
    end of a big table loses while it has rows to read, and the owner's part of the index
    is walked from its start instead; read from the index alone, the range wins."""
    ordered = queryset.order_by(*order_by_terms(bound, order))
    return list(ordered.values_list(*[bound.attnames[name] for name, _ in order])[:limit])


def _after(bound: BoundResource, order: list[tuple[str, bool]], cursor: list) -> list[Q]:
    """The rows after the cursor's, as consecutive parts of the order, nearest first.

    For `a, b, id` and a cursor (x, y, z): `a = x AND b = y AND id > z`, then `a = x AND
    b > y`, then `a > x` (`<` for a descending key): equalities and one range each, which
    SQLite seeks exactly. As one condition, SQLite seeks an OR on `a` alone (every row
    sharing `a` is read to find the cursor's place) and a row value `(a, b, id) > (x, y,
    z)` not on the key after the index's columns. MariaDB 10.11 builds the exact ranges
    from the parts' OR, and none from a row value (docs/performance.md, keyset pages)."""
    columns = [bound.attnames[name] for name, _ in order]
    parts = []
    for index in reversed(range(len(order))):
        part = Q(**{f"{columns[index]}__{'lt' if order[index][1] else 'gt'}": cursor[index]})
        for previous in range(index):
            part &= Q(**{columns[previous]: cursor[previous]})
        parts.append(part)
    return parts


def _checked_cursor(bound: BoundResource, order: list[tuple[str, bool]], cursor: list) -> list:
    """A cursor is client input: each position must be a valid value of its sort field."""
    values = []
    if len(cursor) == len(order):
        for (name, _desc), raw in zip(order, cursor, strict=True):
            if isinstance(raw, bool | dict | list) or raw is None:
                break
            value = coerce(bound.resource.declared_field(name), str(raw))
            if is_invalid(value):
                break
            values.append(value)
    if len(values) != len(order):
        raise InvalidInput(
            "The cursor does not match this list.", details={"cursor": ["stale or forged cursor"]}
        )
    return values


def attach_includes(
    bound: BoundResource, caller: TenantPrincipal, rows: list[dict], names: list[str]
) -> None:
    """Add related rows under each include name, one query per include (owner rules kept)."""
    for name in names:
        include = bound.includes[name]
        target = existing_resource(bound.tenant, include.target)
        keys = {row[include.local] for row in rows if row[include.local] is not None}
        visible = readable_names(target, caller)
        if include.kind == "one":
            related = fetch_rows(
                target,
                scoped(target, caller, "show").filter(**{f"{target.attnames[include.remote]}__in": keys}),
                visible,
            )
            by_key = {row[include.remote]: row for row in related}
            for row in rows:
                row[name] = by_key.get(row[include.local])
        elif include.kind == "many":
            related = fetch_rows(
                target,
                scoped(target, caller, "list").filter(**{f"{target.attnames[include.remote]}__in": keys})[
                    :MAX_INCLUDED_ROWS
                ],
                visible if include.remote in visible else [*visible, include.remote],
            )
            grouped: dict = {}
            for item in related:
                grouped.setdefault(item[include.remote], []).append(item)
            for row in rows:
                row[name] = grouped.get(row[include.local], [])
        else:
            link = existing_resource(bound.tenant, include.link_table)
            pairs = list(
                scoped(link, caller, "list")
                .filter(**{f"{link.attnames[include.remote]}__in": keys})
                .values_list(link.attnames[include.remote], link.attnames[include.link_target_column])[
                    :MAX_INCLUDED_ROWS
                ]
            )
            target_pk = target.resource.primary.name
            related = fetch_rows(
                target,
                scoped(target, caller, "list").filter(**{f"{target.pk_attname}__in": {t for _, t in pairs}}),
                visible,
            )
            by_pk = {item[target_pk]: item for item in related}
            for row in rows:
                row[name] = [by_pk[t] for s, t in pairs if s == row[include.local] and t in by_pk]
