"""Many new rows of one model saved in one INSERT ... RETURNING statement per chunk.

What `QuerySet.bulk_create` stores, without its compiler's work per value: for each value
the ORM asks the field's placeholder, checks for expressions and assembles the SQL, which
for a bulk e-mail of 10,000 rows of 24 columns was as much CPU as rendering the messages.
Here each chunk's statement is put together from the field list alone, and each value is
prepared as the ORM prepares it (`pre_save`, then `get_db_prep_save`); a value that is the
very object of the row before (the sender, the batch, the time of queueing) is prepared
once. Like `bulk_create`, it sends no save signals.

Anything the ORM would compile differently (an expression among the values, a field with
its own placeholder, a model with a parent table, a key set by hand, an engine that cannot
return the keys of a multi-row insert) goes to `bulk_create` itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

from django.db import connections
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)

_UNSET = object()


def insert_rows(model: type[M], rows: Sequence[M], *, using: str, chunk: int) -> list[M]:
    """Save the new instances `rows` of `model` (their keys set on them), at most `chunk`
    to a statement; the rows, in order. Call it inside a transaction for all or none."""
    connection = connections[using]
    meta = model._meta
    fields = [field for field in meta.local_concrete_fields if field is not meta.auto_field]
    size = max(1, min(chunk, connection.ops.bulk_batch_size(fields, rows) or chunk))
    if not _compilable(model, fields, rows, connection):
        return _orm(model, rows, using, size)
    saved: list[M] = []
    for start in range(0, len(rows), size):
        part = rows[start : start + size]
        params = _params(fields, part, connection)
        if params is None:  # a value the ORM would not bind as one prepared parameter
            saved += _orm(model, part, using, size)
            continue
        with connection.cursor() as cursor:
            cursor.execute(_statement(model, fields, len(part), connection), params)
            keys = [row[0] for row in cursor.fetchall()]
        if len(keys) != len(part):  # cannot happen on an engine that returns rows; be sure
            raise RuntimeError(f"INSERT of {len(part)} rows returned {len(keys)} keys")
        for row, key in zip(part, keys, strict=True):
            setattr(row, meta.pk.attname, key)
            row._state.adding = False
            row._state.db = using
        saved += part
    return saved


def _compilable(model: type[Model], fields: list[Field], rows: Sequence[Model], connection: Any) -> bool:
    meta = model._meta
    return bool(
        rows
        and connection.features.can_return_rows_from_bulk_insert
        and meta.pk is meta.auto_field
        and not meta.parents
        and not hasattr(meta.pk, "from_db_value")
        and list(meta.db_returning_fields) == [meta.pk]
        and not any(hasattr(field, "get_placeholder") or field.generated for field in fields)
        and all(getattr(row, meta.pk.attname) is None for row in rows)
    )


def _orm(model: type[M], rows: Sequence[M], using: str, size: int) -> list[M]:
    return model._default_manager.db_manager(using).bulk_create(rows, batch_size=size)


def _params(fields: list[Field], rows: Sequence[Model], connection: Any) -> list[Any] | None:
    """The statement's parameters, row after row, as the ORM prepares them; None if a value
    is one it would not bind as such."""
    params: list[Any] = []
    last_raw = [_UNSET] * len(fields)
    last_prepared: list[Any] = [None] * len(fields)
    for row in rows:
        # as bulk_create: a related row not saved yet is an error, not a NULL
        cast(Any, row)._prepare_related_fields_for_save(operation_name="bulk_create")
        for index, field in enumerate(fields):
            value = field.pre_save(row, add=True)
            if value is not last_raw[index]:
                if hasattr(value, "resolve_expression"):
                    return None
                last_raw[index] = value
                last_prepared[index] = field.get_db_prep_save(value, connection=connection)
            params.append(last_prepared[index])
    return params


def _statement(model: type[Model], fields: list[Field], count: int, connection: Any) -> str:
    meta = model._meta
    quote = connection.ops.quote_name
    one_row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    returning, _ = connection.ops.return_insert_columns([meta.pk])
    # quoted names from the model; every value is a bound parameter
    columns = ", ".join(quote(field.column) for field in fields)
    return (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES {', '.join([one_row] * count)} {returning}"
    )
