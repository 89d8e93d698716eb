"""Number types: int, bigint, float, decimal; and how a foreign key's values behave.

Integers are checked against the column's range everywhere a value enters (body and
query string), so no value reaches the database that its column cannot hold.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, cast

from django.db import models
from rest_framework import serializers

from crud.fieldtypes.base import EQUALITY, INVALID, ORDERING, FieldType
from crud.fieldtypes.columns import column_digits
from crud.fieldtypes.registry import register

if TYPE_CHECKING:
    from crud.resource import FieldSpec
    from crud.schematools.shapes import ColumnShape

# 19 digits at most: longer text is no SQL integer, and int() of it would be slow
_INTEGER = re.compile(r"-?[0-9]{1,19}")


def _bounds(spec: FieldSpec) -> dict[str, Any]:
    """OpenAPI's minimum and maximum of a number field's `min` and `max`."""
    bounds: dict[str, Any] = {}
    if spec.min is not None:
        bounds["minimum"] = spec.min
    if spec.max is not None:
        bounds["maximum"] = spec.max
    return bounds


class IntegerType(FieldType):
    """Whole numbers in the signed range of a `bits`-wide column."""

    bits: ClassVar[int]
    serializer_class = serializers.IntegerField
    operators = EQUALITY | ORDERING
    integer = True
    marker_kind = "int"
    db_default_allowed = True

    @property
    def range(self) -> tuple[int, int]:
        return -(2 ** (self.bits - 1)), 2 ** (self.bits - 1) - 1

    def limits(self, spec: FieldSpec) -> tuple[int, int]:
        """The values a writer may give: the column's range narrowed by `min`/`max`."""
        low, high = self.range
        low = max(low, int(spec.min)) if spec.min is not None else low
        high = min(high, int(spec.max)) if spec.max is not None else high
        return low, high

    def serializer_field(self, spec: FieldSpec, options: dict[str, Any]) -> serializers.Field:
        low, high = self.limits(spec)
        return serializers.IntegerField(min_value=low, max_value=high, **options)

    def openapi_constraints(self, spec: FieldSpec) -> dict[str, Any]:
        return _bounds(spec)

    def parse(self, raw: str) -> Any:
        if not _INTEGER.fullmatch(raw):
            return INVALID
        low, high = self.range
        return int(raw) if low <= int(raw) <= high else INVALID

    def existing_field(
        self,
        shape: ColumnShape,
        like: models.Field | None,  # noqa: ARG002 (the hook's signature; decimals need it)
        options: dict[str, Any],
    ) -> models.Field:
        cls = self.auto_class if shape.auto and self.auto_class is not None else self.model_class
        return cls(**options)

    def literal_default(self, text: str) -> Any:
        digits = text.removeprefix("-")
        return int(text) if digits.isascii() and digits.isdigit() else None


@register
class IntType(IntegerType):
    name = "int"
    bits = 32
    openapi = {"type": "integer", "format": "int32"}
    model_class = models.IntegerField
    auto_class = models.AutoField
    django_types = (
        "AutoField",
        "SmallAutoField",
        "IntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
    )


@register
class BigIntType(IntegerType):
    name = "bigint"
    bits = 64
    openapi = {"type": "integer", "format": "int64"}
    model_class = models.BigIntegerField
    auto_class = models.BigAutoField
    django_types = ("BigAutoField", "BigIntegerField", "PositiveBigIntegerField")


class ForeignKeyType(IntType):
    """The values of any field with `foreign:`: a key of the target table, written as an
    int32 of at least 1. Not a schema type (`value_type()` picks it); the model field, a
    ForeignKey, is built by `crud.dynamic`, which knows the target model."""

    name = "foreign key"

    def limits(self, spec: FieldSpec) -> tuple[int, int]:
        low, high = super().limits(spec)
        return max(low, 1), high  # keys start at 1: 0 and below point at nothing

    def openapi_schema(self, spec: FieldSpec, *, writing: bool) -> dict[str, Any]:
        schema = super().openapi_schema(spec, writing=writing)
        if writing:
            schema["minimum"] = 1
        return schema


FOREIGN_KEY = ForeignKeyType()


@register
class FloatType(FieldType):
    name = "float"
    model_class = models.FloatField
    serializer_class = serializers.FloatField
    openapi = {"type": "number"}
    django_types = ("FloatField",)
    db_default_allowed = True

    def serializer_field(self, spec: FieldSpec, options: dict[str, Any]) -> serializers.Field:
        bounds: dict[str, Any] = {"min_value": spec.min, "max_value": spec.max}
        return serializers.FloatField(**bounds, **options)

    def openapi_constraints(self, spec: FieldSpec) -> dict[str, Any]:
        return _bounds(spec)

    def parse(self, raw: str) -> Any:
        value = float(raw)
        # NaN and infinities are floats but no SQL value, and NaN compares unequal to all
        return value if value == value and abs(value) != float("inf") else INVALID

    def literal_default(self, text: str) -> Any:
        try:
            return float(text)
        except ValueError:
            return None


@register
class DecimalType(FieldType):
    """Exact numbers with `max_digits` digits, `decimal_places` of them after the point.

    They travel as JSON strings (a JSON number would lose digits in most clients)."""

    name = "decimal"
    model_class = models.DecimalField
    serializer_class = serializers.DecimalField
    openapi = {"type": "string", "format": "decimal", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
    django_types = ("DecimalField",)
    db_default_allowed = True

    def model_field(self, spec: FieldSpec, options: dict[str, Any]) -> models.Field:
        return models.DecimalField(max_digits=spec.max_digits, decimal_places=spec.decimal_places, **options)

    def existing_field(
        self, shape: ColumnShape, like: models.Field | None, options: dict[str, Any]
    ) -> models.Field:
        # SQLite may keep no digits: then the wanted field's are as good as any
        digits = shape.digits or (getattr(like, "max_digits", 12), getattr(like, "decimal_places", 2))
        return models.DecimalField(max_digits=digits[0], decimal_places=digits[1], **options)

    def serializer_field(self, spec: FieldSpec, options: dict[str, Any]) -> serializers.Field:
        return serializers.DecimalField(
            max_digits=spec.max_digits,
            decimal_places=spec.decimal_places,
            min_value=None if spec.min is None else Decimal(str(spec.min)),
            max_value=None if spec.max is None else Decimal(str(spec.max)),
            coerce_to_string=False,
            **options,
        )

    def parse(self, raw: str) -> Any:
        value = Decimal(raw)
        return value if value.is_finite() else INVALID

    def spec_options(self, column: Any) -> dict[str, Any]:
        return {"max_digits": column.precision or 12, "decimal_places": column.scale or 2}

    def shape_options(self, column: Any) -> dict[str, Any]:
        return {"digits": column_digits(column)}

    def model_shape_options(self, field_obj: models.Field) -> dict[str, Any]:
        decimal = cast(models.DecimalField, field_obj)
        return {"digits": (decimal.max_digits, decimal.decimal_places)}

    def literal_default(self, text: str) -> Any:
        return text  # as written: a float would round it

    def dictionary_entries(self, spec: FieldSpec) -> dict[str, Any]:
        return {"max_digits": spec.max_digits, "decimal_places": spec.decimal_places}

    def schema_entries(self, shape: ColumnShape) -> dict[str, Any]:
        if not shape.digits:
            return {}
        return {"max_digits": shape.digits[0], "decimal_places": shape.digits[1]}
