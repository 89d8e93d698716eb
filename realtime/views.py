"""`<base>/_push/publish|notify|broadcast`: server-side publishing for role admin."""

from __future__ import annotations

from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.views import APIView

from realtime import services
from sogoms_site.api.envelope import ok
from sogoms_site.api.inputs import StrictInput
from tenants.auth.permissions import TenantAdmin
from tenants.requests import TenantRequest


class PublishInput(StrictInput):
    topic = serializers.CharField(max_length=200)
    # The client names the payload `data`; DRF keeps declared fields apart from `.data`.
    data = serializers.JSONField(required=False, default=dict)  # type: ignore[assignment]


class NotifyInput(StrictInput):
    user_id = serializers.IntegerField(min_value=0)
    channel = serializers.CharField(max_length=64)
    # The client names the payload `data`; DRF keeps declared fields apart from `.data`.
    data = serializers.JSONField(required=False, default=dict)  # type: ignore[assignment]


class BroadcastInput(StrictInput):
    channel = serializers.CharField(max_length=64)
    # The client names the payload `data`; DRF keeps declared fields apart from `.data`.
    data = serializers.JSONField(required=False, default=dict)  # type: ignore[assignment]


class _PushView(APIView):
    permission_classes = [TenantAdmin]
    admin_only_message = "Publishing is for role admin."
    input_class: type[StrictInput]

    def post(self, request: TenantRequest) -> HttpResponse:
        values = self.input_class(data=request.data)
        values.is_valid(raise_exception=True)
        frame = self.send(request.tenant.app, values.validated_data)  # PushError: VALIDATION_ERROR
        return ok({"topic": frame["topic"], "id": frame["id"], "ts": frame["ts"]}, "Published", status=202)

    def send(self, app: str, values: dict) -> dict:
        raise NotImplementedError


class PublishView(_PushView):
    input_class = PublishInput

    def send(self, app: str, values: dict) -> dict:
        return services.publish(app=app, topic=values["topic"], data=values["data"])


class NotifyView(_PushView):
    input_class = NotifyInput

    def send(self, app: str, values: dict) -> dict:
        return services.notify_user(
            app=app, user_id=values["user_id"], channel=values["channel"], data=values["data"]
        )


class BroadcastView(_PushView):
    input_class = BroadcastInput

    def send(self, app: str, values: dict) -> dict:
        return services.broadcast(app=app, channel=values["channel"], data=values["data"])
