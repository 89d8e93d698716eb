"""Self-description of a tenant API: the data dictionary, OpenAPI and Swagger UI.

`/_openapi` returns the OpenAPI document itself (not an envelope), as OpenAPI tools
expect; `/_docs` is Swagger UI served from this server's static files.
"""

from __future__ import annotations

from typing import cast

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView
from typing_extensions import override

from crud.dictionary import dictionary, table_entry
from crud.runtime import bound_resource
from sogoms_site.api.envelope import error_response, ok
from sogoms_site.api.errors import Forbidden
from sogoms_site.api.openapi import openapi_document
from sogoms_site.errors import NotFoundError
from tenants.requests import TenantHttpRequest, TenantRequest


class DictionaryReader(BasePermission):
    """Everyone when the tenant says `schema_public: true`, else role admin."""

    @override
    def has_permission(self, request: Request, view: APIView) -> bool:
        # DRF's signature says Request; a tenant API's request is a TenantRequest
        if cast(TenantRequest, request).tenant.schema_public:
            return True
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        # an authenticated caller is the TenantPrincipal of the token, which knows its role
        if not getattr(user, "is_admin", False):
            raise Forbidden("The data dictionary is for role admin.")
        return True


class DictionaryView(APIView):
    permission_classes = [DictionaryReader]

    def get(self, request: TenantRequest, table: str | None = None) -> HttpResponse:
        if table is None:
            return ok(dictionary(request.tenant))
        bound = bound_resource(request.tenant, table)
        if bound is None or not bound.resource.operations:
            raise NotFoundError(f"No table {table!r}.")
        return ok(table_entry(bound))


class OpenApiView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: TenantRequest) -> HttpResponse:
        return JsonResponse(openapi_document(request.tenant))


@csrf_exempt  # a read-only page: any other method gets the 405 envelope, not a CSRF page
def swagger_ui(request: TenantHttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return error_response(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here.")
    tenant = request.tenant
    if tenant is None:  # routed only under a tenant's base path, where the middleware set one
        return error_response(404, "NOT_FOUND", f"No route for {request.method} {request.path}.")
    context = {"app": tenant.app, "openapi_url": f"{tenant.base_path}/_openapi"}
    return render(request, "crud/swagger.html", context)
