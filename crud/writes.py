"""Compiled writes: the INSERT of a new row and the UPDATE of one row, compiled once per shape.

A create of a schema table always inserts the same columns, and an update under the
default rules sets the same columns of the row with this key that the caller may reach:
only the values differ. The ORM builds the statement of the first write of each shape
(crud.compiled traces its bound values back to their sources); later writes prepare their
values as the ORM does (`pre_save`, `get_db_prep_save`) and bind them to the same SQL.
Building the statement was about a fifth of a write's CPU.

Whatever the ORM would compile differently (an expression among the values, a field with
its own placeholder, a model with save signals, a value the ORM would not pass through
as prepared here) is never cached and takes the ORM path.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from django.db import connections
from django.db.models import Field, Model, signals
from django.db.models.sql import InsertQuery, UpdateQuery

from crud import compiled
from crud.access.compile import shape_key
from crud.fieldtypes import value_type
from crud.runtime import BoundResource
from crud.selectors import scoped
from tenants.auth.principal import TenantPrincipal

MAX_SHAPES = 1024


@dataclasses.dataclass(frozen=True)
class _Insert:
    sql: str
    fields: tuple[Field, ...]
    returns_key: bool  # RETURNING the key (else the cursor's last insert id)


@dataclasses.dataclass(frozen=True)
class _Update:
    sql: str  # the SET values with a bound value, in order, then the WHERE's
    where: tuple[compiled.Slot, ...]  # the WHERE's parameters: 0 the caller's id, 1 the key


_cache: compiled.ShapeCache[_Insert | _Update] = compiled.ShapeCache()


def _plain(field: Field, value: Any) -> bool:
    """Whether the ORM binds this value as one `%s`, prepared by `get_db_prep_save` alone."""
    return not hasattr(value, "resolve_expression") and not hasattr(field, "get_placeholder")


def insert(bound: BoundResource, row: Model) -> None:
    """Save the new instance `row` of a schema table (its key then set on it)."""
    model = type(row)
    alias = bound.tenant.db_alias
    shape = _cache.get_or_compile(
        ("insert", bound, alias), lambda: _compile_insert(model, alias, row), MAX_SHAPES
    )
    if (
        not isinstance(shape, _Insert)
        or signals.pre_save.has_listeners(model)
        or signals.post_save.has_listeners(model)
        or not _run_insert(shape, row, alias)
    ):
        row.save(using=alias, force_insert=True)


def _values_of(
    fields: tuple[Field, ...], row: Model, connection: Any, *, pre_save: bool = True
) -> list[Any] | None:
    """The parameters of the INSERT, as the ORM prepares them; None for a value it would
    not bind as such. `pre_save` runs the fields' own step first (auto timestamps)."""
    params = []
    for field in fields:
        value = field.pre_save(row, add=True) if pre_save else getattr(row, field.attname)
        if not _plain(field, value):
            return None
        params.append(field.get_db_prep_save(value, connection=connection))
    return params


def _run_insert(shape: _Insert, row: Model, alias: str) -> bool:
    connection = connections[alias]
    params = _values_of(shape.fields, row, connection)
    if params is None:
        return False
    meta = type(row)._meta
    with connection.cursor() as cursor:
        cursor.execute(shape.sql, params)
        if shape.returns_key:
            key = cursor.fetchone()[0]
        else:
            key = connection.ops.last_insert_id(cursor, meta.db_table, meta.pk.column)
    setattr(row, meta.pk.attname, key)
    row._state.adding = False
    row._state.db = alias
    return True


def _compile_insert(model: type[Model], alias: str, row: Model) -> _Insert | compiled.Uncacheable:
    meta = model._meta
    connection = connections[alias]
    if meta.pk is not meta.auto_field or meta.parents or getattr(row, meta.pk.attname) is not None:
        return compiled.UNCACHEABLE
    fields = tuple(field for field in meta.local_concrete_fields if field is not meta.auto_field)
    query = InsertQuery(model)
    query.insert_values(list(fields), [row])
    compiler = query.get_compiler(using=alias)
    compiler.returning_fields = [meta.pk]
    statements = compiler.as_sql()
    if len(statements) != 1 or compiler.get_converters([meta.pk.get_col(meta.db_table)]):
        return compiled.UNCACHEABLE
    sql, params = statements[0]
    # the ORM has run pre_save on this row (auto timestamps): its values, prepared here,
    # are what it bound, or the shape is not this module's to bind
    if _values_of(fields, row, connection, pre_save=False) != list(params):
        return compiled.UNCACHEABLE
    returns_key = bool(connection.features.can_return_columns_from_insert)
    if returns_key and "RETURNING" not in sql.upper():
        return compiled.UNCACHEABLE
    return _Insert(sql, fields, returns_key)


def update(bound: BoundResource, caller: TenantPrincipal, pk: Any, changes: dict[str, Any]) -> int:
    """UPDATE the row `pk` among those the caller reaches (the default rules) with
    `changes` (model attribute names); the number of rows matched."""
    model = bound.model
    alias = bound.tenant.db_alias
    connection = connections[alias]
    fields = [cast(Field, model._meta.get_field(name)) for name in changes]
    pairs = list(zip(fields, changes.values(), strict=True))
    if not all(_plain(field, value) for field, value in pairs):
        return scoped(bound, caller).filter(pk=pk).update(**changes)
    prepared = [field.get_db_prep_save(value, connection=connection) for field, value in pairs]
    # a NULL is written as a literal, not a parameter: each pattern of NULLs is a shape
    nulls = tuple((field.attname, value is None) for field, value in zip(fields, prepared, strict=True))
    shape = _cache.get_or_compile(
        ("update", bound, alias, shape_key(caller), nulls),
        lambda: _compile_update(bound, caller, changes, prepared),
        MAX_SHAPES,
    )
    if not isinstance(shape, _Update) or not all(map(_plain, fields, prepared)):
        return scoped(bound, caller).filter(pk=pk).update(**changes)
    params = [value for value in prepared if value is not None] + compiled.bind(shape.where, [caller.id, pk])
    with connection.cursor() as cursor:
        cursor.execute(shape.sql, params)
        return cursor.rowcount


def _compile_update(
    bound: BoundResource, caller: TenantPrincipal, changes: dict[str, Any], prepared: list[Any]
) -> _Update | compiled.Uncacheable:
    kinds = ["int", value_type(bound.resource.primary).marker_kind]
    markers = [compiled.marker(kind, index) for index, kind in enumerate(kinds)]
    if not isinstance(markers[0], int) or markers[1] is None:
        return compiled.UNCACHEABLE
    marked = dataclasses.replace(caller, id=markers[0])
    queryset = scoped(bound, marked).filter(pk=markers[1])
    query = cast(UpdateQuery, queryset.query.chain(UpdateQuery))
    query.add_update_values(changes)
    query.get_initial_alias()
    if query.count_active_tables() != 1 or query.related_updates:
        return compiled.UNCACHEABLE  # the ORM would read the keys first (joins, parent tables)
    compiler = query.get_compiler(using=bound.tenant.db_alias)
    sql, params = compiler.as_sql()
    bound_values = [value for value in prepared if value is not None]
    if list(params[: len(bound_values)]) != bound_values:
        return compiled.UNCACHEABLE
    where = compiled.trace(list(params[len(bound_values) :]), markers)
    if where is None:
        return compiled.UNCACHEABLE
    return _Update(sql, where)


def clear() -> None:
    _cache.clear()
