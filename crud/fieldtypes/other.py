"""The types that are neither numbers, text nor time: bool and json."""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import serializers

from crud.fieldtypes.base import EQUALITY, INVALID, FieldType, parse_bool
from crud.fieldtypes.registry import register


@register
class BoolType(FieldType):
    name = "bool"
    model_class = models.BooleanField
    serializer_class = serializers.BooleanField
    openapi = {"type": "boolean"}
    operators = EQUALITY  # false < true is no question a client asks
    django_types = ("BooleanField", "NullBooleanField")
    db_default_allowed = True
    admin_list_filter = True

    def claims_column(self, django_type: str, column: Any) -> bool:  # noqa: ARG002
        # MySQL's BOOLEAN is TINYINT(1), which Django reads as an integer
        return getattr(column, "data_type", "") == "tinyint" and column.internal_size == 1

    def parse(self, raw: str) -> Any:
        flag = parse_bool(raw)
        return INVALID if flag is None else flag

    def literal_default(self, text: str) -> Any:
        return text in ("1", "true") if text in ("0", "1", "true", "false") else None


@register
class JsonType(FieldType):
    """Any JSON value, stored as the engine's JSON (checked text on SQLite and MariaDB)."""

    name = "json"
    model_class = models.JSONField
    serializer_class = serializers.JSONField
    openapi_nullable_on_read = True  # JSON null is a value like any other
    # a document has no order, and equality on it means different things per engine
    operators = frozenset({"isnull"})
    sortable = False
    django_types = ("JSONField",)

    def claims_column(self, django_type: str, column: Any) -> bool:
        # SQLite and MariaDB keep JSON as text with a JSON check, which Django reads as text
        return django_type == "TextField" and getattr(column, "has_json_constraint", False)
