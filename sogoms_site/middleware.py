"""Site middleware: metrics, the request id, and the contract's guarantees at the edge.

`ApiErrorMiddleware` makes tenant requests keep the envelope even when things go wrong
outside a view: an oversize body is refused before it is read, and an unhandled
exception becomes INTERNAL_ERROR (logged with the request id, never shown). It gives every
tenant answer its Content-Length, as Django's common middleware does on the site's paths.

`SitePathsMiddleware` runs the browser machinery (sessions, Django's common middleware,
CSRF, the admin's user, messages) on the site's own paths only: a tenant API request
authenticates by token and uses none of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware

from sogoms_site import metrics
from sogoms_site.api.envelope import error_response
from sogoms_site.api.errors import response_headers, translate
from sogoms_site.metrics_endpoint import bearer_allowed, metrics_view
from sogoms_site.requestid import IdentifiedHttpRequest, new_request_id, reset_request_id, set_request_id


class MetricsMiddleware:
    """Counts and times every answer by tenant and URL pattern; serves /metrics to the token.

    Outermost, so the time includes the whole stack and every answer is seen, the tenant
    middleware's refusals too. Labels come from what the stack resolved (the tenant, the
    route's pattern), never from the raw host or path: an unknown host is app "-", a path
    no pattern matched is route "unmatched", whatever a client sends.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        # The bearer token opens /metrics on any host; without it (or with a wrong one)
        # the request goes on as usual: served on an operator host, unknown elsewhere.
        if request.path_info == "/metrics" and bearer_allowed(request):
            response = metrics_view(request)
            app, route = metrics.NO_APP, "metrics"  # the site's pattern, resolved or not
        else:
            response = self.get_response(request)
            app, route = self.labels(request)
        metrics.observe_request(
            app, request.method, route, response.status_code, time.perf_counter() - started
        )
        return response

    @staticmethod
    def labels(request: HttpRequest) -> tuple[str, str]:
        """(app, route) of an answered request, from what the stack resolved."""
        tenant = getattr(request, "tenant", None)
        match = request.resolver_match
        if match is None:
            route = metrics.UNMATCHED
        elif tenant is None:
            route = match.route
        else:  # the same pattern under every tenant's base path
            route = match.route.removeprefix(tenant.base_path.strip("/") + "/")
        return (metrics.NO_APP if tenant is None else tenant.app), route


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: IdentifiedHttpRequest) -> HttpResponse:
        request_id = new_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response["X-Request-ID"] = request_id
        return response


class ApiErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if getattr(request, "tenant", None) is not None:
            length = request.META.get("CONTENT_LENGTH") or "0"
            limit = settings.SOGOMS_MAX_BODY_BYTES
            if not (length.isascii() and length.isdigit()):  # isdigit() alone takes "²"
                return error_response(400, "VALIDATION_ERROR", "Content-Length is not a number.")
            if int(length) > limit:
                return error_response(
                    413, "PAYLOAD_TOO_LARGE", f"The request body is larger than {limit} bytes."
                )
            response = self.get_response(request)
            # what Django's common middleware (site paths only) does: a sized answer
            if not response.streaming and not response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
            return response
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if getattr(request, "tenant", None) is None:
            return None
        known = translate(exception)
        if known is not None:
            return error_response(
                known.status_code, known.code, known.message, known.details, response_headers(known)
            )
        return internal_error_response(request, exception)


class SitePathsMiddleware:
    """Sessions, common, CSRF, the signed-in admin and messages, for requests without a tenant.

    In Django's order (session, common, CSRF, authentication, messages), placed where they
    stood; a tenant request (`request.tenant` set by the tenant middleware) skips them.
    CSRF's check lives in `process_view`, which Django calls on listed middleware only:
    this one passes it on for site requests.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # typed Any: the stubs allow async answers; these four are sync, as the whole stack is
        messages: Any = MessageMiddleware(get_response)
        authentication: Any = AuthenticationMiddleware(messages)
        self.csrf = CsrfViewMiddleware(authentication)
        csrf: Any = self.csrf
        common: Any = CommonMiddleware(csrf)
        self.site_chain: Any = SessionMiddleware(common)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if getattr(request, "tenant", None) is not None:
            return self.get_response(request)
        return self.site_chain(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., HttpResponse], args: tuple, kwargs: dict
    ) -> HttpResponse | None:
        if getattr(request, "tenant", None) is not None:
            return None
        return self.csrf.process_view(request, view, args, kwargs)


def internal_error_response(request: HttpRequest, exception: BaseException | None) -> HttpResponse:
    """Log an unexpected failure in the tenant's error log and answer without details."""
    from tenants.logs import log_exception

    tenant = getattr(request, "tenant", None)
    if tenant is not None and exception is not None:
        log_exception(tenant.app, exception, path=request.path, method=request.method)
    return error_response(
        500, "INTERNAL_ERROR", "An internal error occurred; quote the request id to the operator."
    )
