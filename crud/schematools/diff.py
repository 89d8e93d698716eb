"""The differences between what a tenant's schema declares and its real database."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections

from crud.dynamic import schema_models
from crud.fieldtypes import find
from crud.schematools.shapes import ColumnShape, TableShape, database_shapes, model_shape
from tenants.config import Tenant


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


def expected_shapes(tenant: Tenant) -> dict[str, TableShape]:
    return {model._meta.db_table: model_shape(model) for model in schema_models(tenant).values()}


def diff_tenant(tenant: Tenant, *, foreign_tables: tuple[str, ...] = ()) -> list[Difference]:
    """Schema against database; `foreign_tables` (v1 query tables) are not called extra."""
    return diff_shapes(expected_shapes(tenant), database_shapes(connections[tenant.db_alias]), foreign_tables)


def _narrowing(expected: ColumnShape, actual: ColumnShape) -> bool:
    if expected.type != actual.type:
        return True
    if expected.max_length and actual.max_length and expected.max_length < actual.max_length:
        return True
    if expected.digits and actual.digits and expected.digits < actual.digits:  # both known
        return True
    return actual.nullable and not expected.nullable


def diff_shapes(
    expected: dict[str, TableShape], actual: dict[str, TableShape], foreign_tables: tuple[str, ...] = ()
) -> list[Difference]:
    found: list[Difference] = []
    for table, want in expected.items():
        have = actual.get(table)
        if have is None:
            found.append(Difference("missing_table", table))
            continue
        for name, column in want.columns.items():
            present = have.columns.get(name)
            if present is None:
                found.append(Difference("missing_column", table, name, column.describe()))
            elif not _same(column, present):
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
    for table in sorted(set(actual) - set(expected) - set(foreign_tables)):
        found.append(Difference("extra_table", table, destructive=True))
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
