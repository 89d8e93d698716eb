"""Self-description of a tenant API: the data dictionary, OpenAPI and Swagger UI.

`/_openapi` returns the OpenAPI document itself (not an envelope), as OpenAPI tools
expect; `/_docs` is Swagger UI served from this server's static files.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crud.dictionary import dictionary, table_entry
from crud.runtime import bound_resource
from sogoms_site.api.envelope import ok
from sogoms_site.api.errors import Forbidden
from sogoms_site.api.openapi import openapi_document
from sogoms_site.errors import NotFoundError


class DictionaryReader(BasePermission):
    """Everyone when the tenant says `schema_public: true`, else role admin."""

    def has_permission(self, request: Request, view: APIView) -> bool:  # noqa: ARG002 (DRF's signature)
        if request.tenant.schema_public:
            return True
        if request.user is None or not request.user.is_authenticated:
            return False
        if not request.user.is_admin:
            raise Forbidden("The data dictionary is for role admin.")
        return True


class DictionaryView(APIView):
    permission_classes = [DictionaryReader]

    def get(self, request: Request, table: str | None = None) -> Response:
        if table is None:
            return ok(dictionary(request.tenant))
        bound = bound_resource(request.tenant, table)
        if bound is None or not bound.resource.operations:
            raise NotFoundError(f"No table {table!r}.")
        return ok(table_entry(bound))


class OpenApiView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> HttpResponse:
        return JsonResponse(openapi_document(request.tenant))


@csrf_exempt  # a read-only page: any other method gets the 405 envelope, not a CSRF page
def swagger_ui(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        from sogoms_site.api.envelope import error_response

        return error_response(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here.")
    tenant = request.tenant
    context = {"app": tenant.app, "openapi_url": f"{tenant.base_path}/_openapi"}
    return render(request, "crud/swagger.html", context)
