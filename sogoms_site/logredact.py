"""Tokens out of log lines: `?token=...` (the socket's way to authenticate) becomes `[redacted]`.

A browser cannot set headers on a WebSocket, so the socket takes its JWT in the query
string, and every server logs the query string: uvicorn's access log and its socket
lines, gunicorn's access log, Django's request logger. `RedactTokens` rewrites a record's
message and arguments before any handler formats them.

It is declared in `LOGGING` (on Django's request logger and the console handler). The
server's own loggers are configured by the server before Django starts, and naming them
in `LOGGING` would replace their handlers (and undo `--no-access-log`), so `install()`
adds the filter to them as they are; asgi.py and wsgi.py call it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# token=, access_token=, refresh_token= after ? & or ; up to the next separator.
_TOKEN = re.compile(r"(?i)([?&;](?:access_|refresh_)?token=)[^&;\s\"'#]*")
REDACTED = "[redacted]"
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error", "gunicorn.access", "gunicorn.error", "django.request")


def redact(text: str) -> str:
    return _TOKEN.sub(rf"\g<1>{REDACTED}", text)


def _redacted(value: Any) -> Any:  # log arguments are of any type
    return redact(value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):  # gunicorn's access log passes its atoms by name
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        return True


def install() -> None:
    """Add the filter to the servers' loggers (once each), keeping their own configuration."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactTokens) for existing in logger.filters):
            logger.addFilter(RedactTokens())
