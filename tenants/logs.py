"""Per-tenant JSON-lines logs: `<LOG_DIR>/<app>-<YYYYMMDD>-<type>.log`.

One line per entry: ts, app, type, event, level, user_id, request_id, details. Lines are
appended with O_APPEND in one write, so processes writing the same file do not interleave
within a line. `purge_logs` deletes files older than the tenant's retention.
"""

from __future__ import annotations

import json
import logging
import os
import re
import traceback
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from sogoms_site.requestid import current_request_id

_FILE_NAME = re.compile(r"^(?P<app>[a-z][a-z0-9_]*)-(?P<day>\d{8})-(?P<type>[a-z_]+)\.log$")
logger = logging.getLogger("sogoms.tenants")


def log_dir() -> Path:
    return Path(settings.SOGOMS_LOG_DIR)


def log_path(app: str, kind: str, day: date) -> Path:
    return Path(_log_file(app, kind, day))


def _log_file(app: str, kind: str, day: date) -> str:
    # text, not a Path: write_entry opens it once per entry
    return os.path.join(settings.SOGOMS_LOG_DIR, f"{app}-{day:%Y%m%d}-{kind}.log")


def write_entry(
    app: str,
    kind: str,
    event: str,
    *,
    level: str = "info",
    user_id: Any = None,
    details: dict | None = None,
) -> dict:
    """Append one entry; a log that cannot be written is reported, never raised."""
    now = datetime.now(UTC)
    entry = {
        "ts": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "app": app,
        "type": kind,
        "event": event,
        "level": level,
        "user_id": user_id,
        "request_id": current_request_id() or None,
        "details": details or {},
    }
    line = (json.dumps(entry, cls=DjangoJSONEncoder, ensure_ascii=False) + "\n").encode()
    path = _log_file(app, kind, now)
    try:
        fd = _open_for_append(path)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        logger.error("cannot write %s: %s; entry was %s", path, exc, line.decode().strip())
    return entry


def _open_for_append(path: str) -> int:
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    try:
        return os.open(path, flags, 0o640)
    except FileNotFoundError:  # its directory is not there yet: made here, not checked per entry
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return os.open(path, flags, 0o640)


def log_event(app: str, event: str, *, user_id: Any = None, details: dict | None = None) -> dict:
    return write_entry(app, "event", event, user_id=user_id, details=details)


def log_error(
    app: str, event: str, *, level: str = "error", user_id: Any = None, details: dict | None = None
) -> dict:
    return write_entry(app, "error", event, level=level, user_id=user_id, details=details)


def log_exception(app: str, exception: BaseException, **context: Any) -> dict:
    """An unhandled exception: its type, message and traceback stay in the log, not the response."""
    trace = "".join(traceback.format_exception(type(exception), exception, exception.__traceback__))
    logger.error("unhandled %s in %s (request %s)", type(exception).__name__, app, current_request_id())
    return log_error(
        app,
        "unhandled_exception",
        details={
            **context,
            "exception": type(exception).__name__,
            "message": str(exception),
            "traceback": trace,
        },
    )


def purge_logs(app: str, retention_days: int, *, today: date | None = None) -> list[Path]:
    """Delete this app's log files dated more than `retention_days` days before today."""
    today = today or datetime.now(UTC).date()
    cutoff = today - timedelta(days=retention_days)
    removed: list[Path] = []
    directory = log_dir()
    if not directory.is_dir():
        return removed
    for path in sorted(directory.glob(f"{app}-*.log")):
        match = _FILE_NAME.match(path.name)
        if not match or match["app"] != app:
            continue
        try:
            day = datetime.strptime(match["day"], "%Y%m%d").date()
        except ValueError:
            continue  # not a calendar date: not one of our files
        if day < cutoff:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
