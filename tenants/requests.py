"""Requests as the tenant edge leaves them: the tenant attached, the caller authenticated.

TenantMiddleware sets `request.tenant` (None on the site paths: health, ready, admin);
DRF's Request reads it through to the Django request. Views of a tenant's API annotate
`request: TenantRequest` (a name for type checkers: the object is DRF's Request) and take
the caller with `caller(request)`, which the tenant JWT authentication put there.
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from sogoms_site.errors import AuthenticationRequired
from tenants.auth.principal import TenantPrincipal
from tenants.config import Tenant


class TenantHttpRequest(HttpRequest):
    tenant: Tenant | None
    urlconf: object


class TenantRequest(Request):
    tenant: Tenant


def caller(request: Request) -> TenantPrincipal:
    """The authenticated caller; a view behind an authenticating permission always has one."""
    user = request.user
    if not isinstance(user, TenantPrincipal):
        raise AuthenticationRequired()
    return user
