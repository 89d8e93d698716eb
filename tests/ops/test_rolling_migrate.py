"""`sogoms migrate --rolling`: expand steps run, contract steps are refused unless told.

The classifier (tenants.rolling) on each kind of step, then the command end to end in a
process of its own: the expand release migrates, the contract release is refused with
nothing changed, then applied with --allow-destructive. The control database is SQLite,
or a MariaDB database of its own when the test run uses MariaDB (DATABASE_URL).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import migrations, models
from django.db.migrations.migration import Migration
from django.db.migrations.state import ProjectState

from tenants.rolling import unsafe_in_plan
from tests.realtime.servers import BASE_DIR, prepare_site


def shop_state() -> ProjectState:
    state = ProjectState()
    migrations.CreateModel(
        "Item",
        fields=[
            ("id", models.BigAutoField(primary_key=True)),
            ("name", models.CharField(max_length=100)),
            ("note", models.CharField(max_length=50, null=True)),
            ("price", models.DecimalField(max_digits=10, decimal_places=2)),
        ],
    ).state_forwards("shop", state)
    return state


def unsafe(operation) -> list[str]:
    migration = Migration("0002_change", "shop")
    migration.operations = [operation]
    return unsafe_in_plan([(migration, False)], shop_state())


@pytest.mark.parametrize(
    "operation",
    [
        migrations.RemoveField("item", "note"),
        migrations.DeleteModel("Item"),
        migrations.RenameField("item", "note", "remark"),
        migrations.RenameModel("Item", "Article"),
        migrations.AlterModelTable("item", "shop_article"),
        migrations.AddField("item", "stock", models.IntegerField(default=0)),
        migrations.AlterField("item", "name", models.CharField(max_length=50)),
        migrations.AlterField("item", "note", models.CharField(max_length=50)),
        migrations.AlterField("item", "name", models.TextField()),
        migrations.AlterField("item", "price", models.DecimalField(max_digits=6, decimal_places=2)),
        migrations.RunSQL("UPDATE shop_item SET name = ''"),
    ],
    ids=lambda operation: operation.describe(),
)
def test_a_contraction_is_unsafe_beside_a_running_release(operation):
    found = unsafe(operation)
    assert len(found) == 1
    assert found[0].startswith(f"shop.0002_change: {operation.describe()}: ")


@pytest.mark.parametrize(
    "operation",
    [
        migrations.AddField("item", "stock", models.IntegerField(null=True)),
        migrations.AddField("item", "stock", models.IntegerField(db_default=0)),
        migrations.AlterField("item", "name", models.CharField(max_length=200)),
        migrations.AlterField("item", "note", models.CharField(max_length=50, null=True, db_index=True)),
        migrations.AlterField("item", "note", models.CharField(max_length=50, db_default="")),
        migrations.AddIndex("item", models.Index(fields=["name"], name="shop_item_name_ix")),
        migrations.CreateModel("Tag", fields=[("id", models.BigAutoField(primary_key=True))]),
        migrations.RunPython(migrations.RunPython.noop),
    ],
    ids=lambda operation: operation.describe(),
)
def test_an_expansion_is_safe_beside_a_running_release(operation):
    assert unsafe(operation) == []


def test_the_state_follows_the_plan_and_a_rollback_is_a_contraction():
    widen = Migration("0002_widen", "shop")
    widen.operations = [migrations.AlterField("item", "name", models.CharField(max_length=300))]
    back = Migration("0003_back", "shop")
    back.operations = [migrations.AlterField("item", "name", models.CharField(max_length=200))]
    found = unsafe_in_plan([(widen, False), (back, False), (widen, True)], shop_state())
    # 300 -> 200 narrows what 0002 widened (from 100, which 200 would not have narrowed)
    assert found[0].startswith("shop.0003_back: ") and "shortens it (300 to 200)" in found[0]
    assert found[1] == "shop.0002_widen: unapplied: a rollback is a contraction"


def test_a_table_the_plan_creates_is_no_running_release_s():
    create = Migration("0002_tag", "shop")
    create.operations = [
        migrations.CreateModel("Tag", fields=[("id", models.BigAutoField(primary_key=True))]),
        migrations.AddField("tag", "label", models.CharField(max_length=20, default="")),
        migrations.AlterField("tag", "label", models.CharField(max_length=10)),
    ]
    drop = Migration("0003_drop", "shop")
    drop.operations = [migrations.DeleteModel("Tag"), migrations.RemoveField("item", "note")]
    found = unsafe_in_plan([(create, False), (drop, False)], shop_state())
    assert found == ["shop.0003_drop: Remove field note from item: drops a column the running release reads"]


@pytest.fixture
def control_database_url(tmp_path) -> Iterator[str]:
    """SQLite under `tmp_path`, or, when this run uses MariaDB, a new database beside its own
    (dropped after the test)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("mysql"):
        yield f"sqlite:///{tmp_path / 'control.sqlite3'}"
        return
    import MySQLdb

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/')}_rolling_{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}"

    def run(statement: str) -> None:
        server = MySQLdb.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root")
        try:
            server.cursor().execute(statement)
        finally:
            server.close()

    run(f"DROP DATABASE IF EXISTS `{name}`")
    run(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        run(f"DROP DATABASE IF EXISTS `{name}`")


def test_migrate_rolling_applies_the_expand_release_and_refuses_the_contract_one(
    tmp_path, control_database_url
):
    env = prepare_site(tmp_path)
    env.update(DJANGO_SETTINGS_MODULE="tests.ops.deploy_settings", DATABASE_URL=control_database_url)

    def migrate(release: str, *args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(BASE_DIR / "manage.py"), "sogoms", "migrate", *args],
            env={**env, "SOGOMS_TEST_RELEASE": release, **extra},
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    expand = migrate("expand", "--rolling")
    assert expand.returncode == 0, expand.stdout + expand.stderr
    assert "control database: up to date" in expand.stdout

    for refused in (migrate("contract", "--rolling"), migrate("contract", SOGOMS_ROLLING_DEPLOY="1")):
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "destructive: deployapp.0003_drop_legacy: Remove field legacy from note" in refused.stdout
        assert "refused: a rolling deploy only expands the schema" in refused.stdout
        assert "control database" not in refused.stdout  # refused before any change

    contract = migrate("contract", "--rolling", "--allow-destructive")
    assert contract.returncode == 0, contract.stdout + contract.stderr
    again = migrate("contract", "--rolling")  # nothing left to do: nothing refused
    assert again.returncode == 0, again.stdout + again.stderr
