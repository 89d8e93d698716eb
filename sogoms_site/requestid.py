"""The request id: taken from a sane `X-Request-ID` or made up, and echoed back.

It ties an error envelope to the line of the tenant's error log that explains it.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar, Token

from django.http import HttpRequest

_current: ContextVar[str] = ContextVar("sogoms_request_id", default="")
_SANE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class IdentifiedHttpRequest(HttpRequest):
    """A Django request once RequestIdMiddleware has seen it."""

    request_id: str


def current_request_id() -> str:
    return _current.get()


def new_request_id(incoming: str | None = None) -> str:
    # 32 random hex digits, as uuid4().hex gave, without building a UUID per request
    return incoming if incoming and _SANE.match(incoming) else secrets.token_hex(16)


def set_request_id(value: str) -> Token[str]:
    return _current.set(value)


def reset_request_id(token: Token[str]) -> None:
    _current.reset(token)
