"""One tenant's database down answers 503 TENANT_UNAVAILABLE for that tenant alone.

A view that meets a database error (`OperationalError`, `InterfaceError`) on a tenant's
request asks the tenant's own database whether it answers. If it does not, the request
answers 503 with the contract's envelope and the other tenants are not concerned; if it
does, the error was the query's own and goes on to `ApiErrorMiddleware` (logged, 500).

It sits after `ApiErrorMiddleware` in MIDDLEWARE: exception middleware runs from the
innermost out, so this one sees a view's exception first.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from sogoms_site.api.envelope import error_response
from sogoms_site.api.errors import from_domain, response_headers
from sogoms_site.errors import TenantUnavailable
from sogoms_site.probes import database_reachable

# How long a client should wait before trying again, in seconds.
RETRY_AFTER = 5


def unavailable_response(app: str) -> HttpResponse:
    error = from_domain(TenantUnavailable(details={"app": app}))
    headers = {**response_headers(error), "Retry-After": str(RETRY_AFTER)}
    return error_response(error.status_code, error.code, error.message, error.details, headers)


class TenantAvailabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        tenant = getattr(request, "tenant", None)
        if tenant is None or not isinstance(exception, OperationalError | InterfaceError):
            return None
        if database_reachable(tenant.db_alias):
            return None  # the database answers: the error is the query's, a 500 to log
        return unavailable_response(tenant.app)
