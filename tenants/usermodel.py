"""The `users` table of a tenant: one Django model per tenant, kept in a private registry.

Each tenant's models live in their own `Apps` registry (not Django's global one), so two
tenants can both have a `users` table, and carry `sogoms_db_alias` so the router sends
their queries to the tenant's database.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from django.apps.registry import Apps
from django.db import models
from django.db.migrations.state import AppConfigStub
from django.db.models.functions import Now

from tenants.config import Tenant

TENANT_MODEL_LABELS = ("tenants", "crud")

Built = TypeVar("Built")

# A lock per loaded tenant for the first build of its models: two threads serving a
# tenant's first requests at once must not build two classes of one table (two registries,
# two `users`), and a tenant whose build waits for its database (introspection) must not
# hold up the others'. Re-entrant: a table's model builds the user model and the registry.
_build_locks: dict[Tenant, threading.RLock] = {}
_build_locks_guard = threading.Lock()


def build_lock(tenant: Tenant) -> threading.RLock:
    """The lock of the first builds of one tenant's models."""
    lock = _build_locks.get(tenant)
    if lock is None:
        with _build_locks_guard:
            lock = _build_locks.setdefault(tenant, threading.RLock())
    return lock


class PerTenant(Generic[Built]):
    """`build(tenant)` run once per loaded tenant, on its first use, whatever the threads.

    Tenants compare by identity, so a reloaded config builds its own on first use; the
    lookup after the first build takes no lock."""

    def __init__(self, build: Callable[[Tenant], Built]) -> None:
        self.build = build
        self.results: dict[Tenant, Built] = {}
        functools.update_wrapper(self, build)
        _per_tenant.append(self)

    def __call__(self, tenant: Tenant) -> Built:
        try:
            return self.results[tenant]
        except KeyError:
            pass
        with build_lock(tenant):
            if tenant not in self.results:
                self.results[tenant] = self.build(tenant)
            return self.results[tenant]

    def built_for(self, tenant: Tenant) -> bool:
        return tenant in self.results


_per_tenant: list[PerTenant[Any]] = []


def once_per_tenant(build: Callable[[Tenant], Built]) -> PerTenant[Built]:
    return PerTenant(build)


def forget_tenants_except(kept: Iterable[Tenant]) -> None:
    """Drop what was built for tenants of an older config (after a reload installs a new
    one): their models are rebuilt if a request that began before still asks."""
    keep = set(kept)
    with _build_locks_guard:
        for cache in _per_tenant:
            for tenant in [tenant for tenant in cache.results if tenant not in keep]:
                cache.results.pop(tenant, None)
        for tenant in [tenant for tenant in _build_locks if tenant not in keep]:
            del _build_locks[tenant]


@once_per_tenant
def tenant_apps(_tenant: Tenant) -> Apps:
    """The private model registry of one loaded tenant (a reload gets a fresh one).

    The tenant is only the cache key: each loaded tenant gets its own registry.

    It holds app config stubs for the labels tenant models use, as Django's migration
    state does: without them the registry lists no models, and reverse relations (which
    deletion cascades follow) would be missed.
    """
    return Apps([AppConfigStub(label) for label in TENANT_MODEL_LABELS])


class TenantUserBase(models.Model):
    """The built-in shape of a tenant's users; compatible with the Go system's table.

    The database defaults (`db_default`) let a table SOGOMS creates take the Go system's
    own `INSERT INTO users (email, password, name)`; the ORM still fills every column
    itself (Python defaults, auto timestamps). A Go-era table keeps its own columns:
    `sogoms migrate` only adds the missing ones (tenants.schema_sync), so `updated_at`
    may be NULL in rows others inserted on SQLite.
    """

    id = models.AutoField(primary_key=True)
    email = models.CharField(max_length=254, unique=True)
    password = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True, default="", db_default="")
    role = models.CharField(
        # the tenant's roles (routes: roles) are checked by the services and the admin form
        max_length=32,
        default="default",
        db_default="default",
    )
    is_active = models.BooleanField(default=True, db_default=True)
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())
    # When the address was proven (a verification code, or a provider that vouches for
    # it); NULL: not verified. Nullable, so an adopted Go table gets it without a rewrite.
    email_verified_at = models.DateTimeField(null=True, blank=True)

    sogoms_db_alias: str = ""
    # Declared so that type checkers see it; each tenant's concrete model inherits it.
    objects = models.Manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.email

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


@once_per_tenant
def user_model(tenant: Tenant) -> type[TenantUserBase]:
    app = tenant.app
    meta = type(
        "Meta",
        (),
        {
            "db_table": "users",
            "app_label": "tenants",
            "apps": tenant_apps(tenant),
            "verbose_name": f"{app} user",
            "verbose_name_plural": f"{app} users",
            "ordering": ["id"],
        },
    )
    attrs = {"__module__": __name__, "Meta": meta, "sogoms_db_alias": tenant.db_alias}
    return type(f"User_{app}", (TenantUserBase,), attrs)
