"""`init`: write a schema from an existing database, to adopt a Go-era app.

Columns become fields of the schema's types; primary keys, auto-increment, sizes,
nullability, defaults, foreign keys, unique and composite indexes are kept. A `user_id`
column pointing at `users` becomes the owner column (`filter: owner`).
"""

from __future__ import annotations

from typing import Any

from django.db import connections

from crud.fieldtypes import field_type
from crud.frontends.schema import BUILTIN_USER_FIELDS
from crud.introspect import literal_default
from crud.schematools.shapes import ColumnShape, TableShape, database_shapes

TIMESTAMPS = ("created_at", "updated_at")


def _default(column: ColumnShape) -> Any:
    return literal_default(column.type, column.default)


def _field(name: str, column: ColumnShape, relations: dict[str, Any], table: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": column.type}
    if column.primary:
        entry["primary"] = True
    if column.auto:
        entry["auto"] = True
    entry.update(field_type(column.type).schema_entries(column))
    default = _default(column)
    if default is not None:
        entry["default"] = default
    if not column.nullable and not column.primary and default is None:
        entry["required"] = True
    if name in relations:
        target_column, target_table = relations[name]
        entry["foreign"] = f"{target_table}.{target_column}"
        if name == "user_id" and target_table == "users" and table != "users":
            entry["filter"] = "owner"
            entry.pop("required", None)
    return entry


def schema_from_database(alias: str) -> tuple[dict[str, Any], list[str]]:
    """The schema YAML data of a database, and notes on what could not be carried over."""
    connection = connections[alias]
    shapes = database_shapes(connection)
    notes: list[str] = []
    with connection.cursor() as cursor:
        relations = {t: connection.introspection.get_relations(cursor, t) for t in shapes}
    tables = {
        table: _table_entry(table, shape, relations[table], notes) for table, shape in sorted(shapes.items())
    }
    return {"tables": tables}, notes


def _table_entry(
    table: str, shape: TableShape, relations: dict[str, Any], notes: list[str]
) -> dict[str, Any]:
    timestamps = all(shape.columns.get(name, ColumnShape("", True)).type == "datetime" for name in TIMESTAMPS)
    fields = {}
    for name, column in shape.columns.items():
        if timestamps and name in TIMESTAMPS:
            continue
        if table == "users" and name not in BUILTIN_USER_FIELDS:
            notes.append(f"users.{name}: not a built-in users column, left out")
            continue
        fields[name] = _field(name, column, relations, table)
    if table == "users":
        for name, auth in (("email", "login"), ("password", "password")):
            if name in fields:
                fields[name]["auth"] = auth
        if "password" in fields:
            fields["password"]["hidden"] = True
    entry: dict[str, Any] = {"fields": fields}
    if table != "users":
        entry["crud"] = ["list", "show", "create", "update", "delete"]
    entry["timestamps"] = timestamps
    _add_indexes(entry, shape)
    return entry


def _add_indexes(entry: dict[str, Any], shape: TableShape) -> None:
    """Single-column indexes as field flags, composite ones as the table's lists."""
    fields = entry["fields"]
    unique = sorted(list(group) for group in shape.unique if len(group) > 1)
    indexes = sorted(list(group) for group in shape.indexes if len(group) > 1)
    for group in shape.unique:
        if len(group) == 1 and group[0] in fields:
            fields[group[0]]["unique"] = True
    for group in shape.indexes:
        if len(group) == 1 and group[0] in fields and "foreign" not in fields[group[0]]:
            fields[group[0]]["index"] = True
    if unique:
        entry["unique"] = unique
    if indexes:
        entry["indexes"] = indexes
