"""HTTP endpoints of every resource: `GET/POST <base>/<resource>`, `GET/PUT/PATCH/DELETE .../<id>`.

Views only resolve the resource and the operation; selectors and services do the work.
An operation the resource does not list answers 405. A request without a token passes
only for an operation whose access rule can hold for an anonymous caller (`public`, or a
condition on columns alone); any other answers 401 as before.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, cast

from django.http import HttpResponse
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView
from typing_extensions import override

from crud import selectors, services, sqlreads
from crud.access.callers import request_caller
from crud.access.rules import may_be_anonymous, unreadable
from crud.fieldtypes import field_type
from crud.params import QuerySpec, coerce, is_invalid, parse_query
from crud.runtime import BoundResource, bound_resource
from sogoms_site.api.envelope import ok
from sogoms_site.api.errors import MethodNotAllowed
from sogoms_site.errors import InvalidInput, NotFoundError
from tenants.auth.principal import TenantPrincipal
from tenants.requests import TenantRequest

ASCII_DIGITS = re.compile(r"[0-9]{1,19}")
ITEM_METHODS = {"get": "show", "put": "update", "patch": "update", "delete": "delete"}
COLLECTION_METHODS = {"get": "list", "post": "create"}
# A v1 list asked without `page` that reached the resource's `max_rows`.
TRUNCATED_HEADER = "X-Sogoms-Truncated"


class RuleAccess(BasePermission):
    """Signed-in callers pass (the rules decide per row); anonymous ones only where the
    operation's rule can hold without a user. A refused anonymous request is a 401."""

    @override
    def has_permission(self, request: Request, view: APIView) -> bool:
        if isinstance(request.user, TenantPrincipal):
            return True
        tenant = cast(TenantRequest, request).tenant
        bound = bound_resource(tenant, view.kwargs.get("resource", ""))
        operation = cast(ResourceView, view).methods.get((request.method or "").lower())
        if bound is None or operation is None or not bound.resource.allows(operation):
            return False
        return bound.resource.source == "schema" and may_be_anonymous(bound.resource, operation)


def caller(request: Request) -> TenantPrincipal:
    """The signed-in caller, or the anonymous one where RuleAccess let it through."""
    return request_caller(request, cast(TenantRequest, request).tenant.app)


def _query(view: ResourceView, request: TenantRequest) -> QuerySpec:
    bound = view.bound
    hidden = unreadable(bound.resource, caller(request))
    return parse_query(request.query_params, bound.resource, includable=view.includable(), unreadable=hidden)


class ResourceView(APIView):
    permission_classes = [RuleAccess]
    methods: ClassVar[dict[str, str]] = {}  # HTTP method -> operation
    bound: BoundResource

    # initial() binds the route's `resource` to self.bound: the handlers take it in **route
    @override
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # DRF's signature says Request; a tenant API's request is a TenantRequest
        tenant = cast(TenantRequest, request).tenant
        bound = bound_resource(tenant, kwargs["resource"])
        if bound is None or not bound.resource.operations:
            raise NotFoundError(f"No resource {kwargs['resource']!r}.")
        allowed = [m.upper() for m, op in self.methods.items() if bound.resource.allows(op)]
        # DRF writes self.headers on every response; make Allow tell this resource's truth
        self.headers = {**self.headers, "Allow": ", ".join(allowed)}
        operation = self.methods.get((request.method or "").lower())
        if operation is None or not bound.resource.allows(operation):
            raise MethodNotAllowed(f"{request.method} is not allowed on {bound.name} here.")
        self.bound = bound

    def includable(self) -> tuple[str, ...]:
        return tuple(self.bound.includes)


def _pk(bound: BoundResource, raw: str) -> Any:
    primary = bound.resource.primary
    if field_type(primary.type).integer:
        key = coerce(primary, raw)
        if is_invalid(key) or not ASCII_DIGITS.fullmatch(raw):
            raise NotFoundError(f"No {bound.name} with id {raw!r}.")
        return key
    return raw


class CollectionView(ResourceView):
    methods = COLLECTION_METHODS

    def get(self, request: TenantRequest, **route: str) -> HttpResponse:
        bound = self.bound
        if bound.resource.source == "queries":
            rows, meta = sqlreads.sql_list(bound, caller(request), request.query_params)
            if meta.get("truncated"):  # never a silent cut: the body and a header say so
                return ok(rows, meta=meta, headers={TRUNCATED_HEADER: "true"})
        else:
            spec = _query(self, request)
            rows, meta = selectors.rows_list(bound, caller(request), spec)
        return ok(rows, meta=meta)

    def post(self, request: TenantRequest, **route: str) -> HttpResponse:
        record = services.record_create(bound=self.bound, caller=caller(request), data=request.data)
        return ok(record, "Created", status=201)


class ItemView(ResourceView):
    methods = ITEM_METHODS

    def get(self, request: TenantRequest, pk: str, **route: str) -> HttpResponse:
        bound = self.bound
        key = _pk(bound, pk)
        if bound.resource.source == "queries":
            return ok(sqlreads.sql_show(bound, caller(request), key, request.query_params))
        spec = _query(self, request)
        _refuse_list_params(spec)
        return ok(selectors.row_show(bound, caller(request), key, spec))

    def put(self, request: TenantRequest, pk: str, **route: str) -> HttpResponse:
        record = services.record_update(
            bound=self.bound, caller=caller(request), pk=_pk(self.bound, pk), data=request.data, partial=False
        )
        return ok(record, "Updated")

    def patch(self, request: TenantRequest, pk: str, **route: str) -> HttpResponse:
        record = services.record_update(
            bound=self.bound, caller=caller(request), pk=_pk(self.bound, pk), data=request.data, partial=True
        )
        return ok(record, "Updated")

    def delete(self, request: TenantRequest, pk: str, **route: str) -> HttpResponse:
        affected = services.record_delete(bound=self.bound, caller=caller(request), pk=_pk(self.bound, pk))
        return ok({"affected_rows": affected}, "Deleted")


def _refuse_list_params(spec: QuerySpec) -> None:
    misplaced = [
        name
        for name, used in (
            ("filter", bool(spec.filters or spec.named_filters)),
            ("sort", bool(spec.sort)),
            ("cursor", spec.cursor is not None),
            ("q", bool(spec.q)),
        )
        if used
    ]
    if misplaced:
        raise InvalidInput(
            "These parameters apply to lists only.",
            details={name: ["list-only parameter"] for name in misplaced},
        )
