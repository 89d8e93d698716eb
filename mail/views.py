"""`<base>/_mail/`: the mail actions and the outbox of a tenant, for role admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpResponse
from rest_framework.views import APIView

from mail import selectors, services
from mail.config import mail_settings
from mail.serializers import MessagesQuery, SendBulkInput, SendInput, SendTemplateInput
from sogoms_site.api.envelope import ok
from sogoms_site.errors import NotFoundError
from tenants.auth.permissions import TenantAdmin
from tenants.requests import TenantRequest

if TYPE_CHECKING:
    from mail.models import OutboxMessage


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _queued(message) -> dict:
    return {"id": message.pk, "status": message.status, "to": message.to_email, "subject": message.subject}


class MailView(APIView):
    permission_classes = [TenantAdmin]


class TemplatesView(MailView):
    def get(self, request: TenantRequest) -> HttpResponse:
        settings = mail_settings(request.tenant)
        rows = [
            {"name": name, "description": template.description, "parts": template.part_names}
            for name, template in sorted(settings.templates.items())
        ]
        return ok(rows, meta={"transport": settings.transport.summary})


class SendView(MailView):
    def post(self, request: TenantRequest) -> HttpResponse:
        message = services.mail_send(tenant=request.tenant, **_valid(SendInput, request.data))
        return ok(_queued(message), "Queued", status=202)


class SendTemplateView(MailView):
    def post(self, request: TenantRequest) -> HttpResponse:
        message = services.mail_send_template(
            tenant=request.tenant, **_valid(SendTemplateInput, request.data)
        )
        return ok(_queued(message), "Queued", status=202)


class SendBulkView(MailView):
    def post(self, request: TenantRequest) -> HttpResponse:
        data = _valid(SendBulkInput, request.data)
        recipients = [services.Recipient(**recipient) for recipient in data["recipients"]]
        bulk = services.mail_send_bulk(
            tenant=request.tenant,
            template=data["template"],
            recipients=recipients,
            variables=data["variables"],
        )
        return ok({"batch": bulk.batch, "count": bulk.count}, f"{bulk.count} message(s) queued", status=202)


class MessagesView(MailView):
    def get(self, request: TenantRequest) -> HttpResponse:
        query = _valid(MessagesQuery, request.query_params)
        page, per_page = query.pop("page"), query.pop("per_page")
        rows, meta = selectors.messages_page(
            selectors.messages_of(request.tenant.app, **query), page=page, per_page=per_page
        )
        meta["counts"] = selectors.status_counts(request.tenant.app, **query)
        return ok(rows, meta=meta)


def _message(request: TenantRequest, message_id: int) -> OutboxMessage:
    message = selectors.message_of(request.tenant.app, message_id)
    if message is None:
        raise NotFoundError(f"No message #{message_id} in the outbox of {request.tenant.app}.")
    return message


class MessageView(MailView):
    def get(self, request: TenantRequest, message_id: int) -> HttpResponse:
        return ok(selectors.message_detail(_message(request, message_id)))


class MessageRequeueView(MailView):
    def post(self, request: TenantRequest, message_id: int) -> HttpResponse:
        message = services.message_requeue(message=_message(request, message_id))
        return ok(selectors.message_detail(message), "Re-queued", status=202)


class MessageCancelView(MailView):
    def post(self, request: TenantRequest, message_id: int) -> HttpResponse:
        message = services.message_cancel(message=_message(request, message_id))
        return ok(selectors.message_detail(message), "Cancelled")
