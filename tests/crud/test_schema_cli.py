"""The schema CLI: validate, generate, diff, migrate (--apply, --allow-destructive), init.

The round trip of the issue: `init` on a Go-era database (tenant beta's tables), then
`migrate --apply` of that schema on an empty database of the same engine, then `diff`
finds nothing.
"""

from __future__ import annotations

import io

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from crud.config import load_resources
from crud.frontends.queries import QueryFile
from crud.schematools import migrate, reverse
from crud.schematools.diff import diff_tenant
from tenants.config.loader import LoadOptions, load_config

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def sogoms(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("sogoms", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def empty_tenant(tmp_path, settings):
    """Tenants named `scratch` over the empty test database `tenant_scratch` (tests/settings.py)."""
    (tmp_path / "routes").mkdir()
    (tmp_path / "secret").write_text("r" * 40)

    def make(schema: dict):
        (tmp_path / "schema").mkdir(exist_ok=True)
        (tmp_path / "schema" / "scratch.yaml").write_text(yaml.safe_dump(schema))
        (tmp_path / "routes" / "scratch.yaml").write_text(
            f"app: scratch\nhosts: [scratch.test]\nauth: {{jwt_secret_file: {tmp_path / 'secret'}}}\n"
        )
        result = load_config(
            LoadOptions(config_dir=tmp_path, base_dir=tmp_path, var_dir=tmp_path, sections=(load_resources,))
        )
        assert result.ok, result.problems
        return result.registry.get("scratch")  # its alias, tenant_scratch, is the test database

    yield make
    connection = connections["tenant_scratch"]
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    # tables copied from tenant beta carry its foreign keys: drop them in any order
    disabled = connection.disable_constraint_checking()
    try:
        with connection.schema_editor() as editor:
            for table in tables:
                editor.execute(editor.sql_delete_table % {"table": editor.quote_name(table)})
    finally:
        if disabled:
            connection.enable_constraint_checking()


def test_validate_reports_ok_for_a_valid_app():
    status, out = sogoms("schema", "validate", "alpha")
    assert status == 0
    assert "alpha: OK" in out


def test_diff_finds_nothing_on_a_database_made_from_the_schema():
    status, out = sogoms("schema", "diff", "alpha")
    assert status == 0, out
    assert "matches the schema" in out


def test_generate_writes_loadable_v1_query_yaml(tmp_path):
    status, out = sogoms("schema", "generate", "alpha", "--out", str(tmp_path))
    assert status == 0, out
    projects = yaml.safe_load((tmp_path / "projects.yaml").read_text())
    QueryFile.model_validate(projects)  # the v1 front-end accepts what generate writes
    assert projects["list"]["filters"] == {"default": "user_id = :user_id", "admin": ""}
    assert "secret_note" not in (tmp_path / "specimens.yaml").read_text()
    assert projects["create"]["fields"][0] == "user_id"


def test_init_on_a_go_era_database_then_migrate_then_diff_is_a_round_trip(empty_tenant):
    schema, notes = reverse.schema_from_database("tenant_beta")
    assert {"projects", "tasks", "users"} <= set(schema["tables"])
    projects = schema["tables"]["projects"]["fields"]
    assert projects["id"] == {"type": "int", "primary": True, "auto": True}
    assert projects["name"]["max_length"] == 120 and projects["name"]["required"] is True
    assert projects["position"]["default"] == 0
    assert notes == []

    tenant = empty_tenant(schema)
    assert {d.kind for d in diff_tenant(tenant)} == {"missing_table"}
    steps = migrate.plan(tenant)
    assert migrate.sql(tenant, steps)  # the DDL can be printed first
    migrate.apply(tenant, steps)

    assert diff_tenant(tenant) == []


def test_migrate_refuses_destructive_changes_unless_allowed(empty_tenant):
    schema = {
        "tables": {
            "notes": {
                "fields": {
                    "id": {"type": "int", "primary": True, "auto": True},
                    "title": {"type": "string", "max_length": 100},
                    "body": {"type": "text"},
                },
                "crud": ["list"],
            }
        }
    }
    tenant = empty_tenant(schema)
    migrate.apply(tenant, migrate.plan(tenant))
    with connections[tenant.db_alias].cursor() as cursor:
        cursor.execute(
            "INSERT INTO notes (title, body, created_at, updated_at) "
            "VALUES ('a', 'b', '2026-01-01', '2026-01-01')"
        )

    del schema["tables"]["notes"]["fields"]["body"]
    schema["tables"]["notes"]["fields"]["title"]["max_length"] = 50
    narrowed = empty_tenant(schema)
    steps = migrate.plan(narrowed)
    kinds = {(step.difference.kind, step.difference.name, step.destructive) for step in steps}
    assert ("extra_column", "body", True) in kinds
    assert ("column", "title", True) in kinds

    migrate.apply(narrowed, steps)  # the CLI refuses this without --allow-destructive
    assert diff_tenant(narrowed) == []
    with connections[narrowed.db_alias].cursor() as cursor:
        cursor.execute("SELECT title FROM notes")
        assert list(cursor.fetchall()) == [("a",)]


def test_the_cli_migrate_prints_sql_and_refuses_destructive_steps(empty_tenant, monkeypatch):
    schema = {
        "tables": {
            "notes": {
                "fields": {"id": {"type": "int", "primary": True, "auto": True}, "body": {"type": "text"}},
                "crud": ["list"],
            }
        }
    }
    tenant = empty_tenant(schema)
    migrate.apply(tenant, migrate.plan(tenant))
    del schema["tables"]["notes"]["fields"]["body"]
    narrowed = empty_tenant(schema)

    from crud.schematools import cli

    monkeypatch.setattr(cli, "tenant_or_report", lambda app, out: narrowed)
    status, out = sogoms("schema", "migrate", "scratch", "--apply")
    assert status == 1
    assert "--allow-destructive" in out
    assert "body" in out
    assert [d.kind for d in diff_tenant(narrowed)] == ["extra_column"]  # nothing applied

    status, out = sogoms("schema", "migrate", "scratch", "--apply", "--allow-destructive")
    assert status == 0, out
    assert diff_tenant(narrowed) == []


def test_a_table_only_read_by_v1_sql_is_never_an_extra_table_to_drop(empty_tenant, tmp_path):
    """A list-only v1 resource names no `table:`; its SQL's tables are still the app's."""
    from crud.schematools.cli import _foreign_tables

    queries = tmp_path / "queries" / "scratch"
    queries.mkdir(parents=True)
    (queries / "archive.yaml").write_text(
        "list:\n  query: SELECT a.id FROM archive a JOIN `archive_tags` t ON t.id = a.id\n"
        '  filters: {default: ""}\n'
    )
    notes = {"fields": {"id": {"type": "int", "primary": True, "auto": True}}, "crud": ["list"]}
    tenant = empty_tenant({"tables": {"notes": notes}})
    migrate.apply(tenant, migrate.plan(tenant))
    with connections[tenant.db_alias].cursor() as cursor:
        cursor.execute("CREATE TABLE archive (id INTEGER PRIMARY KEY)")
        cursor.execute("CREATE TABLE archive_tags (id INTEGER PRIMARY KEY)")
        cursor.execute("CREATE TABLE leftover (id INTEGER PRIMARY KEY)")

    assert _foreign_tables(tenant) == ("archive", "archive_tags")
    extra = {
        d.table
        for d in diff_tenant(tenant, foreign_tables=_foreign_tables(tenant))
        if d.kind == "extra_table"
    }
    assert extra == {"leftover"}
