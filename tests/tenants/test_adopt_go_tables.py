"""`sogoms migrate` adopts the Go original's tables without rewriting them (issue 13).

The Go system keeps running beside SOGOMS and writes its `users` table with its own SQL.
Each test makes a Go-era database by the Go system's own DDL (SQLite: a file; MariaDB: a
database of this test's own on the server of SOGOMS_TENANT_DATABASE_URL, else
127.0.0.1:3306 as root), points a tenant loaded from a temporary config directory at
it, runs migrate, then replays the Go system's statements (`?` turned into the driver's
`%s`) and checks that SOGOMS reads and signs in what Go wrote.
"""

from __future__ import annotations

import dataclasses
import io
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import bcrypt
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from crud.schematools import cli as schema_cli
from crud.schematools import migrate as schema_migrate
from crud.schematools.diff import diff_tenant
from tenants.auth.selectors import user_public
from tenants.auth.services import user_login
from tenants.config import Tenant
from tenants.config.loader import load_config
from tenants.databases import register_tenant_databases
from tenants.registry import load_options
from tenants.schema_sync import sync_tenant_tables
from tenants.usermodel import user_model

APP = "goera"
ALIAS = f"tenant_{APP}"
pytestmark = pytest.mark.django_db(databases=["default", ALIAS], transaction=True)
PASSWORD = "go era password 1"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")

# The Go original's DDL, per engine.
GO_USERS = {
    "mysql": "CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE, "
    "password VARCHAR(255) NOT NULL, name VARCHAR(100) NOT NULL DEFAULT '', "
    "role VARCHAR(20) NOT NULL DEFAULT 'default', created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    "sqlite": "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email VARCHAR(255) NOT NULL UNIQUE, "
    "password VARCHAR(255) NOT NULL, name VARCHAR(100) NOT NULL DEFAULT '', "
    "role VARCHAR(20) NOT NULL DEFAULT 'default', created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP)",
}
GO_TABLES = {  # served by v1 query YAML: migrate never touches them
    "projects": "user_id INT NOT NULL, name VARCHAR(120) NOT NULL, description TEXT NULL, "
    "position INT NOT NULL DEFAULT 0",
    "tasks": "user_id INT NOT NULL, project_id INT NOT NULL, title VARCHAR(200) NOT NULL, "
    "done BOOLEAN NOT NULL DEFAULT 0",
}
V1_QUERIES = {  # the Go original's v1 query YAML, reduced
    "projects": textwrap.dedent(
        """\
        list:
          query: SELECT id, name, position FROM projects
          filters: {default: "user_id = :user_id", admin: ""}
        create:
          table: projects
          fields: [user_id, name, position]
        """
    ),
    "tasks": textwrap.dedent(
        """\
        list:
          query: SELECT id, title, done FROM tasks
          filters: {default: "user_id = :user_id", admin: ""}
        create:
          table: tasks
          fields: [user_id, title, done]
        """
    ),
}
GO_KEY = {"mysql": "INT AUTO_INCREMENT PRIMARY KEY", "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT"}

# The Go system's own statements.
GO_INSERT = "INSERT INTO users (email, password, name) VALUES (?, ?, ?)"
GO_SELECT = "SELECT id, email, password, name, role FROM users WHERE email = ?"
GO_SET_NAME = "UPDATE users SET name = ? WHERE id = ?"
GO_SET_PASSWORD = "UPDATE users SET password = ? WHERE id = ?"


def go(cursor, statement: str, params: tuple) -> None:
    """Run a Go statement through the driver (Django's cursors take `%s` on every engine)."""
    cursor.execute(statement.replace("?", "%s"), params)


def go_hash(password: str) -> str:
    """A bcrypt hash as Go's golang.org/x/crypto/bcrypt writes it ($2a$)."""
    return "$2a$" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()[4:]


# --- the scratch databases ---------------------------------------------------------------------


def _mariadb_server() -> tuple[str, int, str]:
    url = os.environ.get("SOGOMS_TENANT_DATABASE_URL", "")
    if url.startswith("mysql://"):
        parts = urlsplit(url.replace("{app}", "x"))
        return parts.hostname or "127.0.0.1", parts.port or 3306, parts.username or "root"
    return "127.0.0.1", 3306, "root"


def _mariadb_reachable(host: str, port: int) -> str:
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        return f"MariaDB at {host}:{port} is unreachable ({exc})"
    return ""


@dataclasses.dataclass
class GoDatabase:
    engine: str  # "sqlite" or "mysql"
    block: str  # the routes file's `database:` block


@pytest.fixture(params=["sqlite", "mariadb"])
def go_database(request, tmp_path) -> Iterator[GoDatabase]:
    """An empty database per engine; the MariaDB one is created and dropped here."""
    if request.param == "sqlite":
        yield GoDatabase("sqlite", f"{{engine: sqlite, name: {tmp_path / 'goera.sqlite3'}}}")
        return
    host, port, user = _mariadb_server()
    unreachable = _mariadb_reachable(host, port)
    if unreachable:
        if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{unreachable}, and SOGOMS_REQUIRE_SERVICES=1")
        pytest.skip(f"{unreachable}; set SOGOMS_REQUIRE_SERVICES=1 to make that a failure")
    import MySQLdb

    name = f"test_goera_{WORKER}_{os.getpid()}"
    server = MySQLdb.connect(host=host, port=port, user=user)
    try:
        server.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield GoDatabase("mysql", f"{{url: 'mysql://{user}@{host}:{port}/{name}'}}")
    finally:
        server.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        server.close()


def write_site(config: Path, database_block: str, secret: Path) -> Path:
    """A config directory with the tenant `goera` on a database, served by v1 query YAML."""
    (config / "routes").mkdir(parents=True)
    (config / "queries" / APP).mkdir(parents=True)
    secret.write_text("g" * 40)
    (config / "routes" / f"{APP}.yaml").write_text(
        textwrap.dedent(
            f"""\
            app: {APP}
            hosts: [{APP}.test]
            auth: {{jwt_secret_file: {secret}}}
            database: {database_block}
            """
        )
    )
    for table, yaml_text in V1_QUERIES.items():
        (config / "queries" / APP / f"{table}.yaml").write_text(yaml_text)
    return config


def load_tenant(config: Path) -> Tenant:
    """The tenant of the config directory, its database alias registered as at start."""
    options = dataclasses.replace(load_options(), config_dir=config, var_dir=config.parent / "var")
    result = load_config(options)
    assert result.ok, [str(problem) for problem in result.problems]
    register_tenant_databases(result.registry)
    tenant = result.registry.get(APP)
    assert tenant is not None
    return tenant


@pytest.fixture(scope="module", autouse=True)
def goera_alias(django_db_setup, tmp_path_factory) -> Iterator[Path]:
    """The alias `tenant_goera`, on an idle SQLite file between the tests.

    It exists before each test's database set-up, so the test may use it (the tests allow
    it by name); each test points it at its own database and back here.
    """
    base = tmp_path_factory.mktemp("goera_idle")
    idle = write_site(base / "config", f"{{engine: sqlite, name: {base / 'idle.sqlite3'}}}", base / "secret")
    load_tenant(idle)
    yield idle
    connections[ALIAS].close()
    del connections[ALIAS]
    del connections.settings[ALIAS]
    settings.DATABASES.pop(ALIAS, None)


@pytest.fixture
def go_site(go_database, goera_alias, tmp_path) -> Iterator[Path]:
    """The config directory of `goera` on this test's Go-era database."""
    yield write_site(tmp_path / "config", go_database.block, tmp_path / "jwt_secret")
    load_tenant(goera_alias)  # closes the connection to this test's database, before it goes


def create_go_tables(engine: str) -> None:
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(GO_USERS[engine])
        for table, columns in GO_TABLES.items():
            cursor.execute(f"CREATE TABLE {table} (id {GO_KEY[engine]}, {columns})")


def columns_of(table: str) -> dict[str, tuple[str, bool, str | None]]:
    """column -> (declared type, nullable, default) as the database itself reports them."""
    connection = connections[ALIAS]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA table_info({table})")
            return {row[1]: (row[2].lower(), not row[3], row[4]) for row in cursor.fetchall()}
        cursor.execute(
            "SELECT column_name, column_type, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = %s",
            [table],
        )
        return {
            name: (kind.lower(), nullable == "YES", None if default in (None, "NULL") else default)
            for name, kind, nullable, default in cursor.fetchall()
        }


def sogoms_subprocess(config: Path, *args: str) -> subprocess.CompletedProcess:
    """`manage.py sogoms ...` as an operator runs it, on the temporary config."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "SOGOMS_TENANT_DATABASE_URL", "REDIS_URL")
        and not key.startswith(("SOGOMS_", "PYTEST_", "DJANGO_"))
    }
    env.update(
        SOGOMS_CONFIG_DIR=str(config),
        SOGOMS_VAR_DIR=str(config.parent / "var"),
        DJANGO_SETTINGS_MODULE="sogoms_site.settings",
    )
    return subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "sogoms", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- migrate adopts the Go-era users table -----------------------------------------------------------


def test_migrate_adds_only_the_missing_columns_and_go_keeps_working(go_database, go_site):
    tenant = load_tenant(go_site)
    create_go_tables(go_database.engine)
    before = {table: columns_of(table) for table in ("users", "projects", "tasks")}

    done = sync_tenant_tables(tenant)

    added = [line for line in done if line.startswith("added column")]
    assert [line.split()[2] for line in added] == [
        "users.is_active",
        "users.updated_at",
        "users.email_verified_at",
    ], done
    assert not [line for line in done if "users" in line and line not in added]
    users = columns_of("users")
    for column, declared in before["users"].items():
        assert users[column] == declared, column  # Go's types, defaults and nullability
    assert users["name"][0] == "varchar(100)"
    assert users["role"][2] == "'default'"
    is_active, updated_at = users["is_active"], users["updated_at"]
    assert is_active[1:] == (False, "1")
    if go_database.engine == "mysql":
        assert updated_at[1] is False
        assert updated_at[2].lower().startswith("current_timestamp")
    else:  # SQLite adds no column with a non-constant default: NULL for rows others insert
        assert updated_at[1:] == (True, None)
    for table in ("projects", "tasks"):  # the v1 query tables are not migrate's
        assert columns_of(table) == before[table]

    hashed = go_hash(PASSWORD)
    with connections[ALIAS].cursor() as cursor:
        go(cursor, GO_INSERT, ("gopher@example.com", hashed, "Gopher"))
        go(cursor, "INSERT INTO users (email, password) VALUES (?, ?)", ("nameless@example.com", hashed))
        go(cursor, GO_SELECT, ("gopher@example.com",))
        go_id, email, password, name, role = cursor.fetchone()
        assert (email, password, name, role) == ("gopher@example.com", hashed, "Gopher", "default")
        go(cursor, GO_SELECT, ("nameless@example.com",))
        assert cursor.fetchone()[3:] == ("", "default")
        cursor.execute("SELECT is_active, created_at FROM users WHERE id = %s", [go_id])
        active, created_at = cursor.fetchone()
        assert bool(active) is True and created_at is not None

    # SOGOMS reads and signs in the user Go inserted (updated_at may be NULL on SQLite)
    model = user_model(tenant)
    gopher = model.objects.get(email="gopher@example.com")
    assert (gopher.name, gopher.role, gopher.is_active) == ("Gopher", "default", True)
    assert gopher.created_at is not None
    assert user_public(gopher)["role"] == "default"  # what auth/me answers
    session = user_login(tenant=tenant, email="gopher@example.com", password=PASSWORD, client_ip="127.0.0.1")
    assert session.user.id == go_id
    gopher.refresh_from_db()
    gopher.save()  # SOGOMS's own save of a Go row fills its updated_at
    assert model.objects.get(pk=go_id).updated_at is not None

    # Go's UPDATEs after SOGOMS wrote the row; SOGOMS's own rows beside Go's
    with connections[ALIAS].cursor() as cursor:
        go(cursor, GO_SET_NAME, ("Gopher Two", go_id))
        assert cursor.rowcount == 1
        go(cursor, GO_SET_PASSWORD, (hashed, go_id))
        assert cursor.rowcount == 1
    assert model.objects.get(pk=go_id).name == "Gopher Two"
    user_login(tenant=tenant, email="gopher@example.com", password=PASSWORD, client_ip="127.0.0.1")
    made = model.objects.create(email="sogoms@example.com", password="x", name="Made Here")
    assert made.updated_at is not None and made.created_at is not None and made.role == "default"

    assert sync_tenant_tables(tenant) == []  # twice: nothing more to do
    assert columns_of("users") == users


def test_a_users_table_migrate_creates_takes_go_inserts_too(go_database, go_site):
    tenant = load_tenant(go_site)

    done = sync_tenant_tables(tenant)

    assert "created table users" in done
    with connections[ALIAS].cursor() as cursor:
        go(cursor, GO_INSERT, ("gopher@example.com", go_hash(PASSWORD), "Gopher"))
        go(cursor, "INSERT INTO users (email, password) VALUES (?, ?)", ("nameless@example.com", "x"))
        cursor.execute("SELECT name, role, is_active, created_at, updated_at FROM users ORDER BY id")
        rows = cursor.fetchall()
    assert [(name, role, bool(active)) for name, role, active, *_ in rows] == [
        ("Gopher", "default", True),
        ("", "default", True),
    ]
    assert all(created is not None and updated is not None for *_, created, updated in rows)

    model = user_model(tenant)
    made = model.objects.create(email="sogoms@example.com", password="x")
    first_update = made.updated_at
    made.name = "Renamed"
    made.save()
    assert made.updated_at > first_update  # auto_now as before
    assert model.objects.get(email="gopher@example.com").created_at is not None
    user_login(tenant=tenant, email="gopher@example.com", password=PASSWORD, client_ip="127.0.0.1")
    assert sync_tenant_tables(tenant) == []


def test_the_migrate_command_adopts_the_table_and_runs_twice_as_a_no_op(go_database, go_site):
    tenant = load_tenant(go_site)
    create_go_tables(go_database.engine)
    connections[ALIAS].close()  # the command's process has the database to itself

    first = sogoms_subprocess(go_site, "migrate")
    assert first.returncode == 0, first.stdout + first.stderr
    line = next(line for line in first.stdout.splitlines() if line.startswith(f"{APP} ("))
    assert "added column users.is_active" in line and "added column users.updated_at" in line
    assert "created table users" not in line

    with connections[ALIAS].cursor() as cursor:
        go(cursor, GO_INSERT, ("gopher@example.com", go_hash(PASSWORD), "Gopher"))
    connections[ALIAS].close()

    second = sogoms_subprocess(go_site, "migrate")
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"{APP} ({tenant.db_engine}): up to date" in second.stdout
    listed = sogoms_subprocess(go_site, "users", "list", APP)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "gopher@example.com" in listed.stdout
    assert columns_of("users")["role"][2] == "'default'"


# --- schema diff reports what migrate would add --------------------------------------------------------


def quoted(name: str) -> str:
    return connections[ALIAS].ops.quote_name(name)


def schema_diff(tenant: Tenant, monkeypatch) -> tuple[int, str]:
    monkeypatch.setattr(schema_cli, "tenant_or_report", lambda app, out: tenant)
    out = io.StringIO()
    try:
        call_command("sogoms", "schema", "diff", APP, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def test_schema_diff_reports_the_columns_migrate_would_add_and_nothing_else(
    go_database, go_site, monkeypatch
):
    tenant = load_tenant(go_site)
    create_go_tables(go_database.engine)

    differences = diff_tenant(tenant, foreign_tables=("projects", "tasks"))
    status, out = schema_diff(tenant, monkeypatch)

    assert [(d.kind, d.table, d.name) for d in differences] == [
        ("missing_column", "users", "is_active"),
        ("missing_column", "users", "updated_at"),
        ("missing_column", "users", "email_verified_at"),
    ]
    is_active, updated_at, verified_at = (d.expected for d in differences)
    assert "NULL" in verified_at and "NOT NULL" not in verified_at and "DEFAULT" not in verified_at
    assert "DEFAULT 1 NOT NULL" in is_active
    if go_database.engine == "mysql":
        assert "DEFAULT (CURRENT_TIMESTAMP(6)) NOT NULL" in updated_at
    else:
        assert "DEFAULT" not in updated_at and "NOT NULL" not in updated_at
    assert status == 1
    assert out.splitlines() == [str(d) for d in differences]
    # `schema migrate` of that plan: two ADD COLUMNs, no rebuild (SQLite's new__users)
    statements = schema_migrate.sql(tenant, schema_migrate.plan(tenant, foreign_tables=("projects", "tasks")))
    assert [statement.split()[:4] for statement in statements] == [
        ["ALTER", "TABLE", quoted("users"), "ADD"]
    ] * 3

    sync_tenant_tables(tenant)
    assert diff_tenant(tenant, foreign_tables=("projects", "tasks")) == []
    assert schema_diff(tenant, monkeypatch) == (0, f"{APP}: the database matches the schema\n")
