"""Fields of an existing table, read from the database (apps declared by v1 query YAML).

The Django introspection API gives each column's type as a Django field class, as
`inspectdb` does; the field-type registry maps that back to the schema types the engine
knows, and each type reads its own sizes and defaults.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from crud.fieldtypes import column_kind, field_type, find, normalize_default
from crud.resource import MISSING, FieldSpec


def table_fields(alias: str, table: str, *, owner_column: str | None = None) -> tuple[FieldSpec, ...]:
    connection = connections[alias]
    with connection.cursor() as cursor:
        if table not in connection.introspection.table_names(cursor):
            raise ImproperlyConfigured(f"table {table!r} does not exist in database {alias}")
        description = connection.introspection.get_table_description(cursor, table)
        primary = connection.introspection.get_primary_key_column(cursor, table)
    specs = []
    for column in description:
        django_type, kind = column_kind(connection, column)
        column_type = field_type(kind)
        is_primary = column.name == primary
        auto = django_type.endswith("AutoField") or (is_primary and column_type.can_be_auto)
        default = literal_default(kind, getattr(column, "default", None))
        specs.append(
            FieldSpec(
                name=column.name,
                type=kind,
                primary=is_primary,
                auto=auto,
                required=not column.null_ok and default is None and not auto,
                default=MISSING if default is None else default,
                owner=column.name == owner_column,
                timestamp=None,
                **column_type.spec_options(column),
            )
        )
    if not any(spec.primary for spec in specs):
        raise ImproperlyConfigured(f"table {table!r} has no primary key")
    return tuple(specs)


def table_references(alias: str, table: str) -> dict[str, tuple[str, str]]:
    """The table's foreign keys as the database declares them: {column: (table, column)}."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        relations = connection.introspection.get_relations(cursor, table)
    return {
        column: (target_table, target_column) for column, (target_column, target_table) in relations.items()
    }


def literal_default(kind: str, raw: Any) -> Any:
    """A column's database default as a value of the schema type, or None (none, or an
    expression such as CURRENT_TIMESTAMP that only the database can evaluate)."""
    text = normalize_default(raw)
    column_type = find(kind)
    if text is None or column_type is None:
        return None
    return column_type.literal_default(text)
