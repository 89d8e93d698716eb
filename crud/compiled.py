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
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections
from django.db.models import QuerySet

MAX_SHAPES = 2048
# Inside every integer column's range (the ORM refuses out-of-range lookups), and far from
# any constant a config would hold.
_INT_MARK = -2_147_000_000
_STR_MARK = "\x1fsogoms-marker-{}\x1f"
_UNCACHEABLE = object()


@dataclass(frozen=True)
class CompiledRead:
    sql: str
    slots: tuple  # per SQL parameter: an int (the value's index) or ("const", value)
    compiler: object  # the ORM compiler, kept for its result converters
    converters: list

    def run(self, alias: str, values: list) -> list:
        params = [values[slot] if isinstance(slot, int) else slot[1] for slot in self.slots]
        with connections[alias].cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if self.converters:
            rows = list(self.compiler.apply_converters(rows, self.converters))
        return rows


_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()


def marker(kind: str, index: int):
    """A value no request sends, of the kind the ORM passes through unchanged (or None)."""
    if kind == "int":
        return _INT_MARK - index
    if kind == "str":
        return _STR_MARK.format(index)
    return None


def cached_read(
    key: tuple,
    alias: str,
    kinds: list[str],
    values: list,
    build: Callable[[list], QuerySet],
    *,
    count: bool = False,
) -> list | None:
    """Rows of the read `build(values)` makes, or None when this shape cannot be cached."""
    with _lock:
        compiled = _cache.get(key)
        if compiled is not None:
            _cache.move_to_end(key)
    if compiled is None:
        compiled = _compile(alias, kinds, build, count)
        with _lock:
            _cache[key] = compiled
            if len(_cache) > MAX_SHAPES:
                _cache.popitem(last=False)
    if compiled is _UNCACHEABLE:
        return None
    return compiled.run(alias, values)


def _compile(alias: str, kinds: list[str], build, count: bool):
    markers = [marker(kind, index) for index, kind in enumerate(kinds)]
    if any(value is None for value in markers):
        return _UNCACHEABLE
    queryset = build(markers)
    compiler = queryset.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    slots = []
    positions = {value: index for index, value in enumerate(markers)}
    for param in params:
        if isinstance(param, int | str) and not isinstance(param, bool) and param in positions:
            slots.append(positions[param])
        elif isinstance(param, str) and "\x1fsogoms-marker-" in param:
            return _UNCACHEABLE  # a value the ORM transformed (e.g. a LIKE pattern)
        else:
            slots.append(("const", param))
    if count:
        return CompiledRead(f"SELECT COUNT(*) FROM ({sql}) sogoms_count", tuple(slots), compiler, [])  # noqa: S608
    fields = [select[0] for select in compiler.select[: compiler.col_count]]
    return CompiledRead(sql, tuple(slots), compiler, compiler.get_converters(fields))


def clear() -> None:
    with _lock:
        _cache.clear()
