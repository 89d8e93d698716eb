"""`sogoms migrate` on a MariaDB server creates the control and tenant databases that do not
exist yet (utf8mb4), then their tables; one that exists is left as it is."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.realtime.servers import BASE_DIR, site_env, sogoms_command


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("mysql"):
        if os.environ.get("SOGOMS_REQUIRE_SERVICES"):
            pytest.fail("DATABASE_URL does not name a MariaDB server")
        pytest.skip("needs MariaDB (DATABASE_URL)")
    return url


def test_migrate_creates_the_missing_databases_and_their_tables(tmp_path):
    import MySQLdb

    parts = urlsplit(_server_url())
    base = f"{parts.path.lstrip('/')}_made_{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}"
    apps = sorted(path.stem for path in (BASE_DIR / "tests" / "config" / "routes").glob("*.yaml"))
    names = [base] + [f"{base}_{app}" for app in apps]

    def server_run(statement: str, params: tuple = ()) -> list[tuple]:
        server = MySQLdb.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root")
        try:
            cursor = server.cursor()
            cursor.execute(statement, params)
            return list(cursor.fetchall())
        finally:
            server.close()

    for name in names:
        server_run(f"DROP DATABASE IF EXISTS `{name}`")
    server_run(f"CREATE DATABASE `{base}_beta` CHARACTER SET latin1")  # one exists already
    env = site_env(BASE_DIR / "tests" / "config", tmp_path / "var")
    env.update(
        DATABASE_URL=urlunsplit(parts._replace(path=f"/{base}")),
        SOGOMS_TENANT_DATABASE_URL=urlunsplit(parts._replace(path=f"/{base}_{{app}}")),
    )
    try:
        output = sogoms_command(env, "migrate")
        assert f"created database {base}\n" in output
        assert f"created database {base}_alpha\n" in output
        assert f"created database {base}_beta\n" not in output
        charsets = dict(
            server_run(
                "SELECT schema_name, default_character_set_name FROM information_schema.schemata"
                " WHERE schema_name LIKE %s",
                (f"{base}%",),
            )
        )
        assert charsets == {name: "latin1" if name.endswith("_beta") else "utf8mb4" for name in names}
        tables = server_run(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (f"{base}_alpha",)
        )
        assert {"users", "projects"} <= {row[0] for row in tables}
    finally:
        for name in names:
            server_run(f"DROP DATABASE IF EXISTS `{name}`")
