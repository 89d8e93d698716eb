"""`sogoms migrate`: the control database's migrations, then every tenant's tables."""

from __future__ import annotations

from django.core.management import call_command

from sogoms_site.commands import Options, Out, Subparsers
from tenants.registry import registry
from tenants.schema_sync import sync_tenant_tables
from tenants.services import tenant_records_sync


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("migrate", help="create or update the control and tenant databases")
    parser.add_argument("apps", nargs="*", help="only these tenants (default: all)")
    parser.set_defaults(handler=run)


def run(options: Options, out: Out) -> int:
    tenants = registry()
    wanted = options["apps"] or [tenant.app for tenant in tenants]
    unknown = [app for app in wanted if tenants.get(app) is None]
    if unknown:
        out.write(f"unknown tenant(s): {', '.join(unknown)}")
        return 2
    call_command("migrate", database="default", interactive=False, verbosity=0)
    out.write("control database: up to date")
    for tenant in [tenants.tenants[app] for app in wanted]:  # every one is known (above)
        done = sync_tenant_tables(tenant)
        out.write(f"{tenant.app} ({tenant.db_engine}): " + ("; ".join(done) if done else "up to date"))
    tenant_records_sync(registry=tenants)
    return 0
