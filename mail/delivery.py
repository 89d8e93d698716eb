"""Delivering outbox rows: claim, hand over, record the outcome; recover and sweep.

Why each step:
- claim: one conditional UPDATE moves due rows to `sending` under a fresh claim token, so
  of two tasks given the same rows (a duplicated broker message) only one gets them;
- hand over: just before the transport gets a message, `handed_at` is set and the attempt
  counted; a worker that dies before that leaves a row that is safe to send again, one
  that dies after leaves a row whose outcome nobody knows, which is never sent again on
  its own (it goes `dead` with that reason, for an operator to re-queue);
- outcome: `sent` with the provider's id, or `failed` with the next attempt after an
  exponential back-off, or `dead` once refused for good or out of attempts.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import F, Q
from django.utils import timezone

from mail.config import mail_settings
from mail.models import PENDING, OutboxMessage, Status
from mail.transports import TransportError, transport_for
from tenants.context import tenant_context
from tenants.logs import log_error

logger = logging.getLogger("sogoms.mail")
UNKNOWN_OUTCOME = (
    "the worker stopped while the transport had this message: it may or may not have been "
    "sent, so it is not sent again on its own; re-queue it if it did not arrive"
)


@dataclass
class Outcome:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    released: int = 0
    skipped: int = 0  # not claimable: already taken, sent, or not yet due

    def add(self, other: Outcome) -> None:
        for name in ("sent", "failed", "dead", "released", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off after the `attempts`-th failure, capped."""
    base = settings.SOGOMS_MAIL_RETRY_BASE_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), settings.SOGOMS_MAIL_RETRY_MAX_SECONDS))


def claim(ids: Iterable[int]) -> tuple[str, list[OutboxMessage]]:
    """Take the due rows among `ids` for this worker; rows others hold are left alone."""
    token = uuid.uuid4().hex
    now = timezone.now()
    OutboxMessage.objects.filter(id__in=list(ids), status__in=PENDING, next_attempt_at__lte=now).update(
        status=Status.SENDING,
        claim=token,
        claimed_until=now + timedelta(seconds=settings.SOGOMS_MAIL_CLAIM_SECONDS),
        handed_at=None,
    )
    return token, list(OutboxMessage.objects.filter(claim=token, status=Status.SENDING).order_by("id"))


def deliver(ids: Iterable[int]) -> Outcome:
    """Deliver the due rows among `ids`, one open connection per tenant."""
    ids = list(ids)
    token, messages = claim(ids)
    outcome = Outcome(skipped=len(ids) - len(messages))
    by_app: dict[str, list[OutboxMessage]] = defaultdict(list)
    for message in messages:
        by_app[message.app].append(message)
    for app, group in by_app.items():
        outcome.add(_deliver_app(app, group, token))
    return outcome


def _deliver_app(app: str, messages: list[OutboxMessage], token: str) -> Outcome:
    from tenants.registry import registry

    outcome = Outcome()
    tenant = registry().get(app)
    if tenant is None:
        for message in messages:
            _finish(message, token, Status.DEAD, f"tenant {app!r} is no longer configured", outcome)
        return outcome
    transport_spec = mail_settings(tenant).transport
    with tenant_context(tenant):
        try:
            transport = transport_for(transport_spec).__enter__()
        except TransportError as exc:
            for message in messages:  # nothing reached the server; each try counts
                _hand_over(message, token)
                _failed(message, token, exc, outcome)
            return outcome
        try:
            for index, message in enumerate(messages):
                if not _hand_over(message, token):
                    outcome.skipped += 1  # the lease ran out and the row was recovered
                    continue
                try:
                    provider_id = transport.send(_email_of(message))
                except TransportError as exc:
                    _failed(message, token, exc, outcome)
                    if exc.broken:
                        outcome.released += _release(messages[index + 1 :], token, exc)
                        break
                else:
                    _sent(message, token, provider_id, outcome)
        finally:
            transport.__exit__(None, None, None)
    return outcome


def _email_of(message: OutboxMessage) -> EmailMultiAlternatives:
    to = formataddr((message.to_name, message.to_email)) if message.to_name else message.to_email
    domain = parseaddr(message.from_email)[1].rpartition("@")[2] or "localhost"
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=message.from_email,
        to=[to],
        # Stable across attempts, so a receiver that sees a message twice can tell.
        headers={"Message-ID": f"<sogoms.{message.app}.{message.pk}.{message.created_at:%s}@{domain}>"},
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    return email


def _mine(message: OutboxMessage, token: str):
    return OutboxMessage.objects.filter(pk=message.pk, claim=token, status=Status.SENDING)


def _hand_over(message: OutboxMessage, token: str) -> bool:
    now = timezone.now()
    updated = _mine(message, token).update(handed_at=now, attempts=F("attempts") + 1)
    message.attempts += 1
    return bool(updated)


def _sent(message: OutboxMessage, token: str, provider_id: str, outcome: Outcome) -> None:
    now = timezone.now()
    _mine(message, token).update(
        status=Status.SENT, provider_message_id=provider_id[:255], sent_at=now, claim="", last_error=""
    )
    outcome.sent += 1


def _failed(message: OutboxMessage, token: str, exc: TransportError, outcome: Outcome) -> None:
    if exc.permanent or message.attempts >= message.max_attempts:
        reason = (
            str(exc) if exc.permanent else f"{exc} (attempt {message.attempts} of {message.max_attempts})"
        )
        _finish(message, token, Status.DEAD, reason, outcome)
        return
    _mine(message, token).update(
        status=Status.FAILED,
        claim="",
        last_error=f"{exc} (attempt {message.attempts} of {message.max_attempts})",
        next_attempt_at=timezone.now() + retry_delay(message.attempts),
    )
    outcome.failed += 1


def _finish(message: OutboxMessage, token: str, status: str, reason: str, outcome: Outcome) -> None:
    _mine(message, token).update(status=status, claim="", last_error=reason)
    outcome.dead += 1
    log_error(
        message.app, "mail.dead", details={"message": message.pk, "to": message.to_email, "error": reason}
    )


def _release(messages: list[OutboxMessage], token: str, exc: TransportError) -> int:
    """Give back claimed rows the transport never saw: no attempt is counted against them."""
    ids = [message.pk for message in messages]
    return OutboxMessage.objects.filter(pk__in=ids, claim=token, status=Status.SENDING).update(
        status=Status.FAILED,
        claim="",
        last_error=f"not attempted: {exc}",
        next_attempt_at=timezone.now() + retry_delay(1),
    )


def recover_stale() -> tuple[int, int]:
    """Rows whose worker vanished: (put back because never handed over, dead as unknown)."""
    now = timezone.now()
    stale = OutboxMessage.objects.filter(status=Status.SENDING, claimed_until__lt=now)
    put_back = stale.filter(handed_at__isnull=True).update(
        status=Status.FAILED, claim="", next_attempt_at=now
    )
    unknown = list(stale.filter(handed_at__isnull=False).values_list("pk", "app", "to_email"))
    if unknown:
        OutboxMessage.objects.filter(pk__in=[pk for pk, _, _ in unknown], status=Status.SENDING).update(
            status=Status.DEAD, claim="", last_error=UNKNOWN_OUTCOME
        )
        for pk, app, to_email in unknown:
            log_error(app, "mail.outcome_unknown", details={"message": pk, "to": to_email})
    return put_back, len(unknown)


def due_ids(limit: int) -> list[int]:
    now = timezone.now()
    return list(
        OutboxMessage.objects.filter(Q(status__in=PENDING) & Q(next_attempt_at__lte=now))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def sweep(*, dispatch) -> dict:
    """Recover stale rows, then hand every due row to `dispatch(ids)` in batches."""
    put_back, unknown = recover_stale()
    ids = due_ids(settings.SOGOMS_MAIL_SWEEP_LIMIT)
    size = settings.SOGOMS_MAIL_BATCH_SIZE
    for start in range(0, len(ids), size):
        dispatch(ids[start : start + size])
    if put_back or unknown or ids:
        logger.info("mail sweep: %d due, %d put back, %d outcome unknown", len(ids), put_back, unknown)
    return {"due": len(ids), "put_back": put_back, "outcome_unknown": unknown}
