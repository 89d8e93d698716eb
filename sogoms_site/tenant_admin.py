"""The operators' admin with many tenants: listed at once, each built when it is opened.

Registering a tenant's users and tables in the admin builds its models, and Django makes
the admin's URL conf from the registered models: with a thousand tenants, building them
all for the first admin page cost seconds and memory. So the admin starts with no tenant
registered. Its index lists the tenants from the config (one row each, nothing built); a
tenant's models, admin entries and URLs are added when its page (`tenant/<app>/`) or one of
its model pages (a link, a bookmark) is first opened, and the URL conf is remade then.
Each tenant opened makes the admin's URL conf longer: Django's URL reversal is built
again from all of it, a few milliseconds per tenant opened so far (its 6 URL patterns per
model), paid by the page that opens one more.
"""

from __future__ import annotations

import threading
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, clear_url_caches, path, re_path, resolve, reverse
from django.utils.text import capfirst

from tenants.config import Tenant
from tenants.registry import registry


def _superuser(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


class AdminUrls:
    """The admin's URL conf (an object with `urlpatterns`, as Django accepts), remade when a
    tenant is opened; mounted once in the site's URL patterns with `mount()`."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # two first requests in two threads build once
        self._patterns: list[URLPattern | URLResolver] | None = None
        self._opened: dict[str, tuple[Tenant, list[type[Model]]]] = {}  # app -> tenant, its models
        self._mounted_in: list[URLPattern | URLResolver] = []
        self._route: URLResolver | None = None

    @property
    def urlpatterns(self) -> list[URLPattern | URLResolver]:
        with self._lock:
            if self._patterns is None:
                self._patterns = self._build()
            return self._patterns

    def _build(self) -> list[URLPattern | URLResolver]:
        site = admin.site
        urls = site.get_urls()
        # the admin's own catch-all (a slash appended, or 404) stays last
        tail = urls[-1:] if site.final_catch_all_view else []
        return [
            path("", site.admin_view(index), name="index"),  # before the admin's own index
            path("tenant/<str:app>/", site.admin_view(tenant_page), name="sogoms_tenant"),
            *urls[: len(urls) - len(tail)],
            # a model page of a tenant not opened yet: open it, then serve the page
            re_path(r"^tenants/user_(?P<app>[a-z0-9_]+)/", site.admin_view(open_and_serve)),
            re_path(r"^crud/(?P<model_name>[a-z0-9_]+)/", site.admin_view(open_and_serve)),
            *tail,
        ]

    def mount(self, patterns: list[URLPattern | URLResolver]) -> None:
        """Add the admin at /admin/ to the site's URL patterns (the root URL conf's list)."""
        self._mounted_in = patterns
        self._route = self._new_route()
        patterns.append(self._route)

    def _new_route(self) -> URLResolver:
        # A (URL conf, app, namespace) triple as admin.site.urls is, with a URL conf read on
        # use; the stubs type only lists of patterns.
        return path("admin/", (self, "admin", admin.site.name))  # type: ignore[arg-type]

    def open(self, tenant: Tenant) -> bool:
        """Register the tenant's users and tables in the admin (building its models) and remake
        the URL conf; False when this tenant (of this config) is open already."""
        from crud.admin import register_tenant_tables
        from tenants.admin import register_tenant_users

        with self._lock:
            opened = self._opened.get(tenant.app)
            if opened is not None and opened[0] is tenant:
                return False
            if opened is not None:  # a reload changed the tenant: its old entries go
                for model in opened[1]:
                    if admin.site.is_registered(model):
                        admin.site.unregister(model)
            models = register_tenant_users(admin.site, tenant) + register_tenant_tables(admin.site, tenant)
            self._opened[tenant.app] = (tenant, models)
            self._patterns = None
            self._remount()
            return True

    def _remount(self) -> None:
        """A new resolver for /admin/ in the root URL conf, and Django's URL caches cleared:
        requests under way finish with the old one, whose caches stay consistent."""
        if self._route is None:
            return
        position = next(i for i, entry in enumerate(self._mounted_in) if entry is self._route)
        self._route = self._new_route()
        self._mounted_in[position] = self._route
        clear_url_caches()

    def models_of(self, app: str) -> list[type[Model]]:
        opened = self._opened.get(app)
        return list(opened[1]) if opened else []


admin_urls = AdminUrls()


def open_tenant(tenant: Tenant) -> bool:
    """Open a tenant in the admin (its page, a test): see AdminUrls.open."""
    return admin_urls.open(tenant)


def _tenant(app: str) -> Tenant:
    tenant = registry().get(app)
    if tenant is None:
        raise Http404(f"No tenant {app!r}.")
    return tenant


def index(request: HttpRequest) -> HttpResponse:
    """The admin's index, with the tenants listed from the config: nothing of them is built."""
    site = admin.site
    base = reverse("admin:index", current_app=site.name)
    tenants = []
    if _superuser(request):  # tenant data is for superusers only
        tenants = [
            {
                "app": tenant.app,
                "hosts": ", ".join(tenant.hosts),
                "url": f"{base}tenant/{tenant.app}/",
                "users_url": f"{base}tenants/user_{tenant.app}/",
            }
            for tenant in sorted(registry(), key=lambda tenant: tenant.app)
        ]
    context = {
        **site.each_context(request),
        "title": site.index_title,
        "subtitle": None,
        "app_list": site.get_app_list(request),
        "sogoms_tenants": tenants,
        "sogoms_tenant_search": f"{base}tenants/tenantrecord/",
    }
    request.current_app = site.name
    return TemplateResponse(request, "admin/sogoms_index.html", context)


def tenant_page(request: HttpRequest, app: str) -> HttpResponse:
    """One tenant's models (users and tables), built and registered on the first visit."""
    if not _superuser(request):
        raise PermissionDenied
    tenant = _tenant(app)
    admin_urls.open(tenant)
    site = admin.site
    models = [_model_entry(request, model) for model in admin_urls.models_of(app)]
    app_dict = {
        "name": app,
        "app_label": app,
        "app_url": request.path,
        "has_module_perms": True,
        "models": [entry for entry in models if entry is not None],
    }
    context = {
        **site.each_context(request),
        "title": f"{app} ({', '.join(tenant.hosts)})",
        "subtitle": None,
        "app_list": [app_dict],
        "app_label": app,
    }
    request.current_app = site.name
    return TemplateResponse(request, "admin/app_index.html", context)


def _model_entry(request: HttpRequest, model: type[Model]) -> dict[str, Any] | None:
    """A row of the tenant's page, as the admin's app index makes one."""
    site = admin.site
    if not site.is_registered(model):
        return None
    perms = site.get_model_admin(model).get_model_perms(request)
    if not any(perms.values()):
        return None
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    entry: dict[str, Any] = {
        "model": model,
        "name": capfirst(model._meta.verbose_name_plural),
        "object_name": model._meta.object_name,
        "perms": perms,
        "admin_url": None,
        "add_url": None,
    }
    if perms.get("change") or perms.get("view"):
        entry["view_only"] = not perms.get("change")
        entry["admin_url"] = reverse(f"{info}_changelist", current_app=site.name)
    if perms.get("add"):
        entry["add_url"] = reverse(f"{info}_add", current_app=site.name)
    return entry


def _tenant_of_model(app: str | None, model_name: str | None) -> Tenant | None:
    """The tenant of `tenants/user_<app>/` or `crud/<table>_<app>/` (a table's model name
    is `<table>_<app>`; both may hold underscores, so each split is tried)."""
    if app is not None:
        return registry().get(app)
    name = model_name or ""
    for position, char in enumerate(name):
        if char == "_":
            tenant = registry().get(name[position + 1 :])
            if tenant is not None:
                return tenant
    return None


def open_and_serve(
    request: HttpRequest, app: str | None = None, model_name: str | None = None
) -> HttpResponse:
    """A model page of a tenant not opened yet: open the tenant, then serve the page from the
    remade URL conf (a GET or the POST of a form alike)."""
    if not _superuser(request):
        raise PermissionDenied
    tenant = _tenant_of_model(app, model_name)
    if tenant is None or not admin_urls.open(tenant):
        raise Http404("No such admin page.")  # open already, and still no page here
    match = resolve(request.path_info)
    request.resolver_match = match
    response: HttpResponse = match.func(request, *match.args, **match.kwargs)
    return response
