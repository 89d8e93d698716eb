"""Time types: date and datetime.

Query-string values are ISO 8601; a datetime with an offset (or `Z`) is compared in UTC,
the zone the ORM stores datetimes in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from django.db import models
from rest_framework import serializers

from crud.fieldtypes.base import FieldType
from crud.fieldtypes.registry import register


@register
class DateType(FieldType):
    name = "date"
    model_class = models.DateField
    serializer_class = serializers.DateField
    openapi = {"type": "string", "format": "date"}
    django_types = ("DateField",)

    def parse(self, raw: str) -> Any:
        return date.fromisoformat(raw)


@register
class DateTimeType(FieldType):
    name = "datetime"
    model_class = models.DateTimeField
    serializer_class = serializers.DateTimeField
    openapi = {"type": "string", "format": "date-time"}
    django_types = ("DateTimeField",)

    def parse(self, raw: str) -> Any:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return value.astimezone(UTC) if value.tzinfo else value
