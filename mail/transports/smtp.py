"""SMTP per tenant: STARTTLS on 587 or implicit TLS on 465, AUTH, a private CA if given."""

from __future__ import annotations

import smtplib
import ssl
from functools import cached_property

from django.core.mail.backends.smtp import EmailBackend

from mail.transports.base import Transport, TransportError


class TenantSmtpBackend(EmailBackend):
    def __init__(self, *, ca_file: str | None = None, **kwargs) -> None:
        self.ca_file = ca_file
        super().__init__(**kwargs)

    @cached_property
    def ssl_context(self) -> ssl.SSLContext:
        # The system's trusted roots, plus the tenant's own CA when it runs a private relay.
        return ssl.create_default_context(cafile=self.ca_file)


class SmtpTransport(Transport):
    kind = "smtp"

    def make_backend(self) -> EmailBackend:
        return TenantSmtpBackend(fail_silently=False, **self.spec.settings)

    def error_of(self, exc: Exception) -> TransportError:
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{addr}: {code} {text!r}" for addr, (code, text) in exc.recipients.items())
            return TransportError(self.kind, f"recipient refused: {detail}", permanent=min(codes) >= 500)
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            # The tenant's credentials, not the message: retry once an operator fixes them.
            return TransportError(self.kind, f"authentication failed: {exc.smtp_code}", broken=True)
        if isinstance(exc, smtplib.SMTPResponseException):
            text = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else exc.smtp_error
            )
            return TransportError(
                self.kind, f"{exc.smtp_code} {text}", permanent=exc.smtp_code >= 500, broken=False
            )
        return TransportError(self.kind, f"{type(exc).__name__}: {exc}", broken=True)
