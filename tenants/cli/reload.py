"""`sogoms reload`: validate the config, then have every process apply it."""

from __future__ import annotations

from tenants.cli import write_problems
from tenants.reload import announce, install, load_new
from tenants.schema_sync import sync_tenant_tables
from tenants.services import tenant_records_sync


def register(subparsers) -> None:
    parser = subparsers.add_parser("reload", help="apply an edited config in every running process")
    parser.set_defaults(handler=run)


def run(options: dict, out) -> int:
    result = load_new()
    if not result.ok:
        header = f"refused: {len(result.problems)} problem(s); the running config keeps serving"
        write_problems(out, header, result.problems)
        return 1
    install(result)
    for tenant in result.registry:
        for line in sync_tenant_tables(tenant):
            out.write(f"{tenant.app}: {line}")
    tenant_records_sync(registry=result.registry)
    announce()
    out.write(f"reload announced: {', '.join(t.app for t in result.registry)}")
    return 0
