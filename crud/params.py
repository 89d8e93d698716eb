"""The list query language: `?filter[f][op]=v&sort=-f&page=&per_page=&cursor=&fields=&include=&q=`.

`parse_query()` turns request parameters into a checked `QuerySpec`, or raises one
VALIDATION_ERROR naming every bad parameter. Only declared, visible fields can be
filtered, sorted or selected; values are converted to the field's type here, so the
ORM only ever sees typed, bound values.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crud.fieldtypes import INVALID, TEXT_MATCHING, FieldType, field_type, parse_bool, value_type
from crud.resource import FieldSpec, Resource
from sogoms_site.api.paging import DEFAULT_PER_PAGE, page_problem
from sogoms_site.errors import InvalidInput

FILTER_OPERATORS = (
    "eq",
    "ne",
    "lt",
    "lte",
    "gt",
    "gte",
    "in",
    "contains",
    "icontains",
    "startswith",
    "isnull",
)
MAX_IN_VALUES = 100
_FILTER_KEY = re.compile(r"^filter\[([^\[\]]+)\](?:\[([^\[\]]+)\])?$")


@dataclass
class QuerySpec:
    filters: list[tuple[str, str, Any]] = field(default_factory=list)
    named_filters: list[str] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    cursor: list | None = None  # keyset position; [] means "from the start"
    fields: list[str] | None = None
    include: list[str] = field(default_factory=list)
    q: str | None = None
    total: bool = True  # `total=false`: a page without the count of all matching rows


class _Errors(dict):
    def add(self, param: str, message: str) -> None:
        self.setdefault(param, []).append(message)


def parse_query(
    params: Any,
    resource: Resource,
    *,
    includable: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
    unreadable: frozenset[str] = frozenset(),
) -> QuerySpec:
    """Parse a QueryDict (or mapping of lists) against a resource's declared fields;
    `unreadable` fields (the caller's field read rules) are as unknown as hidden ones."""
    spec = QuerySpec()
    errors = _Errors()
    visible = {f.name: f for f in resource.visible_fields if f.name not in unreadable}
    parsing = _Parsing(resource, visible, includable, spec, errors, unreadable)
    for key in params:
        values = params.getlist(key) if hasattr(params, "getlist") else list(params[key])
        value = values[-1] if values else ""
        match = _FILTER_KEY.match(key)
        if match:
            _parse_filter(match[1], match[2] or "eq", value, key, visible, spec, errors)
        elif key in _PARAMETERS:
            _PARAMETERS[key](parsing, key, value)
        elif key not in extra:
            errors.add(key, "unknown parameter")
    if spec.cursor is not None and spec.sort:
        _check_keyset_sort(parsing)
    if errors:
        raise InvalidInput("The query parameters are invalid.", details=dict(errors))
    return spec


@dataclass(frozen=True)
class _Parsing:
    """What the parser of one parameter reads (the resource) and writes (spec, errors)."""

    resource: Resource
    visible: dict[str, FieldSpec]
    includable: tuple[str, ...]
    spec: QuerySpec
    errors: _Errors
    unreadable: frozenset[str] = frozenset()


def _named_filters(parsing: _Parsing, key: str, value: str) -> None:
    for name in _csv(value):
        conditions = parsing.resource.named_filters.get(name)
        if conditions is None:
            parsing.errors.add(key, f"{name!r} is not a named filter of {parsing.resource.name}")
        elif parsing.unreadable.intersection(conditions):
            # the rows it keeps would tell what a field the caller may not read holds
            parsing.errors.add(key, f"{name!r} filters on a field you may not read")
        else:
            parsing.spec.named_filters.append(name)


def _sort(parsing: _Parsing, _key: str, value: str) -> None:
    _parse_sort(value, parsing.visible, parsing.spec, parsing.errors)


def _page_number(parsing: _Parsing, key: str, value: str) -> None:
    problem = page_problem(key, value)
    if problem is not None:
        parsing.errors.add(key, problem)
    else:
        setattr(parsing.spec, key, int(value))


def _total(parsing: _Parsing, key: str, value: str) -> None:
    flag = parse_bool(value) if value in ("true", "false") else None
    if flag is None:
        parsing.errors.add(key, f"{value!r} is not true or false")
    else:
        parsing.spec.total = flag


def _cursor(parsing: _Parsing, _key: str, value: str) -> None:
    parsing.spec.cursor = decode_cursor(value, parsing.errors)


def _fields(parsing: _Parsing, key: str, value: str) -> None:
    chosen = _csv(value)
    unknown = [name for name in chosen if name not in parsing.visible]
    if unknown or not chosen:
        parsing.errors.add(key, f"unknown field(s): {', '.join(unknown) or '(none given)'}")
    parsing.spec.fields = chosen


def _include(parsing: _Parsing, key: str, value: str) -> None:
    chosen = _csv(value)
    unknown = [name for name in chosen if name not in parsing.includable]
    if unknown:
        parsing.errors.add(
            key,
            f"{', '.join(unknown)} cannot be included (choose from: "
            f"{', '.join(parsing.includable) or 'nothing'})",
        )
    parsing.spec.include = chosen


def _search(parsing: _Parsing, key: str, value: str) -> None:
    if not parsing.resource.search_fields:
        parsing.errors.add(key, f"{parsing.resource.name} declares no searchable field")
    elif len(value) > 200:
        parsing.errors.add(key, "at most 200 characters")
    parsing.spec.q = value.strip() or None


# the parameters besides `filter[field][op]`, each with its parser
_PARAMETERS: dict[str, Callable[[_Parsing, str, str], None]] = {
    "filter": _named_filters,
    "sort": _sort,
    "page": _page_number,
    "per_page": _page_number,
    "cursor": _cursor,
    "fields": _fields,
    "include": _include,
    "q": _search,
    "total": _total,
}


def _check_keyset_sort(parsing: _Parsing) -> None:
    for name, _desc in parsing.spec.sort:
        field_spec = parsing.visible[name]
        if field_spec.nullable and not field_spec.timestamp:
            parsing.errors.add("cursor", f"keyset pages need sort fields that cannot be null; {name!r} can")


def _parse_filter(
    name: str, op: str, raw: str, key: str, visible: dict[str, FieldSpec], spec: QuerySpec, errors: _Errors
) -> None:
    field_spec = visible.get(name)
    if field_spec is None:
        errors.add(key, f"{name!r} is not a filterable field")
        return
    if op not in FILTER_OPERATORS:
        errors.add(key, f"{op!r} is not an operator ({', '.join(FILTER_OPERATORS)})")
        return
    kind = field_type(field_spec.type)
    if op not in kind.operators:
        errors.add(key, _not_allowed(op, kind))
        return
    if op == "isnull":
        flag = parse_bool(raw)
        if flag is None:
            errors.add(key, f"{raw!r} is not true or false")
        else:
            spec.filters.append((name, op, flag))
        return
    if op == "in":
        items = _csv(raw)
        if not items or len(items) > MAX_IN_VALUES:
            errors.add(key, f"give 1 to {MAX_IN_VALUES} comma-separated values")
            return
        converted = [coerce(field_spec, item) for item in items]
        if any(item is INVALID for item in converted):
            errors.add(key, f"{raw!r} holds a value that is not a valid {field_spec.type}")
            return
        spec.filters.append((name, op, converted))
        return
    value = raw if op in TEXT_MATCHING else coerce(field_spec, raw)
    if value is INVALID:
        errors.add(key, f"{raw!r} is not a valid {field_spec.type}")
        return
    spec.filters.append((name, op, value))


def _not_allowed(op: str, kind: FieldType) -> str:
    if kind.operators <= {"isnull"}:
        return f"{kind.name} fields can only be tested with isnull"
    if op in TEXT_MATCHING:
        return f"{op} applies to text fields, not {kind.name}"
    return f"{op} does not apply to {kind.name}"


def _parse_sort(raw: str, visible: dict[str, FieldSpec], spec: QuerySpec, errors: _Errors) -> None:
    for item in _csv(raw):
        name = item[1:] if item.startswith("-") else item
        field_spec = visible.get(name)
        if field_spec is None or not field_type(field_spec.type).sortable:
            errors.add("sort", f"{name!r} is not a sortable field")
            continue
        spec.sort.append((name, item.startswith("-")))


def coerce(field_spec: FieldSpec, raw: str) -> Any:
    """A parameter value as the field's Python type, or the registry's INVALID."""
    return value_type(field_spec).coerce(raw)


def is_invalid(value: Any) -> bool:
    return value is INVALID


def _csv(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def encode_cursor(values: list) -> str:
    text = json.dumps(values, default=str, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(raw: str, errors: _Errors) -> list | None:
    if raw == "":
        return []
    try:
        padded = raw + "=" * (-len(raw) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        errors.add("cursor", "is not a cursor given by this API")
        return None
    if not isinstance(values, list) or not values:
        errors.add("cursor", "is not a cursor given by this API")
        return None
    return values
