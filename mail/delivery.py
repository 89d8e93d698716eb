"""Delivering outbox rows: claim, hand over, record the outcome; recover and sweep.

Why each step:
- claim: one conditional UPDATE moves due rows to `sending` under a fresh claim token, so
  of two tasks given the same rows (a duplicated broker message) only one gets them;
- hand over: just before the transport gets a chunk of messages (SOGOMS_MAIL_HANDOVER_CHUNK),
  `handed_at` is set and the attempt counted; a worker that dies before that leaves rows
  that are safe to send again, one that dies after leaves rows whose outcome nobody knows,
  which are never sent again on their own (they go `dead` with that reason, for an
  operator to re-queue);
- outcome: `sent` with the provider's id, or `failed` with the next attempt after an
  exponential back-off, or `dead` once refused for good or out of attempts; a chunk's
  outcomes are written in one transaction, so a message costs a fraction of a commit;
- secrets: a message whose row is redacted is sent from its sealed original, opened here
  only; reaching `sent` or `dead` deletes the sealed text (`sealed = ''`).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connections as databases
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from mail.config import mail_settings
from mail.connections import Connections, Results
from mail.models import PENDING, OutboxMessage, Status
from mail.sealing import SealError, unseal
from mail.templates import Rendered
from mail.transports import TransportError
from sogoms_site import metrics
from tenants.context import tenant_context
from tenants.logs import log_error

logger = logging.getLogger("sogoms.mail")
UNKNOWN_OUTCOME = (
    "the worker stopped while the transport had this message: it may or may not have been "
    "sent, so it is not sent again on its own; re-queue it if it did not arrive"
)
# Sent messages recorded by one UPDATE: 3 parameters each, under SQLite's 999 a statement.
RECORD_SLICE = 300


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
        outcome.add(metrics.mail_outcome(app, _deliver_app(app, group, token)))
    return outcome


def _deliver_app(app: str, messages: list[OutboxMessage], token: str) -> Outcome:
    from tenants.registry import registry

    outcome = Outcome()
    tenant = registry().get(app)
    if tenant is None:
        for message in messages:
            _finish(message, token, Status.DEAD, f"tenant {app!r} is no longer configured", outcome)
        return outcome
    spec = mail_settings(tenant).transport
    count = min(max(1, settings.SOGOMS_MAIL_CONNECTIONS), len(messages))
    with tenant_context(tenant), Connections(spec, tenant, count, _email_of) as connections:
        if not connections.alive:
            error = connections.error or TransportError(spec.kind, "no connection opened", broken=True)
            with transaction.atomic(using="default"):  # nothing reached the server; each try counts
                for message in _hand_over(messages, token, outcome):
                    _failed(message, token, error, outcome)
            return outcome
        size = max(1, settings.SOGOMS_MAIL_HANDOVER_CHUNK)
        chunk = _hand_over(messages[:size], token, outcome)
        for start in range(0, len(messages), size):
            results = connections.send(chunk)
            rest = messages[start + size :]
            # One commit per chunk: its outcomes and the next chunk's hand-over, which a
            # crash undoes together (that chunk is then not handed over: safe to send).
            with transaction.atomic(using="default"):
                _record(results, token, outcome)
                if results.broken is not None:
                    outcome.released += _release(rest, token, results.broken)
                elif results.crash is None and rest:
                    chunk = _hand_over(rest[:size], token, outcome)
            if results.crash is not None:
                raise results.crash
            if results.broken is not None:
                break
    return outcome


def _record(results: Results, token: str, outcome: Outcome) -> None:
    """Every outcome of a chunk, in the caller's transaction."""
    _record_sent(results.sent, token)
    outcome.sent += len(results.sent)
    for message, error in results.failed:
        _failed(message, token, error, outcome)
    if results.untried and results.broken is not None:
        outcome.released += _take_back(results.untried, token, results.broken)


def _text_of(message: OutboxMessage) -> Rendered:
    """The text to send: the row's, or for a message with secrets its sealed original."""
    if not message.redacted:
        return Rendered(subject=message.subject, body=message.body_text, body_html=message.body_html)
    if not message.sealed:
        raise TransportError("outbox", "its one-time secrets were deleted; it cannot be sent", permanent=True)
    try:
        return unseal(message.sealed)
    except SealError as exc:
        raise TransportError("outbox", str(exc), permanent=True) from None


def _email_of(message: OutboxMessage) -> EmailMultiAlternatives:
    to = formataddr((message.to_name, message.to_email)) if message.to_name else message.to_email
    domain = parseaddr(message.from_email)[1].rpartition("@")[2] or "localhost"
    text = _text_of(message)
    email = EmailMultiAlternatives(
        subject=text.subject,
        body=text.body,
        from_email=message.from_email,
        to=[to],
        # Stable across attempts, so a receiver that sees a message twice can tell.
        headers={"Message-ID": f"<sogoms.{message.app}.{message.pk}.{message.created_at:%s}@{domain}>"},
    )
    if text.body_html:
        email.attach_alternative(text.body_html, "text/html")
    return email


def _mine(message: OutboxMessage, token: str):
    return OutboxMessage.objects.filter(pk=message.pk, claim=token, status=Status.SENDING)


def _hand_over(messages: list[OutboxMessage], token: str, outcome: Outcome) -> list[OutboxMessage]:
    """Mark messages as given to the transport (and count the attempt), in one UPDATE.

    Returns the ones still held by this claim; a row the sweep took back meanwhile (its
    lease ran out) is skipped."""
    ids = [message.pk for message in messages]
    updated = OutboxMessage.objects.filter(pk__in=ids, claim=token, status=Status.SENDING).update(
        handed_at=timezone.now(), attempts=F("attempts") + 1
    )
    if updated != len(ids):
        ours = set(OutboxMessage.objects.filter(pk__in=ids, claim=token).values_list("pk", flat=True))
        messages = [message for message in messages if message.pk in ours]
        outcome.skipped += len(ids) - len(messages)
    for message in messages:
        message.attempts += 1
    return messages


def _record_sent(sent: list[tuple[OutboxMessage, str]], token: str) -> None:
    """One UPDATE for all sent messages, their provider ids chosen by a CASE on the key: at
    hundreds a second a statement (and round trip) per row costs more than the work."""
    if not sent:
        return
    connection = databases["default"]
    quote, now = connection.ops.quote_name, connection.ops.adapt_datetimefield_value(timezone.now())
    key = quote("id")
    for start in range(0, len(sent), RECORD_SLICE):
        part = sent[start : start + RECORD_SLICE]
        cases = " ".join(["WHEN %s THEN %s"] * len(part))
        keys = ", ".join(["%s"] * len(part))
        # Quoted names from the model; every value is a bound parameter.
        sql = (
            f"UPDATE {quote(OutboxMessage._meta.db_table)} SET {quote('status')} = %s, "  # noqa: S608
            f"{quote('provider_message_id')} = CASE {key} {cases} END, "
            f"{quote('sent_at')} = %s, {quote('updated_at')} = %s, "
            f"{quote('claim')} = '', {quote('last_error')} = '', {quote('sealed')} = '' "
            f"WHERE {key} IN ({keys}) AND {quote('claim')} = %s AND {quote('status')} = %s"
        )
        params: list = [Status.SENT.value]
        for message, provider_id in part:
            params += [message.pk, provider_id[:255]]
        params += [now, now, *(message.pk for message, _ in part), token, Status.SENDING.value]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


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
    _mine(message, token).update(status=status, claim="", last_error=reason, sealed="")
    outcome.dead += 1
    log_error(
        message.app, "mail.dead", details={"message": message.pk, "to": message.to_email, "error": reason}
    )


def _take_back(messages: list[OutboxMessage], token: str, exc: TransportError) -> int:
    """Handed-over messages the broken connection never reached: the attempt is undone."""
    ids = [message.pk for message in messages]
    return OutboxMessage.objects.filter(pk__in=ids, claim=token, status=Status.SENDING).update(
        status=Status.FAILED,
        claim="",
        handed_at=None,
        attempts=F("attempts") - 1,
        last_error=f"not attempted: {exc}",
        next_attempt_at=timezone.now() + retry_delay(1),
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
            status=Status.DEAD, claim="", last_error=UNKNOWN_OUTCOME, sealed=""
        )
        for pk, app, to_email in unknown:
            log_error(app, "mail.outcome_unknown", details={"message": pk, "to": to_email})
            metrics.mail_dead(app)
    return put_back, len(unknown)


def due_ids(limit: int) -> list[int]:
    now = timezone.now()
    return list(
        OutboxMessage.objects.filter(Q(status__in=PENDING) & Q(next_attempt_at__lte=now))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def batches(ids: list[int]) -> list[list[int]]:
    """Ids in the groups one task delivers over one connection (SOGOMS_MAIL_BATCH_SIZE)."""
    size = settings.SOGOMS_MAIL_BATCH_SIZE
    return [ids[start : start + size] for start in range(0, len(ids), size)]


# Steps that bring rows into the outbox, registered by the app's ready() (mail.hooks).
before_sweep: list[Callable[[], int]] = []


def sweep(*, dispatch) -> dict:
    """Run the `before_sweep` steps (moving mail from tenants' pending tables to the outbox),
    recover stale rows, then hand every due row to `dispatch(ids)` in batches."""
    moved = sum(step() for step in before_sweep)
    put_back, unknown = recover_stale()
    ids = due_ids(settings.SOGOMS_MAIL_SWEEP_LIMIT)
    for batch in batches(ids):
        dispatch(batch)
    if put_back or unknown or ids or moved:
        logger.info(
            "mail sweep: %d due, %d put back, %d outcome unknown, %d moved from tenants",
            len(ids),
            put_back,
            unknown,
            moved,
        )
    return {"due": len(ids), "put_back": put_back, "outcome_unknown": unknown, "pending_moved": moved}
