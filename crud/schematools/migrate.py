"""Plan and apply the DDL that brings a tenant's database to its schema.

The plan is a list of steps over Django's schema editor, so the SQL is the engine's
own; `sql()` collects it for printing, `apply()` runs it (in one transaction where the
engine can roll DDL back). Destructive steps (drop, narrowing) run only when allowed.
A missing column is added as `sogoms migrate` adds it (tenants.schema_sync): one ADD
COLUMN with a database default, never a rebuild of the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from crud.dynamic import concrete_field, schema_models
from crud.fieldtypes import find
from crud.schematools.diff import Difference, diff_tenant
from crud.schematools.shapes import ColumnShape, TableShape, database_shapes
from tenants.config import Tenant
from tenants.schema_sync import TableChange, adopted_field

Run = Callable[[BaseDatabaseSchemaEditor], None]  # one step's DDL, through the schema editor


@dataclass(frozen=True)
class Step:
    difference: Difference
    run: Run

    @property
    def destructive(self) -> bool:
        return self.difference.destructive


def _field_for(shape: ColumnShape, like: models.Field | None, column: str) -> models.Field:
    """A Django field standing for a column as it is in the database."""
    options: dict[str, Any] = {"null": shape.nullable, "db_column": column, "primary_key": shape.primary}
    kind = find(shape.type)
    # a column of no known type is dropped or altered as what it can always be read as
    field_obj = kind.existing_field(shape, like, options) if kind else models.TextField(**options)
    field_obj.set_attributes_from_name(like.name if like is not None else column)
    return field_obj


def _by_column(model: type[models.Model], column: str) -> models.Field:
    """The model's field of a column the schema has (the diff found the column in the model)."""
    for field_obj in model._meta.local_fields:
        if field_obj.column == column:
            return field_obj
    raise LookupError(f"{model._meta.db_table} has no column {column!r}")


# Drops before alterations: on SQLite an alteration rebuilds the table from the model,
# which would already lose an extra column that a later step then fails to drop.
STEP_ORDER = (
    "missing_table",
    "extra_index",
    "extra_unique",
    "extra_column",
    "column",
    "missing_column",
    "missing_index",
    "missing_unique",
    "extra_table",
)


def plan(tenant: Tenant, *, foreign_tables: tuple[str, ...] = ()) -> list[Step]:
    models_by_table = {model._meta.db_table: model for model in schema_models(tenant).values()}
    differences = sorted(
        diff_tenant(tenant, foreign_tables=foreign_tables), key=lambda d: STEP_ORDER.index(d.kind)
    )
    connection = connections[tenant.db_alias]
    actual = database_shapes(connection)
    vendor = connection.vendor
    steps: list[Step] = []
    for difference in differences:
        if difference.kind == "extra_table":  # a table the schema does not have: no model
            steps.append(Step(difference, _drop_table_step(difference.table)))
        else:
            model = models_by_table[difference.table]
            steps.append(Step(difference, _table_step(model, difference, actual, vendor)))
    return steps


def _table_step(
    model: type[models.Model], difference: Difference, actual: dict[str, TableShape], vendor: str
) -> Run:
    """The DDL of a difference in a table the schema has."""
    kind = difference.kind
    if kind == "missing_table":
        return lambda editor: editor.create_model(model)
    if kind in ("missing_index", "missing_unique"):
        return _add_index_step(model, difference)
    if kind in ("extra_index", "extra_unique"):
        return _drop_index_step(difference)
    if kind == "missing_column":
        new = _by_column(model, difference.name)
        change = TableChange(model, adopted_field(model, new, vendor), unique=new.unique)
        return change.run
    columns = actual[difference.table].columns
    if kind == "column":
        new = _by_column(model, difference.name)
        old = _field_for(columns[difference.name], new, difference.name)
        old.model = model
        return lambda editor: editor.alter_field(model, old, new)
    if kind == "extra_column":
        old = _field_for(columns[difference.name], None, difference.name)
        old.model = model
        return lambda editor: editor.remove_field(model, old)
    raise ValueError(f"no step for a difference of kind {kind!r}")


def _drop_table_step(table: str) -> Run:
    return lambda editor: editor.execute(editor.sql_delete_table % {"table": editor.quote_name(table)})


def _add_index_step(model: type[models.Model], difference: Difference) -> Run:
    columns = tuple(difference.name.split(","))
    for index in model._meta.indexes:
        if tuple(concrete_field(model, n).column for n in index.fields) == columns:
            return lambda editor: editor.add_index(model, index)
    for constraint in model._meta.constraints:
        if not isinstance(constraint, models.UniqueConstraint):  # the schema declares no other
            continue
        if tuple(concrete_field(model, n).column for n in constraint.fields) == columns:
            return lambda editor: editor.add_constraint(model, constraint)
    field_obj = _by_column(model, columns[0])
    unique = difference.kind == "missing_unique"
    index = models.Index(
        fields=[field_obj.name], name=f"{model._meta.db_table[:20]}_{field_obj.column[:20]}_ix"
    )
    if unique:
        constraint = models.UniqueConstraint(fields=[field_obj.name], name=index.name.replace("_ix", "_uq"))
        return lambda editor: editor.add_constraint(model, constraint)
    return lambda editor: editor.add_index(model, index)


def _drop_index_step(difference: Difference) -> Run:
    columns = difference.name.split(",")

    def run(editor: BaseDatabaseSchemaEditor) -> None:
        connection = editor.connection
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, difference.table)
        for name, info in constraints.items():
            if (
                list(info["columns"] or ()) == columns
                and not info.get("primary_key")
                and not info.get("foreign_key")
            ):
                if info.get("unique") and connection.vendor != "sqlite":
                    editor.execute(
                        editor.sql_delete_unique
                        % {"table": editor.quote_name(difference.table), "name": editor.quote_name(name)}
                    )
                else:
                    editor.execute(
                        editor.sql_delete_index
                        % {"table": editor.quote_name(difference.table), "name": editor.quote_name(name)}
                    )
                return

    return run


def sql(tenant: Tenant, steps: list[Step]) -> list[str]:
    connection = connections[tenant.db_alias]
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        for step in steps:
            step.run(editor)
    return list(editor.collected_sql)


def apply(tenant: Tenant, steps: list[Step]) -> None:
    connection = connections[tenant.db_alias]
    # one transaction where the engine can roll DDL back (SQLite, PostgreSQL; not MySQL)
    with connection.schema_editor(atomic=connection.features.can_rollback_ddl) as editor:
        for step in steps:
            step.run(editor)
