"""URL configuration: the site's own paths, and one URL conf per tenant base path.

The root URL conf serves the site paths (/health on every host; /ready and /admin/ only
on the operator hosts, which the tenant middleware checks). The tenant middleware sets
`request.urlconf` to `tenant_urlconf(base_path)`, so each tenant's API lives under its
own base path and a tenant host answers every other path, the operators' ones included,
with the envelope (handler404/handler500 below).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path

from sogoms_site import health
from sogoms_site.api.envelope import error_response

site_urlpatterns: list[URLPattern | URLResolver] = [
    path("health", health.health),
    path("ready", health.ready),
    path("admin/", admin.site.urls),
]

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
