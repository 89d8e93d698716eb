"""The process-wide tenant registry, loaded once from the config directory.

`ensure_loaded()` loads it (at app start-up); `registry()` returns it or raises with
every config problem, so a process never serves with a half-valid config.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from tenants.config import LoadResult, Registry, load_config
from tenants.config.loader import LoadOptions

_state: dict[str, LoadResult] = {}


def load_options() -> LoadOptions:
    return LoadOptions(
        config_dir=settings.SOGOMS_CONFIG_DIR,
        base_dir=settings.SOGOMS_BASE_DIR,
        var_dir=settings.VAR_DIR,
        tenant_database_url=settings.SOGOMS_TENANT_DATABASE_URL,
        tune_database=settings.SOGOMS_TUNE_DATABASE,
        sections=tuple(import_string(path) for path in settings.SOGOMS_CONFIG_SECTIONS),
    )


def ensure_loaded() -> LoadResult:
    if "result" not in _state:
        result = load_config(load_options())
        _state["result"] = result
        if result.registry is not None:
            from tenants.databases import register_tenant_databases

            register_tenant_databases(result.registry)
    return _state["result"]


def registry() -> Registry:
    result = ensure_loaded()
    if result.registry is None:
        raise ImproperlyConfigured(describe_problems(result))
    return result.registry


def describe_problems(result: LoadResult) -> str:
    lines = [f"the SOGOMS config in {settings.SOGOMS_CONFIG_DIR} has {len(result.problems)} problem(s):"]
    lines += [f"  {problem}" for problem in result.problems]
    return "\n".join(lines)
