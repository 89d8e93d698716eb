"""`sogoms logs purge [app...]`: delete log files older than each tenant's retention."""

from __future__ import annotations

from sogoms_site.commands import Options, Out, Subparsers
from tenants.logs import purge_logs
from tenants.registry import registry


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("logs", help="per-tenant log files")
    actions = parser.add_subparsers(dest="logs_action", required=True, metavar="action")
    purge = actions.add_parser("purge", help="delete files older than logs.retention_days")
    purge.add_argument("apps", nargs="*", help="only these tenants (default: all)")
    purge.set_defaults(handler=run_purge)


def run_purge(options: Options, out: Out) -> int:
    tenants = [t for t in registry() if not options["apps"] or t.app in options["apps"]]
    for tenant in tenants:
        removed = purge_logs(tenant.app, tenant.log_retention_days)
        out.write(f"{tenant.app}: removed {len(removed)} file(s) older than {tenant.log_retention_days} days")
    return 0
