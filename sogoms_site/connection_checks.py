"""Database health checks where a connection can have gone stale: after it sat idle.

With `CONN_HEALTH_CHECKS`, Django checks every reused connection once per request: on
MariaDB a ping, one more round trip than the request's own statements (on a primary-key
read, about a seventh of the request's time under load). A connection that served a
request less than `IDLE_SECONDS` ago is not checked again; one idle for longer (the
server's `wait_timeout`, a restart while the worker had nothing to do) still is, as
before. A connection that breaks while requests keep coming fails its next statement, the
tenant's request answers 503 TENANT_UNAVAILABLE (tenants.availability), and Django drops
the connection at the end of that request, as it would have after a failed ping.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.signals import request_finished, request_started
from django.db import connections

IDLE_SECONDS = 1.0
_LAST_USED = "sogoms_last_used"  # monotonic time a request last finished with the connection
_NEVER = float("-inf")


def install() -> None:
    """Connect the receivers; after Django's own `close_old_connections`, which they follow."""
    request_started.connect(_skip_checks_of_busy_connections, dispatch_uid="sogoms-busy-connections")
    request_finished.connect(_note_connections_used, dispatch_uid="sogoms-connections-used")


def _skip_checks_of_busy_connections(**_: Any) -> None:
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and now - getattr(connection, _LAST_USED, _NEVER) < IDLE_SECONDS:
            connection.health_check_done = True  # type: ignore[attr-defined]  # Django sets it; the stubs lack it


def _note_connections_used(**_: Any) -> None:
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            setattr(connection, _LAST_USED, now)
