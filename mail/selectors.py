"""Reads of the outbox, always within one tenant."""

from __future__ import annotations

from django.db.models import Count

from mail.models import OutboxMessage
from sogoms_site.api.envelope import page_meta

SUMMARY_FIELDS = (
    "id",
    "template",
    "batch",
    "to_email",
    "to_name",
    "subject",
    "status",
    "attempts",
    "max_attempts",
    "next_attempt_at",
    "last_error",
    "provider_message_id",
    "created_at",
    "sent_at",
)
DETAIL_FIELDS = (*SUMMARY_FIELDS, "from_email", "body_text", "body_html")


def messages_of(app: str, *, status: str = "", batch: str = "", template: str = "", to: str = ""):
    queryset = OutboxMessage.objects.filter(app=app)
    if status:
        queryset = queryset.filter(status=status)
    if batch:
        queryset = queryset.filter(batch=batch)
    if template:
        queryset = queryset.filter(template=template)
    if to:
        queryset = queryset.filter(to_email__iexact=to)
    return queryset


def messages_page(queryset, *, page: int, per_page: int) -> tuple[list[dict], dict]:
    total = queryset.count()
    start = (page - 1) * per_page
    rows = list(queryset.order_by("-id").values(*SUMMARY_FIELDS)[start : start + per_page])
    return rows, page_meta(page=page, per_page=per_page, total=total)


def message_of(app: str, message_id: int) -> OutboxMessage | None:
    return OutboxMessage.objects.filter(app=app, pk=message_id).first()


def message_detail(message: OutboxMessage) -> dict:
    return {name: getattr(message, name) for name in DETAIL_FIELDS}


def status_counts(app: str, **filters) -> dict[str, int]:
    rows = messages_of(app, **filters).values("status").annotate(n=Count("id")).order_by()
    return {row["status"]: row["n"] for row in rows}
