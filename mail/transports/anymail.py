"""E-mail API providers through django-anymail (Mailgun, Postmark, SendGrid, ... and its test backend)."""

from __future__ import annotations

from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from django.core.mail import EmailMultiAlternatives, get_connection

from mail.transports.base import Transport, TransportError


class AnymailTransport(Transport):
    kind = "anymail"

    def make_backend(self):
        provider = self.spec.settings["provider"]
        return get_connection(
            f"anymail.backends.{provider}.EmailBackend",
            fail_silently=False,
            **dict(self.spec.settings["options"]),
        )

    def message_id(self, message: EmailMultiAlternatives) -> str:
        status = getattr(message, "anymail_status", None)
        if status is None or status.message_id is None:
            return ""
        return str(status.message_id)

    def error_of(self, exc: Exception) -> TransportError:
        provider = self.spec.settings["provider"]
        if isinstance(exc, AnymailRecipientsRefused):
            return TransportError(provider, f"recipient refused: {exc}", permanent=True)
        if isinstance(exc, AnymailAPIError):
            status = getattr(exc, "status_code", None)
            # 4xx other than throttling is the request itself; 429 and 5xx pass.
            permanent = status is not None and 400 <= status < 500 and status != 429
            return TransportError(provider, f"{status or 'no status'}: {exc}", permanent=permanent)
        if isinstance(exc, AnymailError):
            return TransportError(provider, str(exc), permanent=True)
        return TransportError(provider, f"{type(exc).__name__}: {exc}", broken=True)
