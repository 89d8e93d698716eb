"""The resource engine's field types: one class per schema type, in one registry.

`field_type("decimal")` is the type of a schema type name; `value_type(spec)` is the type a
declared field's values are read and written as (a foreign key's are its target's key).
Importing this package registers the built-in types; a new type is one `FieldType`
subclass with `@register` (see `crud/fieldtypes/base.py` for what it can say).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crud.fieldtypes import numeric, other, temporal, textual
from crud.fieldtypes.base import EQUALITY, INVALID, ORDERING, TEXT_MATCHING, FieldType, parse_bool
from crud.fieldtypes.columns import column_digits, column_max_length, normalize_default
from crud.fieldtypes.registry import (
    all_types,
    column_kind,
    field_type,
    find,
    kind_of_django_type,
    names,
    register,
    unregister,
)

if TYPE_CHECKING:
    from crud.resource import FieldSpec

__all__ = [
    "EQUALITY",
    "INVALID",
    "ORDERING",
    "TEXT_MATCHING",
    "FieldType",
    "all_types",
    "column_digits",
    "column_kind",
    "column_max_length",
    "field_type",
    "find",
    "is_invalid",
    "kind_of_django_type",
    "names",
    "normalize_default",
    "parse_bool",
    "register",
    "unregister",
    "value_type",
]

BUILT_IN = (numeric, textual, temporal, other)  # imported for their @register


def value_type(spec: FieldSpec) -> FieldType:
    """The type a field's values are written, filtered and documented as."""
    if spec.foreign:
        return numeric.FOREIGN_KEY
    return field_type(spec.type)


def is_invalid(value: object) -> bool:
    return value is INVALID
