"""`python manage.py sogoms schema validate|generate|diff|migrate|init <app>`."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.conf import settings

from crud.config import login_lists_of, resources_of
from crud.schematools import generate, migrate, reverse
from crud.schematools.diff import diff_tenant
from crud.sql import tables_read
from sogoms_site.commands import Options, Out, Subparsers
from tenants.cli import tenant_or_report
from tenants.config import Tenant, load_config
from tenants.registry import load_options


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("schema", help="schema tools: validate, generate, diff, migrate, init")
    actions = parser.add_subparsers(dest="schema_action", required=True, metavar="action")
    for name, handler, help_text in (
        ("validate", run_validate, "every problem of the app's schema and query files"),
        ("generate", run_generate, "write v1 query YAML from the schema"),
        ("diff", run_diff, "schema against the real database"),
        ("migrate", run_migrate, "print (or --apply) the SQL that brings the database to the schema"),
        ("init", run_init, "write a schema from an existing database"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("app")
        action.set_defaults(handler=handler)
        if name == "generate":
            action.add_argument("--out", help="directory (default var/generated/queries/<app>)")
        if name == "migrate":
            action.add_argument("--apply", action="store_true", help="run the SQL")
            action.add_argument("--allow-destructive", action="store_true", help="allow drops and narrowing")
        if name == "init":
            action.add_argument("--write", action="store_true", help="write config/schema/<app>.yaml")
            action.add_argument("--force", action="store_true", help="overwrite an existing schema file")


def _foreign_tables(tenant: Tenant) -> tuple[str, ...]:
    """Tables the v1 query files use (written, or only read by their SQL, login lists too):
    the schema tools never count them as extra, so never propose to drop them."""
    resources = [*resources_of(tenant).values(), *login_lists_of(tenant).values()]
    tables: set[str] = set()
    for resource in resources:
        if resource.source != "queries":
            continue
        tables.add(resource.sql.get("table", ""))
        for statement in (resource.sql.get("list", ""), resource.sql.get("show", "")):
            tables.update(tables_read(statement))
    tables.discard("")
    return tuple(sorted(tables))


def run_validate(options: Options, out: Out) -> int:
    app = options["app"]
    result = load_config(load_options())
    mine = (f"routes/{app}.", f"schema/{app}.", f"queries/{app}/")
    problems = [p for p in result.problems if p.file.startswith(mine)]
    for problem in problems:
        out.write(str(problem))
    if problems:
        return 1
    if not result.ok:
        out.write(f"{app}: no problem of its own, but the config has {len(result.problems)} elsewhere")
        return 1
    tenant = result.registry.get(app) if result.registry is not None else None
    if tenant is None:
        out.write(f"unknown tenant {app!r}")
        return 2
    out.write(f"{app}: OK, {len(resources_of(tenant))} resource(s)")
    return 0


def run_generate(options: Options, out: Out) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    target = Path(options["out"] or settings.VAR_DIR / "generated" / "queries" / tenant.app)
    target.mkdir(parents=True, exist_ok=True)
    for name, data in generate.query_files(tenant).items():
        path = target / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, width=100))
        out.write(f"wrote {path}")
    return 0


def run_diff(options: Options, out: Out) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    differences = diff_tenant(tenant, foreign_tables=_foreign_tables(tenant))
    for difference in differences:
        out.write(str(difference) + ("  [destructive]" if difference.destructive else ""))
    if not differences:
        out.write(f"{tenant.app}: the database matches the schema")
    return 1 if differences else 0


def run_migrate(options: Options, out: Out) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    steps = migrate.plan(tenant, foreign_tables=_foreign_tables(tenant))
    if not steps:
        out.write(f"{tenant.app}: nothing to do")
        return 0
    destructive = [step for step in steps if step.destructive]
    for statement in migrate.sql(tenant, steps):
        out.write(statement if statement.endswith(";") else statement + ";")
    if destructive and not options["allow_destructive"]:
        for step in destructive:
            out.write(f"-- destructive: {step.difference}")
        out.write("refused: destructive changes need --allow-destructive")
        return 1
    if options["apply"]:
        migrate.apply(tenant, steps)
        out.write(f"{tenant.app}: applied {len(steps)} change(s)")
    return 0


def run_init(options: Options, out: Out) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    data, notes = reverse.schema_from_database(tenant.db_alias)
    text = f"# Written by `sogoms schema init {tenant.app}` from its database.\n" + yaml.safe_dump(
        data, sort_keys=False, width=100
    )
    for note in notes:
        out.write(f"# note: {note}")
    if not options["write"]:
        out.write(text)
        return 0
    path = settings.SOGOMS_CONFIG_DIR / "schema" / f"{tenant.app}.yaml"
    if path.exists() and not options["force"]:
        out.write(f"{path} exists; use --force to replace it")
        return 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    out.write(f"wrote {path}")
    return 0
