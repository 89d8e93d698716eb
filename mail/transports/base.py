"""The base class of mail transports and their error, which carries the transport's kind.

A transport wraps a Django e-mail backend (SMTP, a django-anymail provider, files) and
adds what delivery needs from it: one connection kept open for many messages, the
provider's message id, and whether a failure is worth another attempt.
"""

from __future__ import annotations

import contextlib

from django.core.mail import EmailMultiAlternatives

from mail.config import TransportSpec


class TransportError(Exception):
    """A message was not accepted.

    `permanent`: another attempt would fail the same way (a refused recipient).
    `broken`: the connection is gone, so the rest of a batch waits for a later attempt.
    """

    def __init__(self, kind: str, message: str, *, permanent: bool = False, broken: bool = False) -> None:
        self.kind = kind
        self.permanent = permanent
        self.broken = broken
        super().__init__(f"{kind}: {message}")


class Transport:
    kind = ""

    def __init__(self, spec: TransportSpec) -> None:
        self.spec = spec
        self.backend = self.make_backend()

    def make_backend(self):
        raise NotImplementedError

    def __enter__(self) -> Transport:
        try:
            self.backend.open()
        except Exception as exc:
            raise self.error_of(exc) from exc
        return self

    def __exit__(self, *exc_info) -> None:
        # Closing a broken connection may fail too; nothing is lost by it.
        with contextlib.suppress(Exception):
            self.backend.close()

    def send(self, message: EmailMultiAlternatives) -> str:
        """Hand one message over; returns the provider's message id."""
        message.connection = self.backend
        try:
            sent = self.backend.send_messages([message])
        except TransportError:
            raise
        except Exception as exc:
            raise self.error_of(exc) from exc
        if not sent:
            raise TransportError(self.kind, "the message was not accepted", broken=True)
        return self.message_id(message)

    def message_id(self, message: EmailMultiAlternatives) -> str:
        return message.extra_headers.get("Message-ID", "")

    def error_of(self, exc: Exception) -> TransportError:
        return TransportError(self.kind, f"{type(exc).__name__}: {exc}", broken=True)
