#!/usr/bin/env python
"""Per-request cost of SOGOMS's CRUD hot path, in one process, without a server.

    .venv/bin/python bench/hotpath.py                         # embedded SQLite, no Redis
    .venv/bin/python bench/hotpath.py --engine mariadb        # MariaDB + Redis (the production set-up)
    .venv/bin/python bench/hotpath.py --profile update        # + cProfile of one workload
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.%p \
        .venv/bin/python bench/hotpath.py --callgrind 50         # instructions per request

Authenticated requests of the demo tenant (Prokov, `config/`) on its `projects` table
(10,000 rows of the benchmark user) go through Django's test client: show, list
(`?page=1&per_page=20`), create and update (PUT), in rounds that interleave the
workloads, so a change of load on the machine touches all of them alike. For each
workload it prints microseconds per request (median of the rounds), wall time and the
process's CPU time (all its threads; on a loaded machine the steadier of the two), and what one request
costs outside Python: SQL statements and their time, COMMIT and autocommit switches,
Redis round trips and their time, and the time of the after-commit CRUD event
dispatch (tenant log, real-time fan-out). The MariaDB run uses the databases
`<db-prefix>` and `<db-prefix>_prokov` (and one per other app, dropped at the end) and Redis `--redis-url`.
Everything lives in a temp dir that is removed at the end.

`--callgrind N` (under valgrind, as above) instead counts the instructions of N requests of
each workload, instrumentation switched on around them only (`callgrind_control`): a
figure the load of a shared machine does not move, for comparing two checkouts.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"  # noqa: S105  (throw-away bench accounts)
SEED_TS = "2026-11-22 00:00:00.000000"
WORKLOADS = ("show", "list", "create", "update")
# `list-nototal`: the list with `?total=false` (no COUNT); name it in --workloads to add it
EXTRA_WORKLOADS = ("list-nototal",)
CALLGRIND_DIR = "/tmp/hotpath-cg"  # noqa: S108  (--callgrind-out-file of the valgrind command)
COLORS = ("#10b981", "#f59e0b", "#ef4444", "#3b82f6")


def mysql(sql: str) -> None:
    subprocess.run(["mysql", "-h127.0.0.1", "-uroot", "-e", sql], check=True)


def databases(prefix: str) -> list[str]:
    """The control database and one per app of `config/` (each app has its routes file)."""
    apps = sorted(path.stem for path in (REPO / "config" / "routes").glob("*.yaml"))
    return [prefix] + [f"{prefix}_{app}" for app in apps]


def prepare_environment(args: argparse.Namespace, tmp: Path) -> None:
    for key in [k for k in os.environ if k.startswith(("SOGOMS_", "DATABASE_URL", "REDIS_URL", "DJANGO_"))]:
        del os.environ[key]
    os.environ.update(
        SOGOMS_VAR_DIR=str(tmp / "var"),
        SOGOMS_BASE_DIR=str(tmp),
        SOGOMS_CONFIG_DIR=str(REPO / "config"),
        SOGOMS_LOG_DIR=str(tmp / "var" / "log"),
        DJANGO_SETTINGS_MODULE="sogoms_site.settings",
    )
    if args.engine == "mariadb":
        prefix = args.db_prefix
        for name in databases(prefix):
            mysql(f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4;")
        os.environ.update(
            DATABASE_URL=f"mysql://root@127.0.0.1:3306/{prefix}",
            SOGOMS_TENANT_DATABASE_URL=f"mysql://root@127.0.0.1:3306/{prefix}_{{app}}",
            REDIS_URL=args.redis_url,
            SOGOMS_REQUIRE_SERVICES="1",
        )
    for pair in args.env:
        name, _, value = pair.partition("=")
        os.environ[name] = value
    for command in ("devsecrets", "migrate"):
        subprocess.run(
            [sys.executable, "manage.py", "sogoms", command], cwd=REPO, check=True, capture_output=True
        )


class Meter:
    """Counts and times what one request does outside Python: SQL, COMMIT, Redis, events."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.on = False

    def add(self, what: str, started: float) -> None:
        if self.on:
            self.counts[what] += 1
            self.seconds[what] += time.perf_counter() - started

    def timed(self, what: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(what, started)

        return wrapper

    def install(self) -> None:
        from django.db import connections
        from django.db.backends.base.base import BaseDatabaseWrapper

        meter = self

        def sql(execute: Callable, statement: str, params: Any, many: bool, context: Any) -> Any:
            started = time.perf_counter()
            try:
                return execute(statement, params, many, context)
            finally:
                verb = statement.lstrip().split(None, 1)[0].upper()
                meter.add(f"sql {verb}", started)

        original_init = BaseDatabaseWrapper.ensure_connection

        def ensure_connection(self: BaseDatabaseWrapper) -> None:
            if sql not in self.execute_wrappers:
                self.execute_wrappers.append(sql)
            original_init(self)

        BaseDatabaseWrapper.ensure_connection = ensure_connection  # type: ignore[method-assign]
        for wrapper in connections.all():
            wrapper.execute_wrappers.append(sql)
        BaseDatabaseWrapper._commit = self.timed("COMMIT", BaseDatabaseWrapper._commit)  # type: ignore[method-assign]
        BaseDatabaseWrapper.connect = self.timed("connect", BaseDatabaseWrapper.connect)  # type: ignore[method-assign]
        for cls in {type(w) for w in connections.all()}:
            cls._set_autocommit = self.timed("autocommit switch", cls._set_autocommit)  # type: ignore[method-assign]
            cls._commit = self.timed("COMMIT", cls._commit) if "_commit" in cls.__dict__ else cls._commit  # type: ignore[method-assign]
        try:
            import redis

            redis.Redis.execute_command = self.timed("redis command", redis.Redis.execute_command)  # type: ignore[method-assign]
            redis.client.Pipeline.execute = self.timed("redis pipeline", redis.client.Pipeline.execute)  # type: ignore[method-assign]
        except ImportError:
            pass
        from crud import events

        events.dispatch = self.timed("event dispatch", events.dispatch)

    @contextmanager
    def measuring(self) -> Iterator[None]:
        self.on = True
        try:
            yield
        finally:
            self.on = False


def seed(alias: str, bench_id: int, other_id: int, rows: int) -> list[tuple[int, str]]:
    from django.db import connections

    sql = (
        "INSERT INTO projects (user_id, name, description, color, position, archived, created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
    )
    values = [(other_id, f"Other {i:05d}", "seeded", "#4f46e5", i, False, SEED_TS, SEED_TS) for i in range(5)]
    values += [
        (bench_id, f"Project {i:05d}", "seeded", "#4f46e5", i, False, SEED_TS, SEED_TS) for i in range(rows)
    ]
    with connections[alias].cursor() as cursor:
        cursor.executemany(sql, values)
        cursor.execute("SELECT id, name FROM projects WHERE user_id = %s", [bench_id])
        own = [(row[0], row[1]) for row in cursor.fetchall()]
    return own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "mariadb"), default="sqlite")
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per workload")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (requests are split)")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--db-prefix", default="sogoms_hotpath")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for SOGOMS (repeatable)")
    parser.add_argument(
        "--callgrind", type=int, default=0, help="instructions of N requests (under valgrind)"
    )
    parser.add_argument("--profile", choices=WORKLOADS + EXTRA_WORKLOADS, help="also cProfile this workload")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    workloads = [w for w in args.workloads.split(",") if w]
    tmp = Path(tempfile.mkdtemp(prefix="sogoms-hotpath-"))
    try:
        prepare_environment(args, tmp)
        run(args, workloads)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if args.engine == "mariadb":
            mysql("; ".join(f"DROP DATABASE IF EXISTS `{name}`" for name in databases(args.db_prefix)))
            import redis

            client = redis.Redis.from_url(args.redis_url)
            # its own keys, and the e-mail tasks its sign-ups queued for Celery
            patterns = ("sogoms:*", "celery", "_kombu.*")
            keys = [key for pattern in patterns for key in client.scan_iter(pattern)]
            if keys:
                client.delete(*keys)


def requests_of(args: argparse.Namespace) -> dict[str, tuple[Callable[[], Any], int]]:
    """workload -> (one request of it, its expected status), on a seeded tenant."""
    import orjson
    from django.test import Client

    from tenants.registry import registry

    client = Client(HTTP_HOST="127.0.0.1")
    tokens, ids = {}, {}
    for who in ("bench", "other"):
        response = client.post(
            "/api/auth/register",
            {"email": f"{who}@example.com", "password": PASSWORD, "name": who.title()},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        body = response.json()["data"]
        tokens[who] = body["token"]
        ids[who] = body["user"]["id"]
    tenant = registry().for_host("127.0.0.1")
    assert tenant is not None
    own = seed(tenant.db_alias, ids["bench"], ids["other"], args.rows)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens['bench']}"}
    counter = [0]

    def show() -> Any:
        counter[0] += 1
        return client.get(f"/api/projects/{own[counter[0] % len(own)][0]}", **auth)

    def listing() -> Any:
        counter[0] += 1
        return client.get("/api/projects?page=1&per_page=20", **auth)

    def create() -> Any:
        counter[0] += 1
        n = counter[0]
        body = {
            "name": f"hotpath n{n}",
            "description": "created by the benchmark",
            "color": COLORS[n % 4],
            "position": n,
            "archived": False,
        }
        return client.post("/api/projects", orjson.dumps(body), content_type="application/json", **auth)

    def listing_without_total() -> Any:
        counter[0] += 1
        return client.get("/api/projects?page=1&per_page=20&total=false", **auth)

    def update() -> Any:
        counter[0] += 1
        n = counter[0]
        pk, name = own[(n * 7919) % len(own)]
        body = {
            "name": name,  # the name is unique per user: keep it
            "description": f"updated {n}",
            "color": COLORS[n % 4],
            "position": n,
            "archived": bool(n % 2),
        }
        return client.put(f"/api/projects/{pk}", orjson.dumps(body), content_type="application/json", **auth)

    return {
        "show": (show, 200),
        "list": (listing, 200),
        "list-nototal": (listing_without_total, 200),
        "create": (create, 201),
        "update": (update, 200),
    }


def run(args: argparse.Namespace, workloads: list[str]) -> None:
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    calls = requests_of(args)
    if args.callgrind:
        count_instructions(calls, workloads, args.callgrind)
        return
    for workload in workloads:  # warm up: compiled reads, serializers, connections
        call, status = calls[workload]
        for _ in range(100):
            response = call()
            assert response.status_code == status, (workload, response.status_code, response.content)
    per_round = max(1, args.requests // args.rounds)
    times: dict[str, list[float]] = {w: [] for w in workloads}
    cpu: dict[str, list[float]] = {w: [] for w in workloads}
    for _ in range(args.rounds):
        for workload in workloads:
            call, _status = calls[workload]
            started, started_cpu = time.perf_counter(), time.process_time()
            for _ in range(per_round):
                call()
            times[workload].append((time.perf_counter() - started) / per_round)
            cpu[workload].append((time.process_time() - started_cpu) / per_round)
    meter = Meter()
    meter.install()
    breakdown = {}
    sample = min(500, args.requests)
    for workload in workloads:
        call, _status = calls[workload]
        meter.counts.clear()
        meter.seconds.clear()
        started = time.perf_counter()
        with meter.measuring():
            for _ in range(sample):
                call()
        wall = (time.perf_counter() - started) / sample
        breakdown[workload] = (wall, dict(meter.counts), dict(meter.seconds))
    report(args, workloads, times, cpu, breakdown, sample)
    print(
        f"\nA new connection to the tenant's database (what SOGOMS_CONN_MAX_AGE=0 adds per request):"
        f" {connect_cost() * 1e6:,.0f} us (open, first query, close; median of 50)"
    )
    if args.profile:
        call, _status = calls[args.profile]
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(per_round):
            call()
        profiler.disable()
        for sort in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(sort).print_stats(args.top)
            text = out.getvalue()
            print(f"\n--- {args.profile}: top {args.top} by {sort} ({per_round} requests)")
            print(text[text.find("   ncalls") :])


def count_instructions(calls: dict[str, tuple[Callable[[], Any], int]], workloads: list[str], n: int) -> None:
    """Instructions per request of each workload, from callgrind dumps of this process."""
    pid = str(os.getpid())
    out = Path(CALLGRIND_DIR)
    print(f"instructions per request (callgrind, {n} requests each, after 20 of warm-up):\n")
    print("| workload | instructions per request |")
    print("|---|---:|")
    for workload in workloads:
        call, status = calls[workload]
        for _ in range(20):
            assert call().status_code == status
        # start each count from an empty young generation and a full pass just made, so
        # whether one of the collector's full passes falls into the sample is not luck
        gc.collect()
        before = set(out.glob(f"cg.{pid}*"))
        subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
        for _ in range(n):
            call()
        subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
        [dump] = set(out.glob(f"cg.{pid}*")) - before
        totals = [line for line in dump.read_text().splitlines() if line.startswith(("totals:", "summary:"))]
        instructions = int(totals[-1].split()[1])
        dump.unlink()
        print(f"| {workload} | {instructions / n:,.0f} |")


def connect_cost() -> float:
    """Seconds to open the tenant database's connection, run one query and close it."""
    from django.db import connections

    from tenants.registry import registry

    tenant = registry().for_host("127.0.0.1")
    assert tenant is not None
    connection = connections[tenant.db_alias]
    spent = []
    for _ in range(50):
        connection.close()
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        connection.close()
        spent.append(time.perf_counter() - started)
    return statistics.median(spent)


def report(
    args: argparse.Namespace,
    workloads: list[str],
    times: dict[str, list[float]],
    cpu: dict[str, list[float]],
    breakdown: dict[str, tuple[float, dict[str, int], dict[str, float]]],
    sample: int,
) -> None:
    from django.db import connections

    versions = []
    for wrapper in connections.all():
        if wrapper.vendor == "mysql":
            with wrapper.cursor() as cursor:
                cursor.execute("SELECT VERSION(), @@innodb_flush_log_at_trx_commit, @@sync_binlog")
                version, flush, sync_binlog = cursor.fetchone()
                versions.append(
                    f"MariaDB {version}, innodb_flush_log_at_trx_commit={flush}, sync_binlog={sync_binlog}"
                )
            break
    else:
        import sqlite3

        versions.append(f"SQLite {sqlite3.sqlite_version}")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(f"engine {args.engine} ({'; '.join(versions)}), commit {commit or '?'}, rows {args.rows}")
    print(f"{args.requests} requests per workload in {args.rounds} interleaved rounds; us/request:\n")
    print("| workload | wall median | wall min | wall max | CPU median | CPU min |")
    print("|---|---:|---:|---:|---:|---:|")
    for workload in workloads:
        wall = [t * 1e6 for t in times[workload]]
        used = [t * 1e6 for t in cpu[workload]]
        print(
            f"| {workload} | {statistics.median(wall):,.0f} | {min(wall):,.0f} | {max(wall):,.0f}"
            f" | {statistics.median(used):,.0f} | {min(used):,.0f} |"
        )
    print(f"\nPer request, {sample} metered requests per workload (count / us):\n")
    kinds = sorted({kind for _w, counts, _s in breakdown.values() for kind in counts})
    print("| workload | metered us | " + " | ".join(kinds) + " |")
    print("|---|---:|" + "---:|" * len(kinds))
    for workload in workloads:
        wall, counts, seconds = breakdown[workload]
        cells = [
            f"{counts.get(k, 0) / sample:.2f} / {seconds.get(k, 0.0) * 1e6 / sample:,.0f}" for k in kinds
        ]
        print(f"| {workload} | {wall * 1e6:,.0f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
