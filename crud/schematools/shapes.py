"""Tables reduced to comparable shapes, from models (what the schema wants) or a database.

Both sides speak the schema's types (`int`, `string`...), so a MariaDB column and an
SQLite column of the same declaration compare equal; the DDL stays Django's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import models

from crud.dynamic import concrete_field

# one reading of column types, sizes and defaults, shared with crud.introspect
from crud.fieldtypes import column_kind, field_type, kind_of_django_type, normalize_default
from crud.resource import PLATFORM_TABLE_PREFIX

IGNORED_TABLES = ("django_migrations", "sqlite_sequence")


@dataclass(frozen=True)
class ColumnShape:
    type: str
    nullable: bool
    primary: bool = False
    max_length: int | None = None
    digits: tuple[int, int] | None = None
    default: str | None = None  # normalized text of the DB default, None when there is none
    auto: bool = False
    width_known: bool = True  # False for SQLite's auto keys: `integer` serves int and bigint

    def describe(self) -> str:
        text = self.type
        if self.max_length:
            text += f"({self.max_length})"
        if self.digits:
            text += f"({self.digits[0]},{self.digits[1]})"
        text += " null" if self.nullable else " not null"
        if self.default is not None:
            text += f" default {self.default}"
        return text


@dataclass
class TableShape:
    columns: dict[str, ColumnShape] = field(default_factory=dict)
    unique: set[tuple[str, ...]] = field(default_factory=set)
    indexes: set[tuple[str, ...]] = field(default_factory=set)


def _field_kind(field_obj: models.Field) -> str:
    if isinstance(field_obj, models.ForeignKey):
        return _field_kind(field_obj.target_field)
    return kind_of_django_type(field_obj.get_internal_type())


def model_shape(model: type[models.Model]) -> TableShape:
    shape = TableShape()
    for field_obj in model._meta.local_fields:
        kind = _field_kind(field_obj)
        default = None
        if isinstance(field_obj.db_default, models.Value):  # the only DB default a schema sets
            default = normalize_default(field_obj.db_default.value)
        shape.columns[field_obj.column] = ColumnShape(
            type=kind,
            nullable=field_obj.null,
            primary=field_obj.primary_key,
            default=default,
            auto=isinstance(field_obj, models.AutoField | models.BigAutoField),
            **field_type(kind).model_shape_options(field_obj),
        )
        if field_obj.unique and not field_obj.primary_key:
            shape.unique.add((field_obj.column,))
        # the stubs lack Field.db_index, which every Django field has
        elif field_obj.db_index or isinstance(field_obj, models.ForeignKey):  # type: ignore[attr-defined]
            shape.indexes.add((field_obj.column,))
    for index in model._meta.indexes:
        shape.indexes.add(tuple(concrete_field(model, name).column for name in index.fields))
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint):
            shape.unique.add(tuple(concrete_field(model, name).column for name in constraint.fields))
    return shape


def database_shapes(connection: Any) -> dict[str, TableShape]:
    shapes = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table in IGNORED_TABLES or table.startswith(PLATFORM_TABLE_PREFIX):
                continue
            shapes[table] = _table_shape(connection, cursor, table)
    return shapes


def _table_shape(connection: Any, cursor: Any, table: str) -> TableShape:
    introspection = connection.introspection
    shape = TableShape()
    primary = introspection.get_primary_key_column(cursor, table)
    for column in introspection.get_table_description(cursor, table):
        django_type, kind = column_kind(connection, column)
        shape.columns[column.name] = ColumnShape(
            type=kind,
            nullable=bool(column.null_ok) and column.name != primary,
            primary=column.name == primary,
            default=normalize_default(getattr(column, "default", None)),
            auto=django_type.endswith("AutoField"),
            width_known=not (connection.vendor == "sqlite" and django_type.endswith("AutoField")),
            **field_type(kind).shape_options(column),
        )
    for constraint in introspection.get_constraints(cursor, table).values():
        columns = tuple(constraint["columns"] or ())
        if not columns or constraint.get("primary_key") or constraint.get("check"):
            continue
        if constraint.get("unique"):
            shape.unique.add(columns)
        elif constraint.get("index") or constraint.get("foreign_key"):
            shape.indexes.add(columns)
    shape.indexes -= shape.unique
    return shape
