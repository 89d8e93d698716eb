"""`sogoms migrate`: the control database's migrations, then every tenant's tables.

A database on a MariaDB server that does not exist yet (the control database, or a
tenant's, as SOGOMS_TENANT_DATABASE_URL names it) is created first, with utf8mb4, when the
account may: as the SQLite files are made on first use.

With `--rolling` (or SOGOMS_ROLLING_DEPLOY=1) it first checks that the control database's
pending migrations only expand the schema (tenants.rolling) and refuses, having changed
nothing, when one would break the release still running; `--allow-destructive` overrides.
"""

from __future__ import annotations

from django.core.management import call_command
from django.db import OperationalError, connections

from sogoms_site.commands import Options, Out, Subparsers
from sogoms_site.env import env_bool
from tenants.registry import registry
from tenants.rolling import unsafe_steps
from tenants.schema_sync import sync_tenant_tables
from tenants.services import tenant_records_sync


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("migrate", help="create or update the control and tenant databases")
    parser.add_argument("apps", nargs="*", help="only these tenants (default: all)")
    parser.add_argument(
        "--rolling",
        action="store_true",
        default=env_bool("SOGOMS_ROLLING_DEPLOY", False),
        help="the old release still runs: refuse drops, renames, narrowing (default: $SOGOMS_ROLLING_DEPLOY)",
    )
    parser.add_argument(
        "--allow-destructive", action="store_true", help="with --rolling: apply such steps all the same"
    )
    parser.set_defaults(handler=run)


def run(options: Options, out: Out) -> int:
    tenants = registry()
    wanted = options["apps"] or [tenant.app for tenant in tenants]
    unknown = [app for app in wanted if tenants.get(app) is None]
    if unknown:
        out.write(f"unknown tenant(s): {', '.join(unknown)}")
        return 2
    if options["rolling"] and not options["allow_destructive"]:
        unsafe = unsafe_steps()
        if unsafe:
            for step in unsafe:
                out.write(f"destructive: {step}")
            out.write(
                "refused: a rolling deploy only expands the schema; contract in a later deploy, "
                "or pass --allow-destructive (nothing was changed)"
            )
            return 1
    _create_if_missing("default", out)
    call_command("migrate", database="default", interactive=False, verbosity=0)
    out.write("control database: up to date")
    for tenant in [tenants.tenants[app] for app in wanted]:  # every one is known (above)
        _create_if_missing(tenant.db_alias, out)
        done = sync_tenant_tables(tenant)
        out.write(f"{tenant.app} ({tenant.db_engine}): " + ("; ".join(done) if done else "up to date"))
    tenant_records_sync(registry=tenants)
    return 0


MARIADB_UNKNOWN_DATABASE = 1049


def _create_if_missing(alias: str, out: Out) -> None:
    """CREATE DATABASE for an alias whose MariaDB database does not exist yet."""
    connection = connections[alias]
    if connection.vendor != "mysql":
        return
    try:
        connection.ensure_connection()
        return
    except OperationalError as exc:
        cause = exc.__cause__ or exc
        if not cause.args or cause.args[0] != MARIADB_UNKNOWN_DATABASE:
            raise
    name = connection.settings_dict["NAME"]
    # the server without a database, as Django's own test-database creation connects
    with connection._nodb_cursor() as cursor:
        cursor.execute(
            f"CREATE DATABASE IF NOT EXISTS {connection.ops.quote_name(name)} CHARACTER SET utf8mb4"
        )
    out.write(f"created database {name}")
