"""Tables reduced to comparable shapes, from models (what the schema wants) or a database.

Both sides speak the schema's types (`int`, `string`...), so a MariaDB column and an
SQLite column of the same declaration compare equal; the DDL stays Django's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import models

from crud.introspect import DJANGO_TYPES, _max_length, column_kind  # one reading of column types and sizes

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


def normalize_default(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if text.upper() == "NULL":
        return None
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1].replace("''", "'")
    lowered = text.lower()
    if lowered in ("true", "false"):
        return "1" if lowered == "true" else "0"
    if re.fullmatch(r"-?\d+\.0+", text):
        text = text.split(".")[0]
    return text


def _field_kind(field_obj: models.Field) -> str:
    if isinstance(field_obj, models.ForeignKey):
        return _field_kind(field_obj.target_field)
    return DJANGO_TYPES.get(field_obj.get_internal_type(), "string")


def model_shape(model: type[models.Model]) -> TableShape:
    shape = TableShape()
    for field_obj in model._meta.local_fields:
        kind = _field_kind(field_obj)
        default = None
        if field_obj.db_default is not models.NOT_PROVIDED:
            default = normalize_default(field_obj.db_default.value)
        shape.columns[field_obj.column] = ColumnShape(
            type="int" if kind == "int" and field_obj.primary_key else kind,
            nullable=field_obj.null,
            primary=field_obj.primary_key,
            max_length=field_obj.max_length if kind == "string" else None,
            digits=(field_obj.max_digits, field_obj.decimal_places) if kind == "decimal" else None,
            default=default,
            auto=isinstance(field_obj, models.AutoField | models.BigAutoField),
        )
        if field_obj.unique and not field_obj.primary_key:
            shape.unique.add((field_obj.column,))
        elif field_obj.db_index or isinstance(field_obj, models.ForeignKey):
            shape.indexes.add((field_obj.column,))
    for index in model._meta.indexes:
        shape.indexes.add(tuple(model._meta.get_field(name).column for name in index.fields))
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint):
            shape.unique.add(tuple(model._meta.get_field(name).column for name in constraint.fields))
    return shape


def _digits(column) -> tuple[int, int] | None:
    """MySQL reports precision and scale; SQLite keeps them in `decimal(6, 2)`."""
    if column.precision is not None:
        return (int(column.precision), int(column.scale or 0))
    declared = re.search(r"\((\d+)\s*,\s*(\d+)\)", str(column.type_code))
    return (int(declared[1]), int(declared[2])) if declared else None


def database_shapes(connection) -> dict[str, TableShape]:
    shapes = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table in IGNORED_TABLES:
                continue
            shapes[table] = _table_shape(connection, cursor, table)
    return shapes


def _table_shape(connection, cursor, table: str) -> TableShape:
    introspection = connection.introspection
    shape = TableShape()
    primary = introspection.get_primary_key_column(cursor, table)
    for column in introspection.get_table_description(cursor, table):
        django_type, kind = column_kind(connection, column)
        shape.columns[column.name] = ColumnShape(
            type=kind,
            nullable=bool(column.null_ok) and column.name != primary,
            primary=column.name == primary,
            max_length=_max_length(column) if kind == "string" else None,
            digits=_digits(column) if kind == "decimal" else None,
            default=normalize_default(getattr(column, "default", None)),
            auto=django_type.endswith("AutoField"),
            width_known=not (connection.vendor == "sqlite" and django_type.endswith("AutoField")),
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
