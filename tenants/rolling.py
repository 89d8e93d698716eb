"""The control database's migration steps a release still running beside the new one breaks.

In a rolling deploy the old code serves requests while the new code's migrations run, so
a migration must only *expand* the schema: add tables, nullable columns, columns with a
database default, indexes. Whatever the old code still names or writes is *contracted*
(dropped, renamed, narrowed, made NOT NULL) in a later deploy, once no old code runs.
`sogoms migrate --rolling` refuses the steps `unsafe_steps` finds (docs/operations.md,
"Zero-downtime deploys"). The tenants' own tables need no check: `sogoms migrate` only
ever adds to them (tenants.schema_sync), each added column nullable or with a default.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connections, migrations, models
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from django.db.migrations.operations.fields import FieldOperation
from django.db.migrations.operations.models import ModelOperation
from django.db.migrations.state import ProjectState


def _narrowed(old: models.Field, new: models.Field) -> str | None:
    """Why `new` is not a column the old code can keep reading and writing as `old`."""
    if type(old) is not type(new):
        return f"changes its type ({type(old).__name__} to {type(new).__name__})"
    if old.null and not new.null and new.db_default is models.NOT_PROVIDED:
        return "makes it NOT NULL without a database default"
    if old.max_length and new.max_length and new.max_length < old.max_length:
        return f"shortens it ({old.max_length} to {new.max_length})"
    old_digits = getattr(old, "max_digits", None)
    new_digits = getattr(new, "max_digits", None)
    if old_digits and new_digits and new_digits < old_digits:
        return f"takes digits away ({old_digits} to {new_digits})"
    return None


def _reason(operation: Operation, app_label: str, state: ProjectState) -> str | None:
    """Why `operation` (applied to `state`) breaks the release running beside it, or None."""
    if isinstance(operation, migrations.DeleteModel):
        return "drops a table the running release reads"
    if isinstance(operation, migrations.RemoveField):
        return "drops a column the running release reads"
    if isinstance(operation, (migrations.RenameModel, migrations.RenameField, migrations.AlterModelTable)):
        return "renames what the running release names"
    if isinstance(operation, migrations.AddField):
        field = operation.field
        if not field.null and field.db_default is models.NOT_PROVIDED and not field.many_to_many:
            # Django fills the rows there are from `default`, then drops it from the column.
            return "adds a NOT NULL column without a database default: the running release's INSERTs fail"
        return None
    if isinstance(operation, migrations.AlterField):
        old = state.models[app_label, operation.model_name_lower].fields.get(operation.name_lower)
        return _narrowed(old, operation.field) if old is not None else None
    if isinstance(operation, migrations.RunSQL):
        return "runs SQL that cannot be checked"
    return None


def _model_of(operation: Operation, app_label: str) -> tuple[str, str] | None:
    """The (app, model) an operation changes; None for SQL, Python and the like."""
    if isinstance(operation, FieldOperation):
        return (app_label, operation.model_name_lower)
    if isinstance(operation, ModelOperation):
        return (app_label, operation.name_lower)
    return None


def unsafe_in_plan(plan: Iterable[tuple[Migration, bool]], state: ProjectState) -> list[str]:
    """The steps of `plan` (Django's (migration, backwards) pairs, from `state`) that break
    a running release, for people: "app.migration: what it does: why". A table the plan
    itself creates is no running release's: what happens to it is safe (a first install)."""
    running = set(state.models)  # the tables the running release may use
    found: list[str] = []
    for migration, backwards in plan:
        name = f"{migration.app_label}.{migration.name}"
        if backwards:
            found.append(f"{name}: unapplied: a rollback is a contraction")
            continue
        for operation in migration.operations:
            model = _model_of(operation, migration.app_label)
            if model is None or model in running:
                reason = _reason(operation, migration.app_label, state)
                if reason is not None:
                    found.append(f"{name}: {operation.describe()}: {reason}")
            operation.state_forwards(migration.app_label, state)
    return found


def unsafe_steps(database: str = "default") -> list[str]:
    """What `migrate` would do to `database` that breaks a release running beside it."""
    executor = MigrationExecutor(connections[database])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    state = executor.loader.project_state([key for key in executor.loader.applied_migrations])
    return unsafe_in_plan(plan, state)
