"""Input serializers built from FieldSpecs: one per (bound resource, operation).

Types and constraints become DRF fields, so a bad value is a 400 with per-field details
before anything reaches the database. Fields a client must not write (primary key,
owner, timestamps, read-only, hidden) are refused by name.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from rest_framework import serializers

from crud.fieldtypes import value_type
from crud.resource import MISSING, FieldSpec
from sogoms_site.api.inputs import StrictInput

if TYPE_CHECKING:  # crud.runtime builds its serializers from here
    from crud.runtime import BoundResource


def writable_fields(bound: BoundResource, operation: str) -> list[FieldSpec]:
    resource = bound.resource
    if resource.source == "queries":
        names = resource.writable_by_op.get("create" if operation == "create" else "update", ())
        return [spec for spec in resource.fields if spec.name in names and not spec.owner and not spec.auto]
    return [spec for spec in resource.fields if spec.writable]


@cache
def input_serializer(bound: BoundResource, operation: str) -> type[serializers.Serializer]:
    """operation: create, update (PUT, every required field) or partial (PATCH)."""
    partial = operation == "partial"
    fields = {spec.name: drf_field(spec, partial=partial) for spec in writable_fields(bound, operation)}
    visible = {spec.name for spec in bound.resource.fields if not spec.hidden}
    attrs = {**fields, "read_only_names": frozenset(visible - set(fields))}
    return type(f"{bound.resource.name}_{operation}_input", (StrictInput,), attrs)


def drf_field(spec: FieldSpec, *, partial: bool = False) -> serializers.Field:
    has_default = spec.default is not MISSING
    options: dict[str, Any] = {
        "required": spec.required and not has_default and not partial,
        "allow_null": spec.nullable,
    }
    if spec.choices:
        return serializers.ChoiceField(choices=list(spec.choices), **options)
    return value_type(spec).serializer_field(spec, options)
