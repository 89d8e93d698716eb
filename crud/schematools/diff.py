"""The differences between what a tenant's schema declares and its real database.

Missing tables and columns are what `sogoms migrate` would add (one plan, in
tenants.schema_sync); the rest (types, sizes, extra columns, indexes) is the schema
CLI's own business, refused when destructive unless asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections

from crud.dynamic import schema_models
from crud.fieldtypes import find
from crud.schematools.shapes import ColumnShape, TableShape, database_shapes, model_shape
from tenants.config import Tenant
from tenants.schema_sync import table_changes

# Tables adopted as they are: the built-in users table may be the Go original's, which
# keeps running beside SOGOMS; its columns are accepted whatever their sizes and defaults.
ADOPTED_AS_IS = ("users",)


@dataclass(frozen=True)
class Difference:
    kind: str  # missing_table, extra_table, missing_column, extra_column, column, missing_index, extra_index
    table: str
    name: str = ""  # column name, or the columns of an index
    expected: str = ""
    actual: str = ""
    destructive: bool = False

    def __str__(self) -> str:
        where = f"{self.table}.{self.name}" if self.name else self.table
        text = f"{self.kind.replace('_', ' ')}: {where}"
        if self.expected or self.actual:
            text += f" (schema: {self.expected or '-'}; database: {self.actual or '-'})"
        return text


def diff_tenant(tenant: Tenant, *, foreign_tables: tuple[str, ...] = ()) -> list[Difference]:
    """Schema against database; `foreign_tables` (v1 query tables) are not called extra.

    A missing column is reported as `sogoms migrate` would add it (tenants.schema_sync's
    plan, with its database default). The users table is adopted as it is (often the Go
    original's): only the columns it lacks are differences, never its own columns' shape.
    """
    connection = connections[tenant.db_alias]
    actual = database_shapes(connection)
    models_by_table = {model._meta.db_table: model for model in schema_models(tenant).values()}
    found: list[Difference] = []
    for table, model in models_by_table.items():
        have = actual.get(table)
        if have is None:
            found.append(Difference("missing_table", table))
            continue
        found.extend(
            Difference("missing_column", table, change.column, change.definition(connection))
            for change in table_changes(connection, model, set(have.columns))
        )
        if table not in ADOPTED_AS_IS:
            found.extend(diff_table(table, model_shape(model), have))
    for table in sorted(set(actual) - set(models_by_table) - set(foreign_tables)):
        found.append(Difference("extra_table", table, destructive=True))
    return found


def _narrowing(expected: ColumnShape, actual: ColumnShape) -> bool:
    if expected.type != actual.type:
        return True
    if expected.max_length and actual.max_length and expected.max_length < actual.max_length:
        return True
    if expected.digits and actual.digits and expected.digits < actual.digits:  # both known
        return True
    return actual.nullable and not expected.nullable


def diff_table(table: str, want: TableShape, have: TableShape) -> list[Difference]:
    """The differences of the columns both sides have, extra columns, unique and indexes."""
    found: list[Difference] = []
    for name, column in want.columns.items():
        present = have.columns.get(name)
        if present is not None and not _same(column, present):
            found.append(
                Difference(
                    "column",
                    table,
                    name,
                    column.describe(),
                    present.describe(),
                    destructive=_narrowing(column, present),
                )
            )
    for name, column in have.columns.items():
        if name not in want.columns:
            found.append(Difference("extra_column", table, name, "", column.describe(), destructive=True))
    for kind, want_set, have_set in (
        ("unique", want.unique, have.unique),
        ("index", want.indexes, have.indexes),
    ):
        for columns in sorted(want_set - have_set):
            found.append(Difference(f"missing_{kind}", table, ",".join(columns)))
        for columns in sorted(have_set - want_set):
            found.append(Difference(f"extra_{kind}", table, ",".join(columns)))
    return found


def _same(expected: ColumnShape, actual: ColumnShape) -> bool:
    # SQLite keeps no precision for decimals: an unknown size is not a difference
    digits_known = expected.digits is not None and actual.digits is not None
    same_type = expected.type == actual.type or (not actual.width_known and _both_integers(expected, actual))
    return (
        same_type
        and expected.nullable == actual.nullable
        and expected.max_length == actual.max_length
        and (not digits_known or expected.digits == actual.digits)
        and expected.default == actual.default
    )


def _both_integers(expected: ColumnShape, actual: ColumnShape) -> bool:
    """SQLite's auto keys are `integer` whatever the width: any two integer types match."""
    kinds = [find(shape.type) for shape in (expected, actual)]
    return all(kind is not None and kind.integer for kind in kinds)
