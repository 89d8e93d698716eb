"""Compiled reads: Django compiles the SQL of a read once per shape, later reads bind values.

A list or show request of the same shape (resource, filters and operators, sort, page,
fields) always compiles to the same SQL; only the values differ. The first request of a
shape is built with marker values, compiled by the ORM, and each parameter of the SQL is
traced back to the marker it came from. Later requests execute that SQL with their own
values and the ORM's own converters. A shape whose parameters are not plain copies of
the request's values (search patterns, dates) is never cached and takes the ORM path.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final, TypeVar

from django.conf import settings
from django.db import connections
from django.db.models import QuerySet
from django.db.models.expressions import Expression
from django.db.models.sql.compiler import SQLCompiler
from typing_extensions import override

MAX_SHAPES = 2048
# Inside every integer column's range (the ORM refuses out-of-range lookups), and far from
# any constant a config would hold.
_INT_MARK = -2_147_000_000
_STR_MARK = "\x1fsogoms-marker-{}\x1f"

# Rows as the database driver gives them (tuples, or lists once converted).
Rows = Sequence[Sequence[Any]]
# Per SQL parameter: the index of the request's value, or ("const", value) for a constant.
Slot = int | tuple[str, Any]
# The ORM's result converters, by column position (SQLCompiler.get_converters()).
Converters = dict[int, tuple[list[Callable[..., Any]], Expression]]


class Uncacheable(Enum):
    """A shape whose statements take the ORM path: a cache remembers that too."""

    SHAPE = "uncacheable"


UNCACHEABLE: Final = Uncacheable.SHAPE
Compiled = TypeVar("Compiled")


class ShapeCache(OrderedDict[tuple[Any, ...], Compiled | Uncacheable]):
    """Statements compiled once per shape and shared by every thread; past `limit` shapes
    the least recently used one goes."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def get_or_compile(
        self, key: tuple[Any, ...], compile_shape: Callable[[], Compiled | Uncacheable], limit: int
    ) -> Compiled | Uncacheable:
        with self._lock:
            found = self.get(key)
            if found is not None:
                self.move_to_end(key)
                return found
        found = compile_shape()  # outside the lock: the ORM compiles (and may query)
        with self._lock:
            self[key] = found
            if len(self) > limit:
                self.popitem(last=False)
        return found

    @override
    def clear(self) -> None:
        with self._lock:
            super().clear()


def bind(slots: Sequence[Slot], values: Sequence[Any]) -> list[Any]:
    """The parameters of compiled SQL: each slot's value of this request, or its constant."""
    return [values[slot] if isinstance(slot, int) else slot[1] for slot in slots]


@dataclass(frozen=True)
class CompiledRead:
    sql: str
    slots: tuple[Slot, ...]
    compiler: SQLCompiler  # the ORM compiler, kept for its result converters
    converters: Converters

    def run(self, alias: str, values: list[Any]) -> Rows:
        with connections[alias].cursor() as cursor:
            cursor.execute(self.sql, bind(self.slots, values))
            rows: Rows = cursor.fetchall()
        if self.converters:
            rows = list(self.compiler.apply_converters(rows, self.converters))
        return rows


_cache: ShapeCache[CompiledRead] = ShapeCache()


def marker(kind: str, index: int) -> int | str | None:
    """A value no request sends, of the kind the ORM passes through unchanged (or None)."""
    if kind == "int":
        return _INT_MARK - index
    if kind == "str":
        return _STR_MARK.format(index)
    return None


def cached_read(
    key: tuple[Any, ...],
    alias: str,
    kinds: list[str],
    values: list[Any],
    build: Callable[[list[Any]], QuerySet[Any, Any]],
    *,
    count: bool = False,
) -> Rows | None:
    """Rows of the read `build(values)` makes, or None when this shape cannot be cached."""
    compiled = _cache.get_or_compile(key, lambda: _compile(alias, kinds, build, count), MAX_SHAPES)
    if compiled is UNCACHEABLE:
        return None
    return compiled.run(alias, values)


def _compile(
    alias: str, kinds: list[str], build: Callable[[list[Any]], QuerySet[Any, Any]], count: bool
) -> CompiledRead | Uncacheable:
    markers = [marker(kind, index) for index, kind in enumerate(kinds)]
    if any(value is None for value in markers):
        return UNCACHEABLE
    queryset = build(markers)
    compiler = queryset.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    slots = trace(params, markers)
    if slots is None:
        return UNCACHEABLE
    if count:
        return CompiledRead(f"SELECT COUNT(*) FROM ({sql}) sogoms_count", slots, compiler, {})  # noqa: S608
    fields = [select[0] for select in compiler.select[: compiler.col_count]]
    return CompiledRead(sql, slots, compiler, _quicker(compiler.get_converters(fields), connections[alias]))


def _quicker(converters: Converters, connection: Any) -> Converters:
    """The converters, with the engine's datetime one swapped for `utc_datetime` where the
    two give the same (USE_TZ, the connection in UTC): a list's converting of its stored
    datetimes had been a tenth of its time."""
    stock = getattr(type(connection.ops), "convert_datetimefield_value", None)
    if stock is None or not settings.USE_TZ or connection.timezone is not UTC:
        return converters
    for functions, _expression in converters.values():
        functions[:] = [
            utc_datetime if getattr(function, "__func__", None) is stock else function
            for function in functions
        ]
    return converters


def utc_datetime(value: Any, expression: Expression, connection: Any) -> datetime | None:
    """A stored datetime as an aware one in UTC, as Django's own converter makes it.

    MariaDB's driver gives naive datetimes, SQLite text as Django wrote it; both are UTC
    (the connection's zone). Text `fromisoformat` does not read goes to Django's converter.
    """
    if value is None:
        return None
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return connection.ops.convert_datetimefield_value(value, expression, connection)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def trace(params: Sequence[Any], markers: Sequence[Any]) -> tuple[Slot, ...] | None:
    """Where each parameter of compiled SQL came from: the index of the marker it is, or
    a constant; None when the ORM transformed a marker (e.g. into a LIKE pattern)."""
    slots: list[Slot] = []
    positions = {value: index for index, value in enumerate(markers)}
    for param in params:
        if isinstance(param, int | str) and not isinstance(param, bool) and param in positions:
            slots.append(positions[param])
        elif isinstance(param, str) and "\x1fsogoms-marker-" in param:
            return None
        else:
            slots.append(("const", param))
    return tuple(slots)


def clear() -> None:
    _cache.clear()
