"""The mail outbox: every message a row in the control database, the truth for delivery.

A row is written with the change that caused it and only then handed to Celery; the
broker message is a nudge, not the message. Delivery claims a row before touching the
transport (`sending` with a claim token and a lease), notes the moment it hands the
message over (`handed_at`), then records the outcome. That is what lets a duplicated task
do nothing and a crashed worker never cause a second send.
"""

from __future__ import annotations

from django.db import models


class Status(models.TextChoices):
    QUEUED = "queued"  # waiting for its first attempt
    SENDING = "sending"  # claimed by a worker
    SENT = "sent"  # accepted by the transport
    FAILED = "failed"  # the last attempt failed; another follows at next_attempt_at
    DEAD = "dead"  # no more attempts: refused, out of attempts, cancelled, or outcome unknown


PENDING = (Status.QUEUED, Status.FAILED)


class OutboxMessage(models.Model):
    app = models.CharField(max_length=40)
    template = models.CharField(max_length=100, blank=True, default="")
    batch = models.CharField(max_length=32, blank=True, default="", help_text="The bulk send it belongs to.")
    to_email = models.CharField(max_length=254)
    to_name = models.CharField(max_length=255, blank=True, default="")
    from_email = models.CharField(max_length=320)
    subject = models.CharField(max_length=998)
    body_text = models.TextField(blank=True, default="")
    body_html = models.TextField(blank=True, default="")
    # One-time secrets (mail.templates `secret:`): the body above shows `[redacted]`; the
    # message as sent waits in `sealed`, encrypted, and is deleted once sent or dead.
    redacted = models.BooleanField(default=False)
    sealed = models.TextField(blank=True, default="", editable=False)
    # `<app>:<key>` of a mail moved from a tenant's pending table (mail.pending): queued once.
    dedupe_key = models.CharField(max_length=80, null=True, blank=True, unique=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=6)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True, default="")
    provider_message_id = models.CharField(max_length=255, blank=True, default="")
    claim = models.CharField(max_length=32, blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)
    handed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "outbox message"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="mail_outbox_due"),
            models.Index(fields=["app", "status"], name="mail_outbox_app_status"),
            models.Index(fields=["batch"], name="mail_outbox_batch"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.app} to {self.to_email} ({self.status})"
