"""One database alias per tenant (`tenant_<app>`), registered at start, and the router.

Tenant tables are models built per tenant that carry their alias, so the router needs
no request state: a tenant model goes to its tenant's database, everything else to the
control database (`default`).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import connections

from tenants.config import Registry

TENANT_ALIAS_PREFIX = "tenant_"


def register_tenant_databases(registry: Registry) -> None:
    # connections.settings is computed once; new aliases must go through
    # configure_settings or they miss Django's defaults (Django ticket 34410).
    databases = dict(settings.DATABASES)
    for tenant in registry:
        databases[tenant.db_alias] = tenant.database_settings()
        if tenant.db_engine == "sqlite":
            Path(databases[tenant.db_alias]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    configured = connections.configure_settings(databases)
    for tenant in registry:
        settings.DATABASES[tenant.db_alias] = configured[tenant.db_alias]
        connections.settings[tenant.db_alias] = configured[tenant.db_alias]


def is_tenant_alias(alias: str) -> bool:
    return alias.startswith(TENANT_ALIAS_PREFIX)


class TenantRouter:
    """Routes models that carry `sogoms_db_alias`; keeps framework tables off tenant DBs."""

    def db_for_read(self, model, **hints):
        return getattr(model, "sogoms_db_alias", None)

    def db_for_write(self, model, **hints):
        return getattr(model, "sogoms_db_alias", None)

    def allow_relation(self, obj1, obj2, **hints):
        alias1 = getattr(obj1, "sogoms_db_alias", None)
        alias2 = getattr(obj2, "sogoms_db_alias", None)
        if alias1 or alias2:
            return alias1 == alias2
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # Tenant tables are created by tenants.schema_sync, not by Django migrations.
        return not is_tenant_alias(db)
