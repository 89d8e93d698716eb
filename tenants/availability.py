"""One tenant's database down answers 503 TENANT_UNAVAILABLE for that tenant alone.

A view that meets a database error (`OperationalError`, `InterfaceError`) on a tenant's
request asks the tenant's own database whether it answers. If it does not, the request
answers 503 with the contract's envelope and the other tenants are not concerned; if it
does, the error was the query's own and goes on to `ApiErrorMiddleware` (logged, 500).

Once a tenant is found down, this process answers its requests 503 at once, without
touching the database, for `SOGOMS_TENANT_RETRY_SECONDS`; then the next request tries
again. A database host that does not answer would otherwise hold every worker that takes
one of the tenant's requests for the connect timeout, and starve the other tenants.

It sits after `ApiErrorMiddleware` in MIDDLEWARE: exception middleware runs from the
innermost out, so this one sees a view's exception first.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from sogoms_site.api.envelope import error_response
from sogoms_site.api.errors import from_domain, response_headers
from sogoms_site.errors import TenantUnavailable
from sogoms_site.probes import database_reachable

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
