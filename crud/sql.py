"""`:name` placeholders of v1 query YAML, always turned into bound parameters.

`placeholders()` finds them (outside quoted strings) so config loading can refuse one
that can never have a value; `bind()` rewrites the SQL with `%s` and the values in order.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")


def placeholders(sql: str) -> list[str]:
    return [match[1] for match in _TOKEN.finditer(sql) if match[1]]


def bind(sql: str, values: dict) -> tuple[str, list]:
    """SQL with `%s` for each placeholder (and `%` escaped), plus the parameters in order."""
    params: list = []
    pieces: list[str] = []
    last = 0
    for match in _TOKEN.finditer(sql):
        if not match[1]:
            continue
        pieces.append(sql[last : match.start()].replace("%", "%%"))
        pieces.append("%s")
        params.append(values[match[1]])
        last = match.end()
    pieces.append(sql[last:].replace("%", "%%"))
    return "".join(pieces), params


def add_condition(sql: str, condition: str) -> str:
    """Add `condition` to the top-level WHERE of a SELECT (or create one)."""
    if not condition.strip():
        return sql
    depth = 0
    where_at = tail_at = None
    for match in re.finditer(r"[()]|\bWHERE\b|\bGROUP\s+BY\b|\bORDER\s+BY\b|\bLIMIT\b|\bHAVING\b", sql, re.I):
        word = match[0].upper()
        if word == "(":
            depth += 1
        elif word == ")":
            depth -= 1
        elif depth == 0 and word == "WHERE" and where_at is None:
            where_at = match.end()
        elif depth == 0 and word != "WHERE" and tail_at is None:
            tail_at = match.start()
    head, tail = (sql[:tail_at], sql[tail_at:]) if tail_at is not None else (sql, "")
    if where_at is not None and (tail_at is None or where_at < tail_at):
        return f"{head[:where_at]} ({head[where_at:].strip()}) AND ({condition}) {tail}".strip()
    return f"{head.rstrip()} WHERE ({condition}) {tail}".strip()


_TABLE_AFTER = re.compile(r"\b(?:FROM|JOIN)\s+[`\"]?([A-Za-z_][A-Za-z0-9_]*)", re.I)


def tables_read(sql: str) -> set[str]:
    """The table names a SELECT names after FROM or JOIN (outside quoted strings). Enough
    to know which tables an operator's SQL touches; not a parser of SQL."""
    unquoted = re.sub(r"'(?:[^']|'')*'", "''", sql)
    return {match[1] for match in _TABLE_AFTER.finditer(unquoted)}
