"""Create or extend a tenant's tables from its models, without ever rewriting a table.

A missing table is created from its model through Django's schema editor. A table that
exists is adopted as it is: often the Go original made it and still writes to it with
its own SQL. Its columns keep their types, defaults and nullability; nothing is dropped
and no table is rebuilt (SQLite's schema editor rebuilds a table to add a NOT NULL or
defaulted column, and Django's MariaDB path drops the default it added). Each missing
column is added by one `ALTER TABLE ... ADD COLUMN` that carries a database default, so
an INSERT that does not name it (the Go system's) still works:

- the model's `db_default`, or its constant Python default (`is_active` -> DEFAULT 1);
- `auto_now`/`auto_now_add` -> DEFAULT CURRENT_TIMESTAMP where the engine takes that in
  ADD COLUMN (MariaDB, MySQL; SQLite takes only constant defaults);
- otherwise the column is added nullable without default: the honest choice where no
  value is known for the rows that exist or that others insert (SQLite's `updated_at`).
  Unique columns too, as NULLs do not collide in a unique index.

`plan()` says what would be done; `sync_tenant_tables()` does it; the schema CLI's diff
reports the same plan (`crud.schematools.diff`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models.functions import Now

from sogoms_site.errors import StateConflict
from tenants import hooks
from tenants.config import Tenant
from tenants.usermodel import user_model

# A constant default of these types can be written as a column's DEFAULT on every engine.
CONSTANT_DEFAULT_TYPES = (bool, int, float, str)


def tenant_models(tenant: Tenant) -> list[type[models.Model]]:
    """Every table SOGOMS manages for a tenant: users, then what the table providers add."""
    found: list[type[models.Model]] = [user_model(tenant)]
    for provider in hooks.table_providers:
        found.extend(model for model in provider(tenant) if model not in found)
    return found


@dataclass(frozen=True)
class TableChange:
    """One change `sogoms migrate` makes: a table created, or a column added to a table.

    `field` is the column as it will be added (`adopted_field`), None for a new table;
    `unique`: a unique index follows the column (never inline: SQLite cannot ADD COLUMN
    ... UNIQUE).
    """

    model: type[models.Model]
    field: models.Field | None = None
    unique: bool = False

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def column(self) -> str:
        return self.field.column if self.field is not None else ""

    def definition(self, connection: BaseDatabaseWrapper) -> str:
        """The added column's SQL definition (type, nullability, default); "" for a table."""
        if self.field is None:
            return ""
        # only rendering: an editor that is not entered starts no transaction
        editor = connection.schema_editor(collect_sql=True, atomic=False)
        definition, params = editor.column_sql(self.model, self.field)
        text = str(definition) % tuple(editor.quote_value(p) for p in params or ())
        return text + (" (unique index)" if self.unique else "")

    def run(self, editor: BaseDatabaseSchemaEditor) -> None:
        if self.field is None:
            editor.create_model(self.model)
            return
        # The base editor's ADD COLUMN, on purpose: SQLite's own add_field rebuilds the
        # table from the model for any NOT NULL or defaulted column.
        BaseDatabaseSchemaEditor.add_field(editor, self.model, self.field)
        if self.unique:  # an index of its own (Django's add_constraint rebuilds on SQLite)
            name = f"{self.table[:24]}_{self.column[:24]}_uniq"
            editor.execute(
                editor.sql_create_unique_index
                % {
                    "name": editor.quote_name(name),
                    "table": editor.quote_name(self.table),
                    "columns": editor.quote_name(self.column),
                    "include": "",
                    "condition": "",
                }
            )

    def done(self, connection: BaseDatabaseWrapper) -> str:
        """What was done, for people."""
        if self.field is None:
            return f"created table {self.table}"
        return f"added column {self.table}.{self.column} {self.definition(connection)}"


def adopted_field(model: type[models.Model], field: models.Field, vendor: str) -> models.Field:
    """The column to add to an existing table for the model's `field` (module docstring).

    A copy of the field with the database default and nullability it is added with. Its
    Python default and auto timestamps are taken off: they only steer how Django's schema
    editor fills existing rows, which the database default does here.
    """
    if field.primary_key:
        raise StateConflict(
            f"{model._meta.db_table} exists without its primary key column {field.column!r}; "
            "SOGOMS does not add a key to an existing table, add it by hand"
        )
    adopted = copy.copy(field)
    adopted.__dict__.pop("_db_default_expression", None)  # cached from the original's default
    adopted.default = models.NOT_PROVIDED
    for flag in ("auto_now", "auto_now_add"):
        if hasattr(adopted, flag):
            setattr(adopted, flag, False)
    adopted._unique = False  # type: ignore[attr-defined]  # the unique index follows (TableChange.run)
    db_default = None if field.unique else _database_default(field, vendor)
    if db_default is None:
        adopted.db_default = models.NOT_PROVIDED
        adopted.null = True
    else:
        adopted.db_default = db_default
    return adopted


def _database_default(field: models.Field, vendor: str) -> Any:
    """The database default a column for `field` can be added with, or None."""
    default = field.db_default if field.db_default is not models.NOT_PROVIDED else None
    if isinstance(default, models.Value):
        default = default.value
    if default is None and field.has_default():
        default = field.default
    if default is None:
        auto = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        if auto and isinstance(field, models.DateTimeField) and vendor != "sqlite":
            return Now()
        return None
    if hasattr(default, "resolve_expression"):  # an expression: SQLite's ADD COLUMN takes none
        return default if vendor != "sqlite" else None
    if callable(default) or not isinstance(default, CONSTANT_DEFAULT_TYPES):
        return None
    # booleans as 1/0, what every engine stores (MySQLdb would print True as b'1')
    return models.Value(int(default) if isinstance(default, bool) else default)


def table_changes(
    connection: BaseDatabaseWrapper, model: type[models.Model], columns: set[str] | None
) -> list[TableChange]:
    """What one model's table needs: created when `columns` is None (no table), else the
    columns it lacks, added as `adopted_field` says."""
    if columns is None:
        return [TableChange(model)]
    return [
        TableChange(model, adopted_field(model, field, connection.vendor), unique=field.unique)
        for field in model._meta.local_fields
        if field.column not in columns
    ]


def _existing_columns(connection: BaseDatabaseWrapper, tables: Iterable[str]) -> dict[str, set[str]]:
    """The column names of those of `tables` that exist in the database."""
    with connection.cursor() as cursor:
        present = set(connection.introspection.table_names(cursor))
        return {
            table: {column.name for column in connection.introspection.get_table_description(cursor, table)}
            for table in tables
            if table in present
        }


def plan(tenant: Tenant) -> list[TableChange]:
    """Everything `sogoms migrate` would do to the tenant's database, in order."""
    connection = connections[tenant.db_alias]
    wanted = tenant_models(tenant)
    present = _existing_columns(connection, [model._meta.db_table for model in wanted])
    changes: list[TableChange] = []
    for model in wanted:
        changes.extend(table_changes(connection, model, present.get(model._meta.db_table)))
    return changes


def sync_tenant_tables(tenant: Tenant) -> list[str]:
    """Bring the tenant's database up to its models; returns what was done, for people."""
    connection = connections[tenant.db_alias]
    changes = plan(tenant)
    if not changes:
        return []
    with connection.schema_editor() as editor:
        for change in changes:
            change.run(editor)
    return [change.done(connection) for change in changes]
