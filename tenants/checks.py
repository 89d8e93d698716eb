"""A Django system check that fails on an invalid tenant config (runserver, migrate...)."""

from __future__ import annotations

from django.core import checks


@checks.register("sogoms")
def check_tenant_config(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from tenants.registry import ensure_loaded

    return [checks.Error(str(problem), id="sogoms.E001") for problem in ensure_loaded().problems]
