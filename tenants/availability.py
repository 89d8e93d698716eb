"""One tenant's database down answers 503 TENANT_UNAVAILABLE for that tenant alone.

A view that meets a database error (`OperationalError`, `InterfaceError`) on a tenant's
request asks the tenant's own database whether it answers. If it does not, the request
answers 503 with the contract's envelope and the other tenants are not concerned. If it
does and the error was the connection breaking (a restart or a KILL between two requests),
the request answers 503 with `Retry-After: 1`, and the next one gets a new connection;
any other error was the query's own and goes on to `ApiErrorMiddleware` (logged, 500).

Once a tenant is found down, this process answers its requests 503 at once, without
touching the database, for `SOGOMS_TENANT_RETRY_SECONDS`; then the next request tries
again. A database host that does not answer would otherwise hold every worker that takes
one of the tenant's requests for the connect timeout, and starve the other tenants.

The probes (/ready, the `sogoms_tenant_up` metric) read `tenant_checks()`: every tenant
database is checked at most once per `SOGOMS_TENANT_PROBE_SECONDS`, by a sweep in a
background thread while the last results are served, so a probe costs the control plane's
checks whatever the number of tenants. A tenant a request found down shows at once.

It sits after `ApiErrorMiddleware` in MIDDLEWARE: exception middleware runs from the
innermost out, so this one sees a view's exception first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse

from sogoms_site.api.envelope import error_response
from sogoms_site.api.errors import from_domain, response_headers
from sogoms_site.errors import TenantUnavailable
from sogoms_site.probes import check_database, database_reachable
from tenants.config import Registry
from tenants.databases import visit_each
from tenants.registry import registry

logger = logging.getLogger("sogoms.availability")

# app -> time.monotonic() until which this process answers the app 503 without trying.
_down_until: dict[str, float] = {}


def retry_seconds() -> int:
    return max(0, int(settings.SOGOMS_TENANT_RETRY_SECONDS))


def mark_down(app: str) -> None:
    _down_until[app] = time.monotonic() + retry_seconds()


def known_down(app: str) -> bool:
    until = _down_until.get(app)
    if until is None:
        return False
    if time.monotonic() < until:
        return True
    del _down_until[app]  # the window is over: the next request tries the database again
    return False


def unavailable_response(app: str, retry_after: float | None = None) -> HttpResponse:
    error = from_domain(TenantUnavailable(details={"app": app}))
    wait = retry_seconds() if retry_after is None else retry_after
    headers = {**response_headers(error), "Retry-After": str(max(1, int(wait)))}
    return error_response(error.status_code, error.code, error.message, error.details, headers)


# MySQL/MariaDB client errors of a connection that broke: gone away, lost (also mid-query),
# killed by the server. The database may answer again at once (a restart, a KILL).
LOST_CONNECTION_CODES = frozenset({2006, 2013, 2055, 1927})


def _close_broken(*aliases: str) -> None:
    for alias in aliases:
        connection = connections[alias]
        if connection.connection is not None and not connection.is_usable():
            connection.close()


def connection_lost(exception: Exception) -> bool:
    """Whether a database error is the connection breaking, not the statement failing."""
    if isinstance(exception, InterfaceError):
        return True
    return bool(exception.args) and exception.args[0] in LOST_CONNECTION_CODES


class TenantAvailabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is not None and known_down(tenant.app):
            return unavailable_response(tenant.app)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        tenant = getattr(request, "tenant", None)
        if tenant is None or not isinstance(exception, OperationalError | InterfaceError):
            return None
        lost = connection_lost(exception)
        if lost:  # the reachability check below must not ask through the broken connection
            _close_broken(tenant.db_alias, DEFAULT_DB_ALIAS)
        if database_reachable(tenant.db_alias):
            if lost:
                # A connection that broke between two requests (one used less than a second
                # before is not pinged first: sogoms_site/db/mysql): the next request has
                # a new one, so try again at once.
                return unavailable_response(tenant.app, retry_after=1)
            return None  # the database answers: the error is the query's, a 500 to log
        mark_down(tenant.app)
        return unavailable_response(tenant.app)


@dataclass
class _Sweep:
    """The last checks of every tenant database, and of which loaded registry."""

    swept: Registry | None = None
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # app -> check_database()
    at: float | None = None  # time.monotonic() when the last sweep ended; None: none has
    thread: threading.Thread | None = None  # the sweep running or last run


_sweep = _Sweep()
_sweep_lock = threading.Lock()


def probe_seconds() -> float:
    return max(0.0, float(settings.SOGOMS_TENANT_PROBE_SECONDS))


def tenant_checks() -> tuple[dict[str, dict[str, Any]], float | None]:
    """The tenants' last database checks (app -> check) and their age in seconds.

    A call that finds no checks of the loaded config younger than SOGOMS_TENANT_PROBE_SECONDS
    starts one sweep in a background thread and answers with what is known: nothing (age
    None) in a process's first seconds, the last checks afterwards, so no call waits for a
    thousand databases. With 0, each call checks every tenant database itself. A tenant a
    request found down (`known_down`) is down whatever its last check said.
    """
    current = registry()
    if probe_seconds() == 0:
        _sweep_now(current)
    else:
        with _sweep_lock:
            fresh = (
                _sweep.swept is current
                and _sweep.at is not None
                and time.monotonic() - _sweep.at < probe_seconds()
            )
            if not fresh and (_sweep.thread is None or not _sweep.thread.is_alive()):
                _sweep.thread = threading.Thread(
                    target=_sweep_in_background, args=(current,), name="tenant-probes", daemon=True
                )
                _sweep.thread.start()
    with _sweep_lock:
        checks = {app: check for app, check in _sweep.checks.items() if app in current.tenants}
        age = None if _sweep.at is None else time.monotonic() - _sweep.at
    for app in checks:
        if known_down(app) and checks[app]["status"] == "ok":
            checks[app] = {"status": "down", "error": "TenantUnavailable"}
    return checks, age


def _sweep_now(current: Registry) -> None:
    """Check every tenant database of the registry, without leaving connections open."""
    checks = {tenant.app: check_database(tenant.db_alias) for tenant in visit_each(current)}
    with _sweep_lock:
        _sweep.swept, _sweep.checks, _sweep.at = current, checks, time.monotonic()


def _sweep_in_background(current: Registry) -> None:
    try:
        _sweep_now(current)
    except Exception:  # logged: the next stale call starts another
        logger.exception("tenant database sweep failed")
    finally:
        connections.close_all()


def wait_for_sweep(timeout: float = 30) -> None:
    """Wait for the running sweep, if any, to end (tests, and tools that need the checks)."""
    thread = _sweep.thread
    if thread is not None:
        thread.join(timeout)


def forget_checks() -> None:
    """Drop the last sweep (tests; the next probe checks every tenant again)."""
    wait_for_sweep()
    with _sweep_lock:
        _sweep.swept, _sweep.checks, _sweep.at, _sweep.thread = None, {}, None, None
