"""SMTP per tenant: STARTTLS on 587 or implicit TLS on 465, AUTH, a private CA if given.

A message's bytes are the stdlib's, made cheaper where bulk mail spends its CPU (see
`as_bytes`): at a thousand messages a second, building them costs as much as sending.
"""

from __future__ import annotations

import secrets
import smtplib
import ssl
from email.generator import BytesGenerator
from email.message import Message
from email.policy import Policy
from functools import cached_property, lru_cache
from io import BytesIO
from typing import cast

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend
from django.core.mail.message import sanitize_address

from mail.transports.base import Transport, TransportError


class TenantSmtpBackend(EmailBackend):
    def __init__(self, *, ca_file: str | None = None, **kwargs) -> None:
        self.ca_file = ca_file
        super().__init__(**kwargs)

    @cached_property
    def ssl_context(self) -> ssl.SSLContext:
        # The system's trusted roots, plus the tenant's own CA when it runs a private relay.
        return ssl.create_default_context(cafile=self.ca_file)

    def _send(self, email_message: EmailMessage) -> bool:
        # Django's own, but for the bytes (as_bytes) and the sender, parsed once per
        # connection's life rather than per message. fail_silently is always off here.
        if not email_message.recipients():
            return False
        encoding = email_message.encoding or settings.DEFAULT_CHARSET
        recipients = [sanitize_address(address, encoding) for address in email_message.recipients()]
        sender = _sanitized_sender(email_message.from_email, encoding)
        connection = cast(smtplib.SMTP, self.connection)  # open: send_messages saw to it
        connection.sendmail(sender, recipients, as_bytes(email_message.message()))
        return True


@lru_cache(maxsize=256)
def _sanitized_sender(address: str, encoding: str) -> str:
    return sanitize_address(address, encoding)


class _Generator(BytesGenerator):
    """The stdlib's generator, with a short cut for the common header: printable ASCII
    on one line without spaces at its ends, which the compat32 policy writes unchanged
    (tests/mail compare the two); any other header goes the stdlib's way."""

    def _write_headers(self, msg: Message) -> None:
        policy = cast(Policy, self.policy)  # set by flatten()
        write = self._fp.write  # type: ignore[attr-defined]
        limit, linesep = policy.max_line_length or 0, policy.linesep
        for name, value in msg.raw_items():
            if (
                isinstance(value, str)
                and value.isascii()
                and value.isprintable()
                and value == value.strip()
                and (not limit or len(name) + 2 + len(value) <= limit)
            ):
                write(f"{name}: {value}{linesep}".encode("ascii"))
            else:
                write(policy.fold_binary(name, value))
        self.write(self._NL)  # type: ignore[attr-defined]


def as_bytes(message: Message) -> bytes:
    """The message's bytes with CRLF line ends, as Django's `as_bytes(linesep="\r\n")`.

    A multipart message gets a random boundary first: left to itself, the stdlib makes one
    and compiles a fresh regular expression to check the parts against it, a fifth of the
    cost of a message. 80 random bits, drawn after the body was written, do not turn up in
    it by chance; and they keep `Content-Type: multipart/alternative; boundary=...` on one
    line, so that header takes the short cut too."""
    if message.is_multipart() and message.get_boundary() is None:
        message.set_boundary(f"=_sogoms_{secrets.token_hex(10)}")
    out = BytesIO()
    _Generator(out, mangle_from_=False).flatten(message, linesep="\r\n")
    return out.getvalue()


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
            # 421: the server closes the connection after this reply (RFC 5321, 3.8).
            return TransportError(
                self.kind,
                f"{exc.smtp_code} {text}",
                permanent=exc.smtp_code >= 500,
                broken=exc.smtp_code == 421,
            )
        return TransportError(self.kind, f"{type(exc).__name__}: {exc}", broken=True)
