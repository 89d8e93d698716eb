"""Sharding tenants across MariaDB servers: two tenants, each on a server of its own.

The test starts a second `mariadbd` (its own data directory, a free port on 127.0.0.1)
beside the run's MariaDB, gives tenant north a `database:` block on the first server and
tenant south one on the second, runs `sogoms migrate` and the production HTTP server
(2 workers), and checks through the API and by querying both servers directly that each
tenant's tables and rows are on its own server only. About 10 s.
"""

from __future__ import annotations

from contextlib import ExitStack

from tests.realtime.servers import call, free_port, register, served, sogoms_command
from tests.scale.processes import (
    databases,
    forget_queue,
    process_env,
    require_services,
    run_suffix,
    second_mariadb,
    server_command,
    sql,
    tenant_config,
)


def test_two_tenants_on_two_mariadb_servers_keep_their_tables_and_rows_on_their_own(tmp_path):
    services = require_services()
    suffix = run_suffix()
    north, south = f"north{suffix}", f"south{suffix}"
    control = f"{services.database}_s{suffix}"
    north_db, south_db = f"{control}_north", f"{control}_south"
    with second_mariadb(tmp_path, free_port()) as second_port:
        blocks = {
            north: {
                "host": services.mysql_host,
                "port": services.mysql_port,
                "user": "root",
                "name": north_db,
            },
            south: {"host": "127.0.0.1", "port": second_port, "user": "root", "name": south_db},
        }
        config = tenant_config(tmp_path, blocks)
        with (
            databases(services.mysql_port, control, north_db),
            databases(second_port, south_db),
            ExitStack() as stack,
        ):
            env = process_env(config, tmp_path / "var", services, control=control, suffix=suffix)
            sogoms_command(env, "migrate")
            port = free_port()
            with (
                (tmp_path / "http.log").open("wb") as log,
                served(server_command(2, port), env, port, log=log) as http,
            ):
                stack.callback(forget_queue, env)
                written = {}
                for app in (north, south):
                    _, token = register(http, f"owner@{app}.example.com", host=f"{app}.test")
                    status, body = call(
                        http, "POST", "/api/projects", {"name": f"of {app}"}, token, host=f"{app}.test"
                    )
                    assert status == 201, body
                    status, body = call(http, "GET", "/api/projects", token=token, host=f"{app}.test")
                    assert status == 200, body
                    written[app] = [row["name"] for row in body["data"]]
            assert written == {north: [f"of {north}"], south: [f"of {south}"]}

            # Each server holds its tenant's tables and rows, and nothing of the other's.
            assert sql(services.mysql_port, "SELECT name FROM projects", database=north_db) == [
                (f"of {north}",)
            ]
            assert sql(second_port, "SELECT name FROM projects", database=south_db) == [(f"of {south}",)]
            assert sql(services.mysql_port, "SELECT email FROM users", database=north_db) == [
                (f"owner@{north}.example.com",)
            ]
            assert sql(second_port, "SELECT email FROM users", database=south_db) == [
                (f"owner@{south}.example.com",)
            ]
            assert sql(second_port, "SHOW DATABASES LIKE %s", (north_db,)) == []
            assert sql(services.mysql_port, "SHOW DATABASES LIKE %s", (south_db,)) == []
