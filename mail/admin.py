"""The outbox in the operators' admin: what was sent, what waits, what died; re-queue or cancel.

Superusers only, like tenant data: the rows hold tenants' mail. One-time secrets show as
`[redacted]` there (the stored text); the sealed original is never shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from mail import services
from mail.models import OutboxMessage
from sogoms_site.admin_base import HistoryAdmin
from sogoms_site.errors import DomainError
from tenants.admin import SuperuserOnly


@admin.register(OutboxMessage)
class OutboxMessageAdmin(HistoryAdmin, SuperuserOnly):  # written by the platform; superusers see it
    list_display = (
        "id",
        "app",
        "to_email",
        "subject",
        "template",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
    )
    list_filter = ("app", "status", "template")
    search_fields = ("to_email", "subject", "batch", "provider_message_id")
    date_hierarchy = "created_at"
    actions = ("requeue", "cancel")
    exclude = ("sealed",)
    readonly_fields = [field.name for field in OutboxMessage._meta.fields if field.name != "sealed"]
    list_per_page = 50

    def _apply(
        self,
        request: HttpRequest,
        queryset: QuerySet[OutboxMessage],
        action: Callable[..., Any],
        done: str,
    ) -> None:
        changed, refused = 0, []
        for message in queryset:
            try:
                action(message=message)
                changed += 1
            except DomainError as exc:  # the service's refusal, shown to the operator
                refused.append(exc.message)
        if changed:
            self.message_user(request, f"{changed} message(s) {done}.", messages.SUCCESS)
        for reason in refused[:10]:
            self.message_user(request, reason, messages.WARNING)

    @admin.action(description="Re-queue the selected messages (fresh attempts, now)")
    def requeue(self, request, queryset) -> None:
        self._apply(request, queryset, services.message_requeue, "re-queued")

    @admin.action(description="Cancel the selected unsent messages")
    def cancel(self, request, queryset) -> None:
        self._apply(request, queryset, services.message_cancel, "cancelled")
