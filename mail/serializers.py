"""Input shapes of the mail endpoints, with per-field errors."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from mail.models import Status
from sogoms_site.api.inputs import StrictInput


class SendInput(StrictInput):
    to = serializers.CharField(max_length=254)
    to_name = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)
    subject = serializers.CharField(max_length=998)
    body = serializers.CharField(required=False, default="", allow_blank=True, trim_whitespace=False)
    body_html = serializers.CharField(required=False, default="", allow_blank=True, trim_whitespace=False)


class SendTemplateInput(StrictInput):
    to = serializers.CharField(max_length=254)
    to_name = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)
    template = serializers.CharField(max_length=100)
    variables = serializers.DictField(required=False, default=dict)


class RecipientInput(StrictInput):
    email = serializers.CharField(max_length=254)
    name = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)
    variables = serializers.DictField(required=False, default=dict)


class SendBulkInput(StrictInput):
    template = serializers.CharField(max_length=100)
    variables = serializers.DictField(required=False, default=dict)
    recipients = serializers.ListField(child=RecipientInput(), allow_empty=False)

    def validate_recipients(self, value: list) -> list:
        if len(value) > settings.SOGOMS_MAIL_MAX_BULK:
            raise serializers.ValidationError(f"at most {settings.SOGOMS_MAIL_MAX_BULK} recipients")
        return value


class MessagesQuery(StrictInput):
    status = serializers.ChoiceField(choices=Status.values, required=False, default="")
    batch = serializers.CharField(max_length=32, required=False, default="")
    template = serializers.CharField(max_length=100, required=False, default="")
    to = serializers.CharField(max_length=254, required=False, default="")
    page = serializers.IntegerField(min_value=1, required=False, default=1)
    per_page = serializers.IntegerField(min_value=1, max_value=100, required=False, default=20)
