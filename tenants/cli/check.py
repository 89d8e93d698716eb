"""`sogoms check`: validate the whole config and print every problem."""

from __future__ import annotations

from django.conf import settings

from sogoms_site.commands import Options, Out, Subparsers
from tenants.cli import write_problems
from tenants.config.durations import format_duration
from tenants.registry import ensure_loaded


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("check", help="validate the config directory, print every problem")
    parser.set_defaults(handler=run)


def run(_options: Options, out: Out) -> int:
    result = ensure_loaded()
    registry = result.registry
    if registry is None:
        write_problems(
            out, f"{settings.SOGOMS_CONFIG_DIR}: {len(result.problems)} problem(s)", result.problems
        )
        return 1
    out.write(f"{settings.SOGOMS_CONFIG_DIR}: OK, {len(registry)} tenant(s)")
    for tenant in registry:
        out.write(
            f"  {tenant.app}: {tenant.base_path} on {', '.join(tenant.hosts)} "
            f"({tenant.db_engine} database, tokens valid {format_duration(tenant.jwt_expiry)})"
        )
        for extension in tenant.extensions.values():
            if hasattr(extension, "describe"):  # what a section wants operators to know
                out.write(f"    {extension.describe()}")
    return 0
