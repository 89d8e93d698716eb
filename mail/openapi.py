"""The OpenAPI description of `<base>/_mail/*`: the mail actions and the outbox, for role admin.

Registered by MailConfig.ready() as a provider of the tenant's OpenAPI document
(sogoms_site.api.openapi). The bodies come from the endpoints' serializers and the
message shapes from the outbox model and the selectors' field lists, so the document
follows the code.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from mail.config import mail_settings
from mail.models import OutboxMessage, Status
from mail.selectors import DETAIL_FIELDS, SUMMARY_FIELDS
from mail.serializers import MessagesQuery, SendBulkInput, SendInput, SendTemplateInput
from sogoms_site.api.openapi import (
    OpenApiPart,
    envelope,
    json_body,
    model_schema,
    page_meta_schema,
    path_parameter,
    query_parameters,
    ref,
    responses,
    serializer_schema,
)
from tenants.config import Tenant

TAG = "mail"
ADMIN = ("401", "403")  # no token; a user who is not role admin
SENDING = ("400", *ADMIN, "413", "415", "500")  # a JSON body is read


def mail_paths(tenant: Tenant) -> OpenApiPart:
    """The provider: the `_mail` paths of every tenant, with the names of its templates."""
    templates = sorted(mail_settings(tenant).templates)
    message_id = path_parameter("message_id", {"type": "integer", "minimum": 0}, "an outbox message")
    paths: dict[str, dict[str, Any]] = {
        "/_mail/templates": {
            "get": _operation(
                "mail_templates",
                "The tenant's e-mail templates, and its transport in meta",
                responses(
                    "200",
                    envelope(
                        {"type": "array", "items": ref("MailTemplate")},
                        {"type": "object", "properties": {"transport": {"type": "string"}}},
                    ),
                    "the templates",
                    (*ADMIN, "500"),
                ),
            )
        },
        "/_mail/send": {
            "post": _operation(
                "mail_send",
                "Queue one e-mail written in the request",
                responses("202", envelope(ref("MailQueued")), "queued", SENDING),
                body=serializer_schema(SendInput),
            )
        },
        "/_mail/send_template": {
            "post": _operation(
                "mail_send_template",
                "Queue one e-mail from a template (404: no such template)",
                responses("202", envelope(ref("MailQueued")), "queued", (*SENDING, "404")),
                body=_with_templates(serializer_schema(SendTemplateInput), templates),
            )
        },
        "/_mail/send_bulk": {
            "post": _operation(
                "mail_send_bulk",
                "Queue one e-mail per recipient from a template: all of them or none",
                responses("202", envelope(ref("MailBulk")), "queued", (*SENDING, "404")),
                body=_with_templates(_bulk_body(), templates),
            )
        },
        "/_mail/messages": {
            "get": {
                **_operation(
                    "mail_messages",
                    "The outbox, newest first, with the count of each status in meta",
                    responses(
                        "200",
                        envelope(
                            {"type": "array", "items": ref("MailMessage")},
                            page_meta_schema(
                                counts={"type": "object", "additionalProperties": {"type": "integer"}}
                            ),
                        ),
                        "a page of messages",
                        ("400", *ADMIN, "500"),
                    ),
                ),
                "parameters": query_parameters(MessagesQuery),
            }
        },
        "/_mail/messages/{message_id}": {
            "parameters": [message_id],
            "get": _operation(
                "mail_message",
                "One message of the outbox, with its bodies",
                responses("200", envelope(ref("MailMessageDetail")), "the message", (*ADMIN, "404", "500")),
            ),
        },
        "/_mail/messages/{message_id}/requeue": {
            "parameters": [message_id],
            "post": _operation(
                "mail_message_requeue",
                "Give a failed, dead or cancelled message fresh attempts now (409: sent or sending)",
                responses(
                    "202", envelope(ref("MailMessageDetail")), "re-queued", (*ADMIN, "404", "409", "500")
                ),
            ),
        },
        "/_mail/messages/{message_id}/cancel": {
            "parameters": [message_id],
            "post": _operation(
                "mail_message_cancel",
                "Make a queued or failed message dead (409 otherwise)",
                responses(
                    "200", envelope(ref("MailMessageDetail")), "cancelled", (*ADMIN, "404", "409", "500")
                ),
            ),
        },
    }
    return OpenApiPart(
        paths=paths,
        schemas=_schemas(),
        tags=[
            {"name": TAG, "description": "E-mail: sends through the outbox (delivered in the background)."}
        ],
    )


def _operation(
    operation_id: str, summary: str, answers: dict[str, Any], body: dict[str, Any] | None = None
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "tags": [TAG],
        "operationId": operation_id,
        "summary": f"{summary} (role admin)",
        "responses": answers,
    }
    if body is not None:
        operation["requestBody"] = json_body(body)
    return operation


def _with_templates(body: dict[str, Any], templates: list[str]) -> dict[str, Any]:
    if templates:  # another name answers 404
        body["properties"]["template"]["enum"] = templates
    return body


def _bulk_body() -> dict[str, Any]:
    body = serializer_schema(SendBulkInput)
    body["properties"]["recipients"]["maxItems"] = settings.SOGOMS_MAIL_MAX_BULK
    return body


def _schemas() -> dict[str, Any]:
    template = {
        "type": "object",
        "required": ["name", "description", "parts"],
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "parts": {"type": "array", "items": {"type": "string"}},
        },
    }
    queued = {
        "type": "object",
        "required": ["id", "status", "to", "subject"],
        "properties": {
            "id": {"type": "integer"},
            "status": {"enum": list(Status.values)},
            "to": {"type": "string"},
            "subject": {"type": "string"},
        },
    }
    bulk = {
        "type": "object",
        "required": ["batch", "count"],
        "properties": {"batch": {"type": "string"}, "count": {"type": "integer"}},
    }
    return {
        "MailTemplate": template,
        "MailQueued": queued,
        "MailBulk": bulk,
        "MailMessage": model_schema(OutboxMessage, SUMMARY_FIELDS),
        "MailMessageDetail": model_schema(OutboxMessage, DETAIL_FIELDS),
    }
