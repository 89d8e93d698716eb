"""The field-type registry: schema type name -> the one `FieldType` that implements it.

Built-in types register when `crud.fieldtypes` is imported; a new type is one subclass
decorated with `@register`. Introspection asks the registry which type a database column
is, through the Django field class names each type declares.
"""

from __future__ import annotations

from typing import Any, TypeVar

from crud.fieldtypes.base import FieldType

# A column whose Django type no field type declares is read as text of a size, as
# `inspectdb` falls back to TextField: it keeps the value and makes no promise.
FALLBACK = "string"

_types: dict[str, FieldType] = {}
_by_django_type: dict[str, str] = {}

T = TypeVar("T", bound=type[FieldType])


def register(cls: T) -> T:
    """Class decorator: make `cls` the type of its `name`. A name or Django type that is
    already taken is refused, so two types never answer for the same thing."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"{cls.__name__} has no type name")
    if name in _types:
        raise ValueError(f"field type {name!r} is already registered ({type(_types[name]).__name__})")
    taken = [django_type for django_type in cls.django_types if django_type in _by_django_type]
    if taken:
        raise ValueError(f"{', '.join(taken)} already read back as another field type")
    _types[name] = cls()
    _by_django_type.update(dict.fromkeys(cls.django_types, name))
    return cls


def unregister(name: str) -> None:
    """Remove a registered type (a type a test or a plugin added)."""
    field_type = _types.pop(name)
    for django_type in field_type.django_types:
        _by_django_type.pop(django_type, None)


def find(name: str) -> FieldType | None:
    return _types.get(name)


def field_type(name: str) -> FieldType:
    """The type of a schema type name; an unknown name is a programming error here, since
    config loading refuses it first."""
    found = _types.get(name)
    if found is None:
        raise ValueError(f"unknown field type {name!r}")
    return found


def names() -> tuple[str, ...]:
    """Every schema type name, in registration order."""
    return tuple(_types)


def all_types() -> tuple[FieldType, ...]:
    return tuple(_types.values())


def kind_of_django_type(django_type: str) -> str:
    """The schema type a Django field class name (`DecimalField`) reads back as."""
    return _by_django_type.get(django_type, FALLBACK)


def column_kind(connection: Any, column: Any) -> tuple[str, str]:
    """(Django field class name, schema type name) of an introspected column."""
    django_type = connection.introspection.get_field_type(column.type_code, column)
    for candidate in _types.values():
        if candidate.claims_column(django_type, column):
            return django_type, candidate.name
    return django_type, kind_of_django_type(django_type)
