"""Input serializers built from FieldSpecs: one per (bound resource, operation).

Types and constraints become DRF fields, so a bad value is a 400 with per-field details
before anything reaches the database. Fields a client must not write (primary key,
owner, timestamps, read-only, hidden) are refused by name.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from django.core.validators import RegexValidator
from rest_framework import serializers

from crud.params import INT_RANGE
from crud.resource import MISSING, FieldSpec
from sogoms_site.api.inputs import StrictInput


def writable_fields(bound, operation: str) -> list[FieldSpec]:
    resource = bound.resource
    if resource.source == "queries":
        names = resource.writable_by_op.get("create" if operation == "create" else "update", ())
        return [spec for spec in resource.fields if spec.name in names and not spec.owner and not spec.auto]
    return [spec for spec in resource.fields if spec.writable]


@cache
def input_serializer(bound, operation: str) -> type[serializers.Serializer]:
    """operation: create, update (PUT, every required field) or partial (PATCH)."""
    partial = operation == "partial"
    fields = {spec.name: drf_field(spec, partial=partial) for spec in writable_fields(bound, operation)}
    visible = {spec.name for spec in bound.resource.fields if not spec.hidden}
    attrs = {**fields, "read_only_names": frozenset(visible - set(fields))}
    return type(f"{bound.resource.name}_{operation}_input", (StrictInput,), attrs)


def drf_field(spec: FieldSpec, *, partial: bool = False) -> serializers.Field:
    has_default = spec.default is not MISSING
    options = {
        "required": spec.required and not has_default and not partial,
        "allow_null": spec.nullable,
    }
    if spec.choices:
        return serializers.ChoiceField(choices=list(spec.choices), **options)
    kind = "int" if spec.foreign else spec.type
    if kind in INT_RANGE:
        low, high = INT_RANGE[kind]
        low = max(low, int(spec.min)) if spec.min is not None else low
        high = min(high, int(spec.max)) if spec.max is not None else high
        if spec.foreign:
            low = max(low, 1)
        return serializers.IntegerField(min_value=low, max_value=high, **options)
    if kind in ("string", "text", "email", "url"):
        validators = [RegexValidator(spec.pattern)] if spec.pattern else []
        cls = {"email": serializers.EmailField, "url": serializers.URLField}.get(kind, serializers.CharField)
        max_length = spec.max_length or {"string": 255, "email": 254, "url": 500}.get(kind)
        return cls(
            max_length=max_length,
            # a blank value would skip the pattern check: with a pattern, blank must match it
            # blank is no e-mail or URL, and would skip a pattern: such fields take null instead
            allow_blank=kind in ("string", "text") and not spec.required and not spec.pattern,
            trim_whitespace=False,
            validators=validators,
            **options,
        )
    if kind == "bool":
        return serializers.BooleanField(**options)
    if kind == "date":
        return serializers.DateField(**options)
    if kind == "datetime":
        return serializers.DateTimeField(**options)
    if kind == "decimal":
        return serializers.DecimalField(
            max_digits=spec.max_digits,
            decimal_places=spec.decimal_places,
            min_value=None if spec.min is None else Decimal(str(spec.min)),
            max_value=None if spec.max is None else Decimal(str(spec.max)),
            coerce_to_string=False,
            **options,
        )
    if kind == "float":
        return serializers.FloatField(min_value=spec.min, max_value=spec.max, **options)
    if kind == "json":
        return serializers.JSONField(**options)
    raise ValueError(f"unknown field type {kind!r}")
