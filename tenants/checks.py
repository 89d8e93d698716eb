"""A Django system check that fails on an invalid tenant config (runserver, migrate...)."""

from __future__ import annotations

from typing import Any

from django.core import checks


@checks.register("sogoms")
def check_tenant_config(**kwargs: Any) -> list[checks.CheckMessage]:
    """The whole config, whatever apps and databases Django asks about (`app_configs=`, `databases=`)."""
    from tenants.registry import ensure_loaded

    return [checks.Error(str(problem), id="sogoms.E001") for problem in ensure_loaded().problems]
