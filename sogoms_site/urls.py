"""URL configuration: the site's own paths, and one URL conf per tenant base path.

The root URL conf serves the site paths (/health on every host; /ready, /metrics and
/admin/ only on the operator hosts, which the tenant middleware checks). The tenant middleware sets
`request.urlconf` to `tenant_urlconf(base_path)`, so each tenant's API lives under its
own base path and a tenant host answers every other path, the operators' ones included,
with the envelope (handler404/handler500 below).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path

from sogoms_site import health, metrics_endpoint
from sogoms_site.api.envelope import error_response
from sogoms_site.clientip import client_ip
from sogoms_site.errors import TooManyAttempts
from sogoms_site.tenant_admin import admin_urls


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's sign-in, with failed attempts limited per client IP and per username.

    Past `SOGOMS_ADMIN_LOGIN_ATTEMPTS` failures in `SOGOMS_ADMIN_LOGIN_WINDOW_SECONDS` from
    one IP, or for one username from anywhere, the form answers 429 with Retry-After
    until the window ends, without checking the password.
    """
    from tenants.auth import ratelimit
    from tenants.config import RateLimit

    if request.method != "POST":
        return admin.site.login(request)
    rate = RateLimit(
        settings.SOGOMS_ADMIN_LOGIN_ATTEMPTS, timedelta(seconds=settings.SOGOMS_ADMIN_LOGIN_WINDOW_SECONDS)
    )
    username = str(request.POST.get("username", "")).strip().lower()[:150]
    subjects = [("admin-login-ip", client_ip(request)), ("admin-login-user", username)]
    try:
        for scope, subject in subjects:
            ratelimit.refuse_over(rate, ratelimit.count(scope, subject, rate) + 1)
    except TooManyAttempts as exc:
        return HttpResponse(
            "Too many failed sign-ins; try again later.\n",
            status=429,
            content_type="text/plain",
            headers={"Retry-After": str(exc.retry_after)},
        )
    response = admin.site.login(request)
    if response.status_code == 200:  # the form again: the attempt failed
        for scope, subject in subjects:
            ratelimit.hit(scope, subject, rate)
    return response


site_urlpatterns: list[URLPattern | URLResolver] = [
    path("health", health.health),
    path("ready", health.ready),
    path("metrics", metrics_endpoint.metrics_view),
    path("admin/login/", admin_login),  # before the admin's own, which it wraps
]
# The admin's URL conf is read on first use and grows as tenants are opened (tenant_admin.py).
admin_urls.mount(site_urlpatterns)

urlpatterns = site_urlpatterns


# Django calls it with `exception=` by name; the envelope names the route instead.
def api_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:  # noqa: ARG001
    return error_response(404, "NOT_FOUND", f"No route for {request.method} {request.path}.")


def api_server_error(request: HttpRequest) -> HttpResponse:
    from sogoms_site.middleware import internal_error_response

    return internal_error_response(request, sys.exc_info()[1])


@dataclass(frozen=True)
class TenantUrlConf:
    """A URL conf object (Django accepts any object with `urlpatterns`)."""

    base_path: str
    urlpatterns: tuple[URLPattern | URLResolver, ...]
    handler404 = staticmethod(api_not_found)
    handler500 = staticmethod(api_server_error)

    def __hash__(self) -> int:
        return hash(self.base_path)


@cache
def tenant_urlconf(base_path: str) -> TenantUrlConf:
    from sogoms_site.api.urls import api_urlpatterns

    prefix = base_path.strip("/") + "/"
    return TenantUrlConf(base_path, (path(prefix, include(api_urlpatterns())),))
