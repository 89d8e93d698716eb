"""`sogoms backup` and `sogoms restore`: one archive per app, checked against its manifest.

Each test loads the tenant `bkp` from a temporary config directory, on its own database
(SQLite: a file; MariaDB: a database of this test's own on 127.0.0.1:3306 as root,
created and dropped here), the way tests/tenants/test_adopt_go_tables.py does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from cron.kinds import KINDS
from sogoms_site.errors import InvalidInput, StateConflict
from tenants.backup import archives_of, create_backup, live_counts, restore_backup, verify_backup
from tenants.config import Tenant
from tenants.config.loader import load_config
from tenants.databases import register_tenant_databases
from tenants.registry import load_options
from tenants.schema_sync import sync_tenant_tables
from tests.realtime.servers import site_env

APP = "bkp"
ALIAS = f"tenant_{APP}"
pytestmark = pytest.mark.django_db(databases=["default", ALIAS], transaction=True)
SECRET = "backup-test-jwt-secret-" + "q" * 30
EVENTS = {
    "sqlite": "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)",
    "mysql": "CREATE TABLE events (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT NOT NULL)",
}


def write_site(config: Path, database_block: str) -> Path:
    """The tenant `bkp`, its JWT secret inside queries/bkp/ (a place the backup takes whole)."""
    (config / "routes").mkdir(parents=True)
    (config / "queries" / APP).mkdir(parents=True)
    (config / "cron").mkdir()
    secret = config / "queries" / APP / "jwt_secret.txt"
    secret.write_text(SECRET)
    (config / "routes" / f"{APP}.yaml").write_text(
        f"app: {APP}\nhosts: [{APP}.test]\nauth: {{jwt_secret_file: {secret}}}\ndatabase: {database_block}\n"
    )
    (config / "cron" / f"{APP}.yaml").write_text("jobs: {}\n")
    return config


def load(config: Path) -> Tenant:
    """The tenant of the config directory, its database alias registered as at start."""
    options = dataclasses.replace(load_options(), config_dir=config, var_dir=config.parent / "var")
    result = load_config(options)
    assert result.ok, [str(problem) for problem in result.problems]
    register_tenant_databases(result.registry)
    found = result.registry.get(APP)
    assert found is not None
    return found


@contextmanager
def mariadb_database() -> Iterator[str]:
    """A scratch database on 127.0.0.1:3306 as root, dropped afterwards; its `database:` block."""
    host, port, user = "127.0.0.1", 3306, "root"
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"MariaDB at {host}:{port} is unreachable ({exc}), and SOGOMS_REQUIRE_SERVICES=1")
        pytest.skip(
            f"MariaDB at {host}:{port} is unreachable ({exc}); SOGOMS_REQUIRE_SERVICES=1 fails instead"
        )
    import MySQLdb

    name = f"test_bkp_{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}_{os.getpid()}"
    server = MySQLdb.connect(host=host, port=port, user=user)
    try:
        server.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield f"{{url: 'mysql://{user}@{host}:{port}/{name}'}}"
    finally:
        server.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        server.close()


@pytest.fixture(scope="module", autouse=True)
def bkp_alias(django_db_setup, tmp_path_factory) -> Iterator[Path]:
    """The alias `tenant_bkp`, on an idle SQLite file between the tests."""
    base = tmp_path_factory.mktemp("bkp_idle")
    idle = write_site(base / "config", f"{{engine: sqlite, name: {base / 'idle.sqlite3'}}}")
    load(idle)
    yield idle
    connections[ALIAS].close()
    del connections[ALIAS]
    del connections.settings[ALIAS]
    settings.DATABASES.pop(ALIAS, None)


@pytest.fixture(params=["sqlite", "mariadb"])
def site(request, tmp_path, bkp_alias) -> Iterator[tuple[Tenant, Path]]:
    """The tenant on this test's empty database, with the users table and `events`."""
    with contextlib.ExitStack() as stack:
        if request.param == "mariadb":
            block = stack.enter_context(mariadb_database())
        else:
            block = f"{{engine: sqlite, name: {tmp_path / 'bkp.sqlite3'}}}"
        config = write_site(tmp_path / "config", block)
        tenant = load(config)
        sync_tenant_tables(tenant)
        with connections[ALIAS].cursor() as cursor:
            cursor.execute(EVENTS[tenant.db_engine])
        connections[ALIAS].close()
        yield tenant, config
        load(bkp_alias)  # closes the connection to this test's database, before it goes


def raw_connection(tenant: Tenant) -> Callable[[], object]:
    """A driver connection of its own (autocommit), as another process would write."""
    database = tenant.database
    if tenant.db_engine == "sqlite":
        import sqlite3

        def connect_sqlite() -> object:
            connection = sqlite3.connect(database["NAME"], timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            return connection

        return connect_sqlite
    import MySQLdb

    def connect_mysql() -> object:
        connection = MySQLdb.connect(
            host=database["HOST"],
            port=int(database["PORT"] or 3306),
            user=database["USER"],
            db=database["NAME"],
        )
        connection.autocommit(True)
        return connection

    return connect_mysql


class Writer(threading.Thread):
    """Inserts into `events` until stopped."""

    def __init__(self, tenant: Tenant) -> None:
        super().__init__(daemon=True)
        self.connect = raw_connection(tenant)
        self.placeholder = "?" if tenant.db_engine == "sqlite" else "%s"
        self.written = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        connection = self.connect()
        try:
            cursor = connection.cursor()  # type: ignore[attr-defined]
            while not self.stop.is_set():
                cursor.execute(
                    f"INSERT INTO events (body) VALUES ({self.placeholder})",  # noqa: S608  (the driver's placeholder)
                    (f"row {self.written}",),
                )
                self.written += 1
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connection.close()  # type: ignore[attr-defined]

    def wait_for(self, rows: int) -> None:
        deadline = time.monotonic() + 30
        while self.written < rows and time.monotonic() < deadline and self.error is None:
            time.sleep(0.01)
        assert self.error is None and self.written >= rows, self.error


def test_round_trip_while_writes_continue(site, tmp_path):
    tenant, _config = site
    writer = Writer(tenant)
    writer.start()
    try:
        writer.wait_for(50)
        result = create_backup(tenant, tmp_path / "out" / "bkp.tar.gz")
        written_at_backup = writer.written
        writer.wait_for(written_at_backup + 20)  # the writes went on after the snapshot
    finally:
        writer.stop.set()
        writer.join(30)
    assert writer.error is None
    snapshot_rows = result.tables["events"]
    assert 50 <= snapshot_rows <= written_at_backup
    assert result.tables["users"] == 0
    live = live_counts(tenant)
    assert live["events"] == writer.written > snapshot_rows

    manifest, problems = verify_backup(result.path)
    assert problems == []
    assert (manifest["app"], manifest["engine"]) == (APP, tenant.db_engine)
    assert manifest["tables"] == result.tables
    assert "config/routes/bkp.yaml" in manifest["files"]

    with pytest.raises(StateConflict, match=r"not empty: events \(\d+\)"):
        restore_backup(tenant, result.path)
    assert live_counts(tenant)["events"] == writer.written  # refused: nothing changed

    restored = restore_backup(tenant, result.path, force=True)
    assert restored.tables == result.tables
    connections[ALIAS].close()
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("SELECT id FROM events ORDER BY id")
        ids = [row[0] for row in cursor.fetchall()]
    # exactly the snapshot: the first rows written, none of the later ones
    assert ids == list(range(1, snapshot_rows + 1))


def test_the_archive_never_holds_a_secret_and_restore_leaves_the_config_alone(site, tmp_path):
    tenant, config = site
    result = create_backup(tenant, tmp_path / "bkp.tar.gz")
    with tarfile.open(result.path) as archive:
        names = archive.getnames()
        contents = [archive.extractfile(member).read() for member in archive.getmembers() if member.isfile()]
    assert "config/queries/bkp/jwt_secret.txt" not in names
    assert "config/cron/bkp.yaml" in names and "config/routes/bkp.yaml" in names
    assert not any(SECRET.encode() in content for content in contents)

    routes = config / "routes" / f"{APP}.yaml"
    before = routes.read_text()
    routes.write_text(before + "# edited after the backup\n")
    restored = restore_backup(tenant, result.path, force=True, extract_config=tmp_path / "extracted")
    assert "config/routes/bkp.yaml" in restored.config_members
    assert routes.read_text().endswith("# edited after the backup\n")  # the live config is untouched
    assert (tmp_path / "extracted" / "routes" / f"{APP}.yaml").read_text() == before


def rewrite_member(path: Path, name: str, change: Callable[[bytes], bytes]) -> None:
    with tarfile.open(path) as archive:
        members = [(member, archive.extractfile(member).read()) for member in archive.getmembers()]
    with tarfile.open(path, "w:gz") as archive:
        for member, data in members:
            if member.name == name:
                data = change(data)
                member.size = len(data)
            archive.addfile(member, io.BytesIO(data))


def flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


@pytest.mark.parametrize("site", ["sqlite"], indirect=True)
def test_verify_catches_a_tampered_archive(site, tmp_path):
    tenant, _config = site
    result = create_backup(tenant, tmp_path / "bkp.tar.gz")
    rewrite_member(result.path, "config/routes/bkp.yaml", flip_last_byte)
    _manifest, problems = verify_backup(result.path)
    assert len(problems) == 1 and problems[0].startswith("config/routes/bkp.yaml: checksum mismatch")
    with pytest.raises(InvalidInput, match="checksum mismatch"):
        restore_backup(tenant, result.path, force=True)

    rewrite_member(result.path, f"database/{APP}.sqlite3", flip_last_byte)
    _manifest, problems = verify_backup(result.path)
    assert any(problem.startswith(f"database/{APP}.sqlite3: checksum mismatch") for problem in problems)


@pytest.mark.parametrize("site", ["sqlite"], indirect=True)
def test_the_cron_kind_writes_an_archive_and_keeps_the_newest(site, tmp_path):
    tenant, _config = site
    kind = KINDS["backup"]
    params = kind.params_model.model_validate(
        {"params": {"keep": 2, "out_dir": str(tmp_path / "kept")}}
    ).params
    assert kind.params_model.model_validate({"params": {}}).params.keep == 7
    outputs = [kind.run(tenant, params, None) for _ in range(4)]  # type: ignore[arg-type]
    kept = archives_of(APP, tmp_path / "kept")
    assert len(kept) == 2
    assert outputs[-1].startswith(str(kept[-1])) and "1 older archive(s) removed" in outputs[-1]
    assert "table(s)" in outputs[0] and "0 older archive(s) removed" in outputs[0]


def sogoms(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "sogoms", *args],
        cwd=settings.BASE_DIR,
        env=site_env(config, config.parent / "var"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("site", ["sqlite"], indirect=True)
def test_the_commands_back_up_verify_refuse_and_restore(site, tmp_path):
    tenant, config = site
    with connections[ALIAS].cursor() as cursor:
        for number in range(3):
            cursor.execute("INSERT INTO events (body) VALUES (%s)", [f"row {number}"])
    connections[ALIAS].close()

    done = sogoms(config, "backup", APP)
    assert done.returncode == 0, done.stdout + done.stderr
    path = Path(done.stdout.splitlines()[0].split(": ", 1)[1])
    assert path.parent == config.parent / "var" / "backups" and path.name.startswith(f"{APP}-")
    assert "events: 3" in done.stdout

    done = sogoms(config, "restore", APP, str(path), "--verify")
    assert done.returncode == 0 and "OK" in done.stdout, done.stdout + done.stderr

    done = sogoms(config, "restore", APP, str(path))
    assert done.returncode == 1 and "not empty: events (3)" in done.stdout, done.stdout + done.stderr

    with connections[ALIAS].cursor() as cursor:
        cursor.execute("DELETE FROM events WHERE id > 1")
    connections[ALIAS].close()
    done = sogoms(config, "restore", APP, str(path), "--force")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "events: 3" in done.stdout and "config/routes/bkp.yaml" in done.stdout
    assert live_counts(tenant)["events"] == 3
