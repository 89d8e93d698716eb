"""Django's MySQL/MariaDB backend, with health checks where a connection can have gone stale.

With `CONN_HEALTH_CHECKS`, Django checks a reused connection once per request before its
first statement: on MariaDB a ping, one more round trip than the request's own statements
(on a primary-key read under load, about a seventh of the request's time). A connection
that opened a cursor less than `IDLE_SECONDS` ago is not pinged again; one idle for longer
(past the server's `wait_timeout`, or through a restart while the worker had nothing to
do) still is. A connection that breaks while requests keep coming fails its next
statement: tenants.availability closes it, and that tenant request answers 503
TENANT_UNAVAILABLE with `Retry-After: 1`; the next request opens a new connection.

The driver's DATETIME and TIMESTAMP converter is `datetime_or_none`: `fromisoformat` (C)
where mysqlclient's own (`DateTime_or_None`, Python) took ten times as long, 40 times for a
page of 20 rows; what `fromisoformat` refuses (a zero date) still goes to the driver's.

settings._tuned() names this backend for every `django.db.backends.mysql` database.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from django.db.backends.mysql import base
from MySQLdb.constants import FIELD_TYPE
from MySQLdb.times import DateTime_or_None
from typing_extensions import override

IDLE_SECONDS = 1.0


def datetime_or_none(text: str) -> datetime | None:
    """A DATETIME/TIMESTAMP value as the driver gives it to its converter (text)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return DateTime_or_None(text)


class DatabaseWrapper(base.DatabaseWrapper):
    _used_at = float("-inf")  # monotonic time this connection last opened a cursor

    @override
    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        conv = dict(params["conv"])
        conv[FIELD_TYPE.DATETIME] = conv[FIELD_TYPE.TIMESTAMP] = datetime_or_none
        params["conv"] = conv
        return params

    @override
    def close_if_health_check_failed(self) -> None:
        now = time.monotonic()
        if self.connection is not None and now - self._used_at < IDLE_SECONDS:
            self.health_check_done = True
        self._used_at = now
        super().close_if_health_check_failed()
