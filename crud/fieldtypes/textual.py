"""Text types: string (sized), text (long), email and url (checked strings).

Text is stored as given: no trimming, so what a client writes is what it reads back. A
database keeps no e-mail or URL type, so their columns read back as `string`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django.core.validators import RegexValidator
from django.db import models
from rest_framework import serializers

from crud.fieldtypes.base import EQUALITY, ORDERING, TEXT_MATCHING, FieldType
from crud.fieldtypes.columns import column_max_length
from crud.fieldtypes.registry import register

if TYPE_CHECKING:
    from crud.resource import FieldSpec
    from crud.schematools.shapes import ColumnShape


class TextualType(FieldType):
    """Values that are text: matched by contains/startswith, bound as str in compiled reads."""

    max_length: ClassVar[int | None] = None  # the column's size when the schema gives none
    # an empty value is a value; not for e-mail or URL, where null stands for "none"
    blank_allowed: ClassVar[bool] = True
    serializer_class = serializers.CharField
    openapi = {"type": "string"}
    operators = EQUALITY | ORDERING | TEXT_MATCHING
    marker_kind = "str"

    def model_field(self, spec: FieldSpec, options: dict[str, Any]) -> models.Field:
        if self.max_length is None:
            return self.model_class(**options)
        size = spec.max_length if self.takes_max_length else None
        return self.model_class(max_length=size or self.max_length, **options)

    def serializer_field(self, spec: FieldSpec, options: dict[str, Any]) -> serializers.Field:
        checks: dict[str, Any] = {
            "max_length": spec.max_length or self.max_length,
            # a blank value would skip the pattern check: with a pattern, blank must match it
            "allow_blank": self.blank_allowed and not spec.required and not spec.pattern,
            "trim_whitespace": False,
            "validators": [RegexValidator(spec.pattern)] if spec.pattern else [],
        }
        return self.serializer_class(**checks, **options)

    def openapi_constraints(self, spec: FieldSpec) -> dict[str, Any]:
        return {"minLength": 1} if spec.required and self.blank_allowed else {}


@register
class StringType(TextualType):
    name = "string"
    model_class = models.CharField
    max_length = 255
    takes_max_length = True
    db_default_allowed = True
    django_types = ("CharField", "EmailField", "URLField", "SlugField")

    def existing_field(
        self,
        shape: ColumnShape,
        like: models.Field | None,  # noqa: ARG002 (the hook's signature; decimals need it)
        options: dict[str, Any],
    ) -> models.Field:
        return models.CharField(max_length=shape.max_length or self.max_length, **options)

    def openapi_constraints(self, spec: FieldSpec) -> dict[str, Any]:
        constraints: dict[str, Any] = {}
        if spec.max_length:
            constraints["maxLength"] = spec.max_length
        if spec.pattern:
            constraints["pattern"] = spec.pattern
        return {**constraints, **super().openapi_constraints(spec)}

    def spec_options(self, column: Any) -> dict[str, Any]:
        return {"max_length": column_max_length(column)}

    def shape_options(self, column: Any) -> dict[str, Any]:
        return {"max_length": column_max_length(column)}

    def model_shape_options(self, field_obj: models.Field) -> dict[str, Any]:
        return {"max_length": field_obj.max_length}

    def literal_default(self, text: str) -> Any:
        return text

    def schema_entries(self, shape: ColumnShape) -> dict[str, Any]:
        return {"max_length": shape.max_length} if shape.max_length else {}


@register
class TextType(TextualType):
    name = "text"
    model_class = models.TextField
    django_types = ("TextField",)


@register
class EmailType(TextualType):
    name = "email"
    model_class = models.EmailField
    serializer_class = serializers.EmailField
    max_length = 254  # RFC 5321's limit of a forward path
    blank_allowed = False
    openapi = {"type": "string", "format": "email"}
    db_default_allowed = True


@register
class UrlType(TextualType):
    name = "url"
    model_class = models.URLField
    serializer_class = serializers.URLField
    max_length = 500
    blank_allowed = False
    openapi = {"type": "string", "format": "uri"}
    db_default_allowed = True
    # Django 6 will read a scheme-less URL as https; say so now and silence the warning
    admin_form_options = {"assume_scheme": "https"}
