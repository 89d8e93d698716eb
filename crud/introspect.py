"""Fields of an existing table, read from the database (apps declared by v1 query YAML).

The Django introspection API gives each column's type as a Django field class, as
`inspectdb` does; that is mapped back to the schema types the engine knows.
"""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from crud.resource import MISSING, FieldSpec

# Django's field class names (what introspection answers) -> the schema's types.
DJANGO_TYPES = {
    "AutoField": "int",
    "SmallAutoField": "int",
    "BigAutoField": "bigint",
    "IntegerField": "int",
    "SmallIntegerField": "int",
    "PositiveIntegerField": "int",
    "PositiveSmallIntegerField": "int",
    "PositiveBigIntegerField": "bigint",
    "BigIntegerField": "bigint",
    "CharField": "string",
    "EmailField": "string",
    "URLField": "string",
    "SlugField": "string",
    "TextField": "text",
    "BooleanField": "bool",
    "NullBooleanField": "bool",
    "DateField": "date",
    "DateTimeField": "datetime",
    "DecimalField": "decimal",
    "FloatField": "float",
    "JSONField": "json",
}


def column_kind(connection, column) -> tuple[str, str]:
    """(Django field class name, schema type) of an introspected column."""
    django_type = connection.introspection.get_field_type(column.type_code, column)
    kind = DJANGO_TYPES.get(django_type, "string")
    if getattr(column, "data_type", "") == "tinyint" and column.internal_size == 1:
        kind = "bool"  # MySQL's BOOLEAN is TINYINT(1)
    if kind == "text" and getattr(column, "has_json_constraint", False):
        kind = "json"  # SQLite and MariaDB keep JSON as checked text
    return django_type, kind


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
        is_primary = column.name == primary
        auto = django_type.endswith("AutoField") or (is_primary and kind in ("int", "bigint"))
        default = literal_default(kind, getattr(column, "default", None))
        specs.append(
            FieldSpec(
                name=column.name,
                type=kind,
                primary=is_primary,
                auto=auto,
                required=not column.null_ok and default is None and not auto,
                default=MISSING if default is None else default,
                max_length=_max_length(column) if kind == "string" else None,
                max_digits=column.precision or 12,
                decimal_places=column.scale or 2,
                owner=column.name == owner_column,
                timestamp=None,
            )
        )
    if not any(spec.primary for spec in specs):
        raise ImproperlyConfigured(f"table {table!r} has no primary key")
    return tuple(specs)


def _max_length(column) -> int | None:
    """MySQL reports the size; SQLite keeps it in the declared type, `VARCHAR(120)`."""
    size = column.internal_size or column.display_size
    if size:
        return int(size)
    declared = re.search(r"\((\d+)\)", str(column.type_code))
    return int(declared[1]) if declared else None


def literal_default(kind: str, raw) -> object:
    """A column's database default as a value of the schema type, or None (none, or an
    expression such as CURRENT_TIMESTAMP that only the database can evaluate)."""
    from crud.schematools.shapes import normalize_default

    text = normalize_default(raw)
    if text is None:
        return None
    if kind in ("int", "bigint"):
        return int(text) if text.lstrip("-").isdigit() else None
    if kind == "bool":
        return text in ("1", "true") if text in ("0", "1", "true", "false") else None
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            return None
    if kind in ("string", "decimal"):
        return text
    return None
