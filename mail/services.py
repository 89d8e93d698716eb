"""Mail actions of a tenant (the seed's send, send_template, send_bulk) and outbox upkeep.

Each action renders first and writes outbox rows only when every message rendered: a
bulk send with one bad recipient writes nothing. A template's secret variables never
reach a row in clear: the row shows `[redacted]`, the real text is sealed (`mail.sealing`).
Rows are written in the caller's transaction on the control database (call inside
`transaction.atomic(using="default")` to tie them to a change) and handed to Celery only
after that transaction commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from mail.config import mail_settings
from mail.models import PENDING, OutboxMessage, Status
from mail.sealing import seal
from mail.templates import MailTemplate, MissingVariables, Rendered
from sogoms_site.db.bulk import insert_rows
from sogoms_site.errors import InvalidInput, NotFoundError, StateConflict
from tenants.config import Tenant
from tenants.logs import log_event

INSERT_CHUNK = 1000


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str = ""
    variables: dict | None = None


@dataclass(frozen=True)
class BulkSend:
    batch: str
    count: int


def mail_send(
    *, tenant: Tenant, to: str, subject: str, body: str = "", body_html: str = "", to_name: str = ""
) -> OutboxMessage:
    """Queue one message written by the caller."""
    if not subject.strip():
        raise InvalidInput("The subject is empty.", details={"subject": ["required"]})
    if not (body or body_html):
        raise InvalidInput("Give body, body_html or both.", details={"body": ["required"]})
    rendered = Rendered(subject=" ".join(subject.split()), body=body, body_html=body_html)
    return _queue(tenant, [(Recipient(_address(to, "to"), to_name), (rendered, None))], template="")[0]


def mail_send_template(
    *,
    tenant: Tenant,
    template: str,
    to: str,
    variables: dict | None = None,
    to_name: str = "",
    secret: Collection[str] = (),
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Queue one message from a template of the tenant.

    `secret` names variables (beside the template's `secret:`) the outbox keeps only sealed;
    a second message with the same `dedupe_key` raises IntegrityError (mail.pending)."""
    compiled = template_of(tenant, template)
    recipient = Recipient(_address(to, "to"), to_name)
    rendered = _render(compiled, _variables(recipient, variables), "variables", secret)
    return _queue(tenant, [(recipient, rendered)], template=template, dedupe_key=dedupe_key)[0]


def mail_send_bulk(
    *, tenant: Tenant, template: str, recipients: list[Recipient], variables: dict | None = None
) -> BulkSend:
    """Queue one message per recipient; `variables` are shared, each recipient's win."""
    compiled = template_of(tenant, template)
    limit = settings.SOGOMS_MAIL_MAX_BULK
    if not recipients:
        raise InvalidInput("No recipients.", details={"recipients": ["at least one is required"]})
    if len(recipients) > limit:
        raise InvalidInput(
            f"{len(recipients)} recipients; at most {limit} per bulk send.",
            details={"recipients": [f"at most {limit}"]},
        )
    errors: dict[str, Any] = {}
    pairs = []
    for index, recipient in enumerate(recipients):
        try:
            address = _address(recipient.email, f"recipients[{index}].email")
            merged = {**(variables or {}), **(recipient.variables or {})}
            checked = Recipient(address, recipient.name, merged)
            pairs.append(
                (checked, _render(compiled, _variables(checked, merged), f"recipients[{index}]", ()))
            )
        except InvalidInput as exc:
            errors.update(exc.details)
        if len(errors) >= 20:
            break  # enough to show the pattern
    if errors:
        raise InvalidInput("Some recipients cannot be sent to; nothing was queued.", details=errors)
    batch = uuid.uuid4().hex
    _queue(tenant, pairs, template=template, batch=batch)
    return BulkSend(batch=batch, count=len(pairs))


def template_of(tenant: Tenant, name: str) -> MailTemplate:
    template = mail_settings(tenant).template(name)
    if template is None:
        known = ", ".join(sorted(mail_settings(tenant).templates)) or "none"
        raise NotFoundError(f"No e-mail template {name!r} in {tenant.app} (templates: {known}).")
    return template


def message_requeue(*, message: OutboxMessage) -> OutboxMessage:
    """Give a failed, dead or cancelled message a fresh set of attempts, now."""
    if message.status in (Status.SENT, Status.SENDING):
        raise StateConflict(
            f"Message #{message.pk} is {message.status}; only unsent messages can be re-queued."
        )
    if message.redacted and not message.sealed:
        raise StateConflict(
            f"Message #{message.pk} carried a one-time secret, deleted when it died; "
            "it cannot be sent again (ask for a new one, e.g. a new password reset)."
        )
    with transaction.atomic(using="default"):
        updated = OutboxMessage.objects.filter(pk=message.pk, status=message.status).update(
            status=Status.QUEUED, attempts=0, next_attempt_at=timezone.now(), claim="", handed_at=None
        )
        if not updated:
            raise StateConflict(f"Message #{message.pk} changed meanwhile; look again.")
        _dispatch_after_commit([message.pk])
    log_event(message.app, "mail.requeued", details={"message": message.pk})
    message.refresh_from_db()
    return message


def message_cancel(*, message: OutboxMessage) -> OutboxMessage:
    """Stop a message that has not been sent; it stays in the outbox as dead."""
    updated = OutboxMessage.objects.filter(pk=message.pk, status__in=PENDING).update(
        status=Status.DEAD, last_error="cancelled by an operator", claim="", sealed=""
    )
    if not updated:
        raise StateConflict(
            f"Message #{message.pk} is {message.status}; only queued or failed ones can be cancelled."
        )
    log_event(message.app, "mail.cancelled", details={"message": message.pk})
    message.refresh_from_db()
    return message


def _address(value: Any, key: str) -> str:
    text = str(value or "").strip()
    try:
        validate_email(text)
    except ValidationError:
        raise InvalidInput(
            f"{text!r} is not an e-mail address.", details={key: ["not an e-mail address"]}
        ) from None
    return text


def _variables(recipient: Recipient, variables: dict | None) -> dict:
    # The recipient's own address and name are there for every template.
    return {"email": recipient.email, "name": recipient.name, **(variables or {})}


def _render(
    template: MailTemplate, variables: dict, key: str, secret: Collection[str]
) -> tuple[Rendered, Rendered | None]:
    try:
        return template.render_redacted(variables, secret)
    except MissingVariables as exc:
        raise InvalidInput(
            f"Template {exc.template!r} needs {', '.join(exc.names)}.",
            details={key: [f"missing variable {name!r}" for name in exc.names]},
        ) from None


def _queue(
    tenant: Tenant,
    pairs: list[tuple[Recipient, tuple[Rendered, Rendered | None]]],
    *,
    template: str,
    batch: str = "",
    dedupe_key: str | None = None,
) -> list[OutboxMessage]:
    now = timezone.now()
    sender = mail_settings(tenant).transport.from_email
    rows = [
        OutboxMessage(
            app=tenant.app,
            template=template,
            batch=batch,
            to_email=recipient.email,
            to_name=recipient.name,
            from_email=sender,
            subject=shown.subject,
            body_text=shown.body,
            body_html=shown.body_html,
            dedupe_key=dedupe_key,
            redacted=real is not None,
            sealed=seal(real) if real is not None else "",
            max_attempts=settings.SOGOMS_MAIL_MAX_ATTEMPTS,
            next_attempt_at=now,
        )
        for recipient, (shown, real) in pairs
    ]
    with transaction.atomic(using="default"):
        saved = insert_rows(OutboxMessage, rows, using="default", chunk=INSERT_CHUNK)
        ids = [row.pk for row in saved]
        if None in ids:  # a backend that does not return keys from a bulk insert; batch is set
            ids = list(OutboxMessage.objects.filter(batch=batch).values_list("pk", flat=True))
        _dispatch_after_commit(ids)
    log_event(tenant.app, "mail.queued", details={"count": len(rows), "template": template, "batch": batch})
    return saved


def _dispatch_after_commit(ids: list[int]) -> None:
    from mail.delivery import batches
    from mail.tasks import dispatch

    def send() -> None:
        for batch in batches(ids):
            dispatch(batch)

    transaction.on_commit(send, using="default")
