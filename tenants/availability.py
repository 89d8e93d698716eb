"""One tenant's database down answers 503 TENANT_UNAVAILABLE for that tenant alone.

A view that meets a database error (`OperationalError`, `InterfaceError`) on a tenant's
request asks the tenant's own database whether it answers. If it does not, the request
answers 503 with the contract's envelope and the other tenants are not concerned; if it
does, the error was the query's own and goes on to `ApiErrorMiddleware` (logged, 500).

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
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse

from sogoms_site.api.envelope import error_response
from sogoms_site.api.errors import from_domain, response_headers
from sogoms_site.errors import TenantUnavailable
from sogoms_site.probes import check_database, database_reachable
from tenants.config import Registry
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


def unavailable_response(app: str) -> HttpResponse:
    error = from_domain(TenantUnavailable(details={"app": app}))
    headers = {**response_headers(error), "Retry-After": str(max(1, retry_seconds()))}
    return error_response(error.status_code, error.code, error.message, error.details, headers)


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
        if database_reachable(tenant.db_alias):
            return None  # the database answers: the error is the query's, a 500 to log
        mark_down(tenant.app)
        return unavailable_response(tenant.app)


@dataclass
class _Sweep:
    """The last checks of every tenant database, and of which loaded registry."""

    swept: Registry | None = None
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # app -> check_database()
    at: float = 0.0  # time.monotonic() when the last sweep ended
    running: bool = False


_sweep = _Sweep()
_sweep_lock = threading.Lock()


def probe_seconds() -> float:
    return max(0.0, float(settings.SOGOMS_TENANT_PROBE_SECONDS))


def tenant_checks() -> tuple[dict[str, dict[str, Any]], float]:
    """Every tenant's last database check (app -> check) and its age in seconds.

    The first call of a process (or after a reload) checks every tenant database before it
    answers; afterwards a call that finds the checks older than SOGOMS_TENANT_PROBE_SECONDS
    starts one sweep in a background thread and answers the last ones. A tenant a request
    found down (`known_down`) is down whatever its last check said.
    """
    current = registry()
    with _sweep_lock:
        fresh = _sweep.swept is current and time.monotonic() - _sweep.at < probe_seconds()
        first = _sweep.swept is not current
        start_background = not fresh and not first and not _sweep.running
        if start_background:
            _sweep.running = True
    if first or probe_seconds() == 0:
        _sweep_now(current)
    elif start_background:
        threading.Thread(
            target=_sweep_in_background, args=(current,), name="tenant-probes", daemon=True
        ).start()
    with _sweep_lock:
        checks = dict(_sweep.checks)
        age = time.monotonic() - _sweep.at
    for app in checks:
        if known_down(app) and checks[app]["status"] == "ok":
            checks[app] = {"status": "down", "error": "TenantUnavailable"}
    return checks, age


def _sweep_now(current: Registry) -> None:
    """Check every tenant database of the registry, without leaving connections open."""
    checks = {}
    already_open = {connection.alias for connection in connections.all(initialized_only=True)}
    for tenant in current:
        opened = tenant.db_alias not in already_open
        checks[tenant.app] = check_database(tenant.db_alias)
        if opened:  # a probe's connection, not one of this thread's requests: close it
            connections[tenant.db_alias].close()
    with _sweep_lock:
        _sweep.swept, _sweep.checks, _sweep.at = current, checks, time.monotonic()


def _sweep_in_background(current: Registry) -> None:
    try:
        _sweep_now(current)
    except Exception:  # a sweep must not kill the thread silently nor leave `running` set
        logger.exception("tenant database sweep failed")
    finally:
        with _sweep_lock:
            _sweep.running = False
        connections.close_all()


def forget_checks() -> None:
    """Drop the last sweep (tests; the next probe checks every tenant again)."""
    with _sweep_lock:
        _sweep.swept, _sweep.checks, _sweep.at = None, {}, 0.0
