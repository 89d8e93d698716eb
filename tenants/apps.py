"""App config: loads the tenant registry once at start, wires the tenant signals, commands, /auth OpenAPI."""

from __future__ import annotations

import sys
from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sogoms_site import commands
        from sogoms_site.api import openapi
        from tenants import checks  # noqa: F401  (registers the config system check)
        from tenants.auth.openapi import auth_paths
        from tenants.databases import register_named_on_command_line
        from tenants.registry import ensure_loaded

        for group in ("check", "devsecrets", "migrate", "users", "logs", "tokens", "reload", "backup"):
            commands.register(f"tenants.cli.{group}")

        # A broken config is reported by the system check, `sogoms check` and the
        # server entry points; loading must not crash the commands that report it.
        ensure_loaded()
        register_named_on_command_line(sys.argv)  # `manage.py migrate --database tenant_<app>`
        post_migrate.connect(_sync_tenant_tables_after_migrate, sender=self)
        openapi.register_provider(auth_paths)


def _sync_tenant_tables_after_migrate(*, using: str, verbosity: int = 1, **kwargs: Any) -> None:
    """`migrate --database tenant_<app>` (and the test runner) creates the tenant's tables.

    Signals call receivers with keywords; `sender` (this app's config) and the rest are not needed.
    """
    from tenants.databases import is_tenant_alias
    from tenants.registry import ensure_loaded
    from tenants.schema_sync import sync_tenant_tables

    registry = ensure_loaded().registry
    if registry is None or not is_tenant_alias(using):
        return
    for tenant in registry:
        if tenant.db_alias == using:
            for line in sync_tenant_tables(tenant):
                if verbosity >= 1:
                    print(f"  {tenant.app}: {line}")
