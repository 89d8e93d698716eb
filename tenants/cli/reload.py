"""`sogoms reload`: validate the config, then have every process apply it.

Every process: HTTP and socket servers, Celery workers (before their next task, so the
next cron tick reads the new jobs), on this machine and, through the config generation in
the shared cache (Redis), on every other.
"""

from __future__ import annotations

from sogoms_site.commands import Options, Out, Subparsers
from tenants.cli import write_problems
from tenants.reload import announce, install, load_new
from tenants.schema_sync import sync_tenant_tables
from tenants.services import tenant_records_sync


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("reload", help="apply an edited config in every running process")
    parser.set_defaults(handler=run)


def run(_options: Options, out: Out) -> int:
    result = load_new()
    registry = result.registry
    if registry is None:
        header = f"refused: {len(result.problems)} problem(s); the running config keeps serving"
        write_problems(out, header, result.problems)
        return 1
    install(result)
    for tenant in registry:
        for line in sync_tenant_tables(tenant):
            out.write(f"{tenant.app}: {line}")
    tenant_records_sync(registry=registry)
    generation = announce()
    apps = ", ".join(t.app for t in registry)
    if generation is None:
        out.write(f"reload announced to this machine's processes (shared cache unreachable): {apps}")
    else:
        out.write(f"reload announced (config generation {generation}): {apps}")
    return 0
