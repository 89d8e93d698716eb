"""Mail transports: one module per kind behind one base class (`base`), chosen by the spec."""

from __future__ import annotations

from mail.config import TransportSpec
from mail.transports.anymail import AnymailTransport
from mail.transports.base import Transport, TransportError
from mail.transports.files import FileTransport
from mail.transports.smtp import SmtpTransport

KINDS: dict[str, type[Transport]] = {
    cls.kind: cls for cls in (SmtpTransport, AnymailTransport, FileTransport)
}

__all__ = ["KINDS", "Transport", "TransportError", "transport_for"]


def transport_for(spec: TransportSpec) -> Transport:
    return KINDS[spec.kind](spec)
