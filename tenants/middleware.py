"""Host to tenant, once, at the edge of every HTTP request.

The tenant is attached to the request (`request.tenant`), set in the tenant context
for everything below, and chooses the URL conf of its base path. An unknown host gets
404 TENANT_NOT_FOUND, except on the site paths (health, static), which answer on every
host. The operators' paths (admin, ready, metrics) answer only on the operator hosts
(`SOGOMS_OPERATOR_HOSTS`); on any other host they are an unknown path like any other
(the tenant's NOT_FOUND, or TENANT_NOT_FOUND), so nothing about them is learned there.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from sogoms_site.api.envelope import error_response
from sogoms_site.errors import TooManyAttempts
from tenants.auth import apilimits
from tenants.config.model import normalize_host
from tenants.context import tenant_context
from tenants.registry import registry
from tenants.reload import maybe_reload
from tenants.requests import TenantHttpRequest


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.site_paths = frozenset(settings.SOGOMS_SITE_PATHS)
        self.site_prefixes = tuple(settings.SOGOMS_SITE_PATH_PREFIXES)
        self.operator_hosts = frozenset(normalize_host(host) for host in settings.SOGOMS_OPERATOR_HOSTS)
        self.operator_paths = frozenset(settings.SOGOMS_OPERATOR_PATHS)
        self.operator_prefixes = tuple(settings.SOGOMS_OPERATOR_PATH_PREFIXES)
        # The composition root builds URL confs; it is named in settings, not imported, so
        # this floor does not depend on the one that wires every app together.
        self.tenant_urlconf: Callable[[str], object] = import_string(settings.SOGOMS_TENANT_URLCONF)

    def __call__(self, request: TenantHttpRequest) -> HttpResponse:
        maybe_reload()
        try:
            host = request.get_host()
        except DisallowedHost:
            host = ""
        tenant = registry().for_host(host) if host else None
        path = request.path_info
        if path in self.site_paths or path.startswith(self.site_prefixes):
            request.tenant = None
            return self.get_response(request)
        if normalize_host(host) in self.operator_hosts and (
            path in self.operator_paths or path.startswith(self.operator_prefixes)
        ):
            request.tenant = None
            return self.get_response(request)
        if tenant is None:
            return error_response(404, "TENANT_NOT_FOUND", f"No app is served on host {host!r}.")
        request.tenant = tenant
        request.urlconf = self.tenant_urlconf(tenant.base_path)
        with tenant_context(tenant):
            try:
                apilimits.check_ip(request, tenant)
            except TooManyAttempts as refused:
                response: HttpResponse = error_response(
                    429,
                    "RATE_LIMITED",
                    refused.message,
                    headers={"Retry-After": str(refused.retry_after)},
                )
            else:
                response = self.get_response(request)
        for name, value in apilimits.headers(request).items():
            response[name] = value
        return response
