"""The API rate limits of a tenant (`rate_limit.api` of its routes), in sliding windows.

Per client IP, every request under the base path is counted at the edge, before anything
else runs (tenants.middleware), so a flood of bad tokens is refused as cheaply as good
ones. Per user and per resource operation the count runs once the caller is known (the
DRF throttle below). Each response says where the caller stands with the `RateLimit-*`
headers of the IETF draft; a refused request is 429 RATE_LIMITED with `Retry-After`.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from sogoms_site.clientip import client_ip
from sogoms_site.errors import TooManyAttempts
from tenants.auth import ratelimit
from tenants.auth.principal import TenantPrincipal
from tenants.config import Tenant

# The request attribute holding the usages counted for it, for the response headers.
USAGES = "sogoms_rate_usages"


def _record(request: HttpRequest, usages: list[ratelimit.Usage]) -> None:
    setattr(request, USAGES, [*getattr(request, USAGES, []), *usages])
    refused = [usage for usage in usages if usage.over]
    if refused:
        raise TooManyAttempts(
            "Too many requests; try again later.", retry_after=max(u.reset for u in refused)
        )


def check_ip(request: HttpRequest, tenant: Tenant) -> None:
    """Count the request against the tenant's per-IP limit; TooManyAttempts when over."""
    rate = tenant.api_limits.per_ip
    if rate is not None:
        _record(request, [ratelimit.hit_sliding("api-ip", f"{tenant.app}|{client_ip(request)}", rate)])


def headers(request: HttpRequest) -> dict[str, str]:
    """The `RateLimit-*` headers for the tightest limit this request was counted against."""
    usages: list[ratelimit.Usage] = getattr(request, USAGES, [])
    if not usages:
        return {}
    tightest = min(usages, key=lambda usage: (not usage.over, usage.remaining))
    return {
        "RateLimit-Limit": str(tightest.limit),
        "RateLimit-Remaining": str(tightest.remaining),
        "RateLimit-Reset": str(tightest.reset),
        "RateLimit-Policy": ", ".join(f"{usage.limit};w={usage.window}" for usage in usages),
    }


class TenantApiThrottle(BaseThrottle):
    """Per user (and per operation) limits, once DRF knows the caller."""

    def allow_request(self, request: Request, view: Any) -> bool:
        tenant: Tenant | None = getattr(request, "tenant", None)
        if tenant is None:
            return True
        limits = tenant.api_limits
        principal = request.user if isinstance(request.user, TenantPrincipal) else None
        caller = f"user:{principal.id}" if principal is not None else f"ip:{client_ip(request._request)}"
        counted: list[ratelimit.Usage] = []
        if limits.per_user is not None and principal is not None:
            counted.append(ratelimit.hit_sliding("api-user", f"{tenant.app}|{principal.id}", limits.per_user))
        # resource views map HTTP methods to operations (crud.views.ResourceView.methods)
        operation = getattr(view, "methods", {}).get((request.method or "").lower())
        rate = limits.operations.get(operation) if operation else None
        if rate is not None:
            counted.append(ratelimit.hit_sliding(f"api-op-{operation}", f"{tenant.app}|{caller}", rate))
        _record(request._request, counted)
        return True

    def wait(self) -> float | None:
        return None
