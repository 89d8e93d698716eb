"""Requests as the tenant edge leaves them, for type checkers: the tenant is attached.

TenantMiddleware sets `request.tenant` (None on the site paths: health, ready, admin);
DRF's Request reads it through to the Django request. Views of a tenant's API annotate
`request: TenantRequest`; nothing here exists at run time beyond the annotations.
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from tenants.config import Tenant


class TenantHttpRequest(HttpRequest):
    tenant: Tenant | None
    urlconf: object


class TenantRequest(Request):
    tenant: Tenant
