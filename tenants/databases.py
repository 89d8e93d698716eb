"""One database alias per tenant (`tenant_<app>`), registered at start, and the router.

Tenant tables are models built per tenant that carry their alias, so the router needs
no request state: a tenant model goes to its tenant's database, everything else to the
control database (`default`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import Model

from tenants.config import Registry, Tenant

TENANT_ALIAS_PREFIX = "tenant_"


_registered: dict[str, dict] = {}  # alias -> the settings it was registered with


def register_tenant_databases(registry: Registry) -> None:
    """Add the aliases of new tenants, and replace those whose database settings changed.

    An alias whose settings are unchanged (a reload that touched something else) keeps its
    settings object, so open connections and the test runner's renaming stay valid.
    """
    # connections.settings is computed once; new aliases must go through
    # configure_settings or they miss Django's defaults (Django ticket 34410).
    databases = dict(settings.DATABASES)
    changed = []
    for tenant in registry:
        wanted = tenant.database_settings()
        if _registered.get(tenant.db_alias) == wanted and tenant.db_alias in connections.settings:
            continue
        _registered[tenant.db_alias] = tenant.database_settings()
        databases[tenant.db_alias] = wanted
        changed.append(tenant)
        if tenant.db_engine == "sqlite":
            Path(databases[tenant.db_alias]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    configured = connections.configure_settings(databases)
    moved = {tenant.db_alias for tenant in changed}
    for connection in connections.all(initialized_only=True):
        if connection.alias in moved:
            connection.close()  # the database moved: reconnect with the new settings
            del connections[connection.alias]
    for tenant in changed:
        settings.DATABASES[tenant.db_alias] = configured[tenant.db_alias]
        connections.settings[tenant.db_alias] = configured[tenant.db_alias]


def is_tenant_alias(alias: str) -> bool:
    return alias.startswith(TENANT_ALIAS_PREFIX)


class TenantRouter:
    """Routes models that carry `sogoms_db_alias`; keeps framework tables off tenant DBs.

    Django's ConnectionRouter calls these with the model, objects, database and app label
    by position and everything else (the instance, `model_name`) as keyword hints.
    """

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return getattr(model, "sogoms_db_alias", None)

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return getattr(model, "sogoms_db_alias", None)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        alias1 = getattr(obj1, "sogoms_db_alias", None)
        alias2 = getattr(obj2, "sogoms_db_alias", None)
        if alias1 or alias2:
            return alias1 == alias2
        return None

    def allow_migrate(self, db: str, _app_label: str, **hints: Any) -> bool:
        # Tenant tables are created by tenants.schema_sync, not by Django migrations, for
        # whatever app and model the hints name.
        return not is_tenant_alias(db)


def visit_each(tenants: Iterable[Tenant]) -> Iterator[Tenant]:
    """Each tenant in turn, for a sweep over all of them: a connection to a tenant's database
    that the visit opened is closed after it (one kept per tenant visited would hold a file
    or a server connection and ~170 kB each: with a thousand tenants, the process's memory
    and its open-files limit). Connections open before, a request's own, are left alone."""
    already_open = {c.alias for c in connections.all(initialized_only=True) if c.connection is not None}
    for tenant in tenants:
        try:
            yield tenant
        finally:
            if tenant.db_alias not in already_open:
                connections[tenant.db_alias].close()
