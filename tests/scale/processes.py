"""Real processes for the scale-out tests and bench/scale_out.py: the production HTTP
server with N workers, a second MariaDB server of the test's own, tenants of their own
on MariaDB and Redis.

The production HTTP server is one command, `server_command(workers, port)`: by default
sogoms_site.serving's (what `make serve-prod`, `sogoms ctl` and the unit run), or the
template in SOGOMS_SERVER_COMMAND, e.g.
`{bin}/gunicorn sogoms_site.wsgi:application -w {workers} -b {host}:{port}`.

Everything a test creates is its own, so tests can run in parallel beside other runs on
the same MariaDB and Redis: databases named after DATABASE_URL's with a random suffix
(dropped after), tenant names with the same suffix (the cache's rate-limit and session
keys carry the tenant), a channel-layer prefix and a Celery queue of its own.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from sogoms_site.serving import http_server_args
from tests.realtime.servers import site_env

BASE_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the virtualenv's bin directory
MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "/usr/bin/mariadb-install-db"
SERVER_COMMAND_VARIABLE = "SOGOMS_SERVER_COMMAND"


def server_command(workers: int, port: int, host: str = "127.0.0.1") -> list[str]:
    """The production HTTP server of this checkout with `workers` workers on host:port."""
    template = os.environ.get(SERVER_COMMAND_VARIABLE)
    if template:
        return shlex.split(template.format(bin=BIN, workers=workers, host=host, port=port))
    return [str(BIN / "granian"), *http_server_args(host, port, workers)]


# --------------------------------------------------------------------------- services


@dataclass(frozen=True)
class Services:
    """The MariaDB server and Redis of the run (DATABASE_URL, REDIS_URL)."""

    mysql_host: str
    mysql_port: int
    database: str  # DATABASE_URL's database name: the prefix of every database made here
    redis_url: str


def require_services() -> Services:
    """MariaDB and Redis as the environment names them; without them the test skips, or
    fails under SOGOMS_REQUIRE_SERVICES=1 (CI)."""
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith("mysql://") or not redis_url.startswith("redis://"):
        message = "needs MariaDB (a mysql:// DATABASE_URL) and Redis (REDIS_URL), which the processes share"
        if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from tests.realtime.conftest import require_service

    host, port = require_service("MariaDB", database_url, 3306)
    require_service("Redis", redis_url, 6379)
    return Services(host, port, urlsplit(database_url).path.strip("/"), redis_url)


def require_binaries(*paths: str) -> None:
    missing = [path for path in paths if not Path(path).exists()]
    if not missing:
        return
    if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"missing: {', '.join(missing)}")
    pytest.skip(f"needs {', '.join(missing)}")


def sql(
    port: int, statement: str, params: tuple = (), *, host: str = "127.0.0.1", database: str = ""
) -> list[tuple]:
    """One statement (with `params` for its %s) as root on the MariaDB server at host:port;
    its rows."""
    import MySQLdb

    connection = MySQLdb.connect(host=host, port=port, user="root", database=database, connect_timeout=5)
    try:
        cursor = connection.cursor()
        cursor.execute(statement, params or None)
        rows = list(cursor.fetchall())
        connection.commit()
        return rows
    finally:
        connection.close()


@contextmanager
def databases(port: int, *names: str, host: str = "127.0.0.1") -> Iterator[None]:
    """Empty databases on the server at host:port, dropped after the block."""
    for name in names:
        sql(port, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4", host=host)
    try:
        yield
    finally:
        for name in names:
            sql(port, f"DROP DATABASE IF EXISTS `{name}`", host=host)


@contextmanager
def second_mariadb(directory: Path, port: int) -> Iterator[int]:
    """A MariaDB server of its own (data directory under `directory`, 127.0.0.1:port,
    root without a password); stopped and its data removed after the block."""
    require_binaries(MARIADBD, INSTALL_DB)
    data = directory / "mariadb-data"
    install = [INSTALL_DB, "--no-defaults", "--user=root", f"--datadir={data}"]
    install += ["--auth-root-authentication-method=normal", "--skip-test-db"]
    subprocess.run(install, check=True, capture_output=True, timeout=60)
    command = [MARIADBD, "--no-defaults", "--user=root", f"--datadir={data}", f"--port={port}"]
    command += [f"--socket={directory / 'mariadb.sock'}", "--bind-address=127.0.0.1"]
    command += [f"--pid-file={directory / 'mariadb.pid'}", "--skip-log-bin", "--innodb-buffer-pool-size=32M"]
    log = (directory / "mariadb.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                sql(port, "SELECT 1")
                break
            except Exception:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "the second mariadbd did not start: "
                        + (directory / "mariadb.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()
        shutil.rmtree(data, ignore_errors=True)


# --------------------------------------------------------------------------- sites


def run_suffix() -> str:
    """Eight random characters naming this run's databases, tenants and queue."""
    return uuid.uuid4().hex[:8]


def tenant_config(
    root: Path, tenants: dict[str, dict | None], *, cron: dict[str, dict] | None = None
) -> Path:
    """A config directory with one tenant per entry, each the test tenant alpha cut down to
    its users and projects (fewer tables: `migrate` on MariaDB stays quick), on host
    `<app>.test`, with the given `database:` block (None: SOGOMS_TENANT_DATABASE_URL) and,
    from `cron`, its jobs file."""
    source = BASE_DIR / "tests" / "config"
    config = root / "config"
    for kind in ("routes", "schema", "cron", "emails"):
        (config / kind).mkdir(parents=True, exist_ok=True)
    schema = yaml.safe_load((source / "schema" / "alpha.yaml").read_text())
    schema["tables"] = {name: schema["tables"][name] for name in ("users", "projects")}
    for app, database in tenants.items():
        routes = yaml.safe_load((source / "routes" / "alpha.yaml").read_text())
        routes.update(app=app, hosts=[f"{app}.test"])
        routes["auth"]["login_includes"] = ["projects"]
        if database is not None:
            routes["database"] = database
        (config / "routes" / f"{app}.yaml").write_text(yaml.safe_dump(routes))
        (config / "schema" / f"{app}.yaml").write_text(yaml.safe_dump(schema))
        shutil.copytree(source / "emails" / "alpha", config / "emails" / app)
        if cron and app in cron:
            (config / "cron" / f"{app}.yaml").write_text(yaml.safe_dump(cron[app]))
    return config


def process_env(
    config: Path, var: Path, services: Services, *, control: str, tenant_url: str = "", suffix: str
) -> dict[str, str]:
    """The environment of the site's processes: `config`, SQLite-free (control database
    `control` on the run's MariaDB, tenants by `tenant_url` or their blocks), Redis with a
    channel prefix and a Celery queue of this run's own."""
    env = site_env(config, var)
    server = f"mysql://root@{services.mysql_host}:{services.mysql_port}"
    env.update(
        DJANGO_SETTINGS_MODULE="tests.scale.process_settings",
        DATABASE_URL=f"{server}/{control}",
        REDIS_URL=services.redis_url,
        SOGOMS_CHANNEL_PREFIX=f"sogoms-scale-{suffix}",
        SOGOMS_SCALE_QUEUE=f"sogoms-scale-{suffix}",
    )
    if tenant_url:
        env["SOGOMS_TENANT_DATABASE_URL"] = tenant_url
    return env


def forget_queue(env: dict[str, str]) -> None:
    """Delete the run's Celery queue from Redis (the welcome e-mails' tasks nobody took)
    with the exchange bindings the broker keeps beside it."""
    import redis

    queue = env["SOGOMS_SCALE_QUEUE"]
    client = redis.Redis.from_url(env["REDIS_URL"])
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
