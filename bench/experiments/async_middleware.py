"""Bench-only experiment: SOGOMS's own middleware made sync-and-async capable.

Not used by SOGOMS. Under ASGI, Django runs the middleware chain in async mode only as
long as every middleware supports it; SOGOMS's RequestIdMiddleware, TenantMiddleware,
ApiErrorMiddleware (and WhiteNoise) are sync-only and sit between async-capable Django
middleware, so every request hops between the event loop and a worker thread about a
dozen times. These subclasses keep the same behaviour but add an async path, so the
chain stays async and only the view runs in a thread. `settings_async_middleware`
swaps them in; bench/README.md shows how to run the benchmark with it.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from whitenoise.middleware import WhiteNoiseMiddleware

from sogoms_site.api.envelope import error_response
from sogoms_site.middleware import ApiErrorMiddleware, RequestIdMiddleware
from sogoms_site.requestid import new_request_id, reset_request_id, set_request_id
from sogoms_site.urls import tenant_urlconf
from tenants.context import tenant_context
from tenants.middleware import TenantMiddleware
from tenants.registry import registry


class _Both:
    sync_capable = True
    async_capable = True

    def _setup_mode(self, get_response) -> None:
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return super().__call__(request)


class AsyncRequestIdMiddleware(_Both, RequestIdMiddleware):
    def __init__(self, get_response):
        super().__init__(get_response)
        self._setup_mode(get_response)

    async def __acall__(self, request):
        request_id = new_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id
        token = set_request_id(request_id)
        try:
            response = await self.get_response(request)
        finally:
            reset_request_id(token)
        response["X-Request-ID"] = request_id
        return response


class AsyncWhiteNoiseMiddleware(_Both, WhiteNoiseMiddleware):
    def __init__(self, get_response=None, settings=settings):
        super().__init__(get_response, settings)
        self._setup_mode(get_response)

    async def __acall__(self, request):
        static_file = (
            self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        )
        if static_file is not None:
            return self.serve(static_file, request)
        return await self.get_response(request)


class AsyncTenantMiddleware(_Both, TenantMiddleware):
    def __init__(self, get_response):
        super().__init__(get_response)
        self._setup_mode(get_response)

    async def __acall__(self, request):
        try:
            host = request.get_host()
        except Exception:
            host = ""
        tenant = registry().for_host(host) if host else None
        path = request.path_info
        if path in self.site_paths or path.startswith(self.site_prefixes):
            request.tenant = None
            return await self.get_response(request)
        if tenant is None:
            return error_response(404, "TENANT_NOT_FOUND", f"No app is served on host {host!r}.")
        request.tenant = tenant
        request.urlconf = tenant_urlconf(tenant.base_path)
        with tenant_context(tenant):
            return await self.get_response(request)


class AsyncApiErrorMiddleware(_Both, ApiErrorMiddleware):
    def __init__(self, get_response):
        super().__init__(get_response)
        self._setup_mode(get_response)

    async def __acall__(self, request):
        if getattr(request, "tenant", None) is not None:
            length = request.META.get("CONTENT_LENGTH") or "0"
            limit = settings.SOGOMS_MAX_BODY_BYTES
            if not length.isdigit():
                return error_response(400, "VALIDATION_ERROR", "Content-Length is not a number.")
            if int(length) > limit:
                return error_response(
                    413, "PAYLOAD_TOO_LARGE", f"The request body is larger than {limit} bytes."
                )
        return await self.get_response(request)
