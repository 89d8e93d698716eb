#!/usr/bin/env python
"""List latency against the size of the table: 1k, 10k, 100k, 1M projects of one user.

    .venv/bin/python bench/data_scale.py                       # SQLite and MariaDB
    .venv/bin/python bench/data_scale.py --engines sogoms-sqlite --sizes 1000,10000

SOGOMS runs as in production (sogoms_site/serving.py's granian command, 2 workers, on the
Prokov demo config). The benchmark user's projects grow from size to size by bulk INSERTs
straight into the tenant's database (not through the API), and three other users get as
many rows again between them, inserted in alternation, so the owner filter has
neighbours to skip; a fourth user gets as many rows, all at the default position 0, so
that a cursor lands among rows that share the first sort key. At each size wrk
(bench/wrk_load.lua, 2 connections, keep-alive) measures each list request for
--duration seconds after a 1 s warm-up:

- `first page`: `?page=1&per_page=20`, the default order (position, name, id) with the
  total (COUNT) the page answer carries;
- `deep page`: the page in the middle of the user's rows (OFFSET size/2);
- `no total`: the first page with `&total=false`, where the checkout knows it;
- `cursor start` and `cursor middle`: keyset pages (`?cursor=`), from the start and from
  a cursor at the middle row;
- `cursor middle, ties`: the fourth user's page after its middle row (one position).

It also times in the database (the median of 20 runs on a connection of its own) the
COUNT alone, the first page's SQL, and the page after the middle row in the two forms a
keyset page has had: one query with the condition as one OR (and the first key's own
bound), and keys first, then the rows by key (crud.selectors._keyset_page: on SQLite one
query per part of the order after the cursor, on MariaDB one with the parts' OR; the
columns "keyset parts"); and prints each query's plan, so the cost of the total and
the index use show. Results: a markdown table and var/bench/scale-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

from crud_bench import (
    HOST,
    MYSQL,
    OUT_DIR,
    PASSWORD,
    SEED_TS,
    Sogoms,
    SogomsMariaDB,
    base_env,
    commit,
    engine_class,
    http,
    jwt_claims,
    log,
    machine,
    wrk,
    wrk_version,
)

SIZES = (1_000, 10_000, 100_000, 1_000_000)
OTHERS = 3
BATCH = 10_000
CONNECTIONS = 2
INSERT = (
    "INSERT INTO projects (user_id, name, description, color, position, archived, created_at, updated_at)"
    " VALUES ({p},{p},{p},{p},{p},{p},{p},{p})"
)
# The default order of Prokov's projects: the declared sort (position, name), then the key.
FIRST_PAGE = "SELECT * FROM projects WHERE user_id = {p} ORDER BY position, name, id LIMIT 20"
MIDDLE = (
    "SELECT position, name, id FROM projects WHERE user_id = {p}"
    " ORDER BY position, name, id LIMIT 1 OFFSET {p}"
)
COUNT = "SELECT COUNT(*) FROM projects WHERE user_id = {p}"
# The page after a cursor as one query: the OR, and beside it the first key's own bound.
KEYSET_OR = (
    "SELECT * FROM projects WHERE user_id = {p} AND position >= {p} AND (position > {p}"
    " OR (position = {p} AND name > {p}) OR (position = {p} AND name = {p} AND id > {p}))"
    " ORDER BY position, name, id LIMIT 21"
)
# ... and as crud.selectors._keyset_page reads it: keys only, then the rows by key; the
# keys on SQLite by the parts of the order after the cursor, nearest first, one query each,
# on MariaDB by one query with the parts' OR (it finds each part's range in it).
KEYSET_KEYS_OR = (
    "SELECT position, name, id FROM projects WHERE user_id = {p} AND ((position = {p} AND name = {p}"
    " AND id > {p}) OR (position = {p} AND name > {p}) OR position > {p})"
    " ORDER BY position, name, id LIMIT 21"
)
KEYSET_PARTS = (
    "SELECT position, name, id FROM projects"
    " WHERE user_id = {p} AND position = {p} AND name = {p} AND id > {p}"
    " ORDER BY position, name, id LIMIT {p}",
    "SELECT position, name, id FROM projects"
    " WHERE user_id = {p} AND position = {p} AND name > {p} ORDER BY position, name, id LIMIT {p}",
    "SELECT position, name, id FROM projects WHERE user_id = {p} AND position > {p}"
    " ORDER BY position, name, id LIMIT {p}",
)
BY_KEY = "SELECT * FROM projects WHERE user_id = {p} AND id IN ({keys})"


def keys_or_params(user_id: int, after: tuple) -> tuple:
    position, name, pk = after
    return (user_id, position, name, pk, position, name, position)


def encode_cursor(values: list) -> str:
    """A keyset cursor as the API writes it (crud.params.encode_cursor)."""
    text = json.dumps(values, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


class Database:
    """A connection of its own to the tenant database: bulk inserts, timings, plans."""

    def __init__(self, engine: Sogoms) -> None:
        if isinstance(engine, SogomsMariaDB):
            import MySQLdb

            self.mariadb = True
            self.marker = "%s"
            self.db = MySQLdb.connect(
                **{**MYSQL, "database": f"{engine.args.db_prefix}_prokov", "charset": "utf8mb4"}
            )
        else:
            self.mariadb = False
            self.marker = "?"
            self.db = sqlite3.connect(engine.tmp / "var" / "db" / "prokov.sqlite3", timeout=60)

    def sql(self, template: str) -> str:
        return template.format(p=self.marker)

    def rows(self, template: str, params: tuple) -> list:
        cursor = self.db.cursor()
        cursor.execute(self.sql(template), params)
        return list(cursor.fetchall())

    def insert(self, rows: list[tuple]) -> None:
        cursor = self.db.cursor()
        cursor.executemany(self.sql(INSERT), rows)
        self.db.commit()

    def timed(self, template: str, params: tuple, runs: int = 20) -> float:
        """Median milliseconds of a query, fetched whole."""
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            self.rows(template, params)
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    def keyset_parts(self, user_id: int, after: tuple) -> list:
        """The page after `after` (position, name, id) as crud.selectors._keyset_page reads it."""
        position, name, pk = after
        found: list = []
        if self.mariadb:
            found = self.rows(KEYSET_KEYS_OR, keys_or_params(user_id, after))
        else:
            for template, params in zip(
                KEYSET_PARTS, ((position, name, pk), (position, name), (position,)), strict=True
            ):
                found += self.rows(template, (user_id, *params, 21 - len(found)))
                if len(found) == 21:
                    break
        keys = [row[2] for row in found]
        return self.rows(BY_KEY.replace("{keys}", ",".join([self.marker] * len(keys))), (user_id, *keys))

    def timed_call(self, call, runs: int = 20) -> float:
        """Median milliseconds of a call."""
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            call()
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    def plan(self, template: str, params: tuple) -> str:
        if self.mariadb:
            found = self.rows("EXPLAIN " + template, params)
            return "; ".join(f"key={row[5]} rows={row[8]} extra={row[9]}" for row in found)
        return "; ".join(row[-1] for row in self.rows("EXPLAIN QUERY PLAN " + template, params))

    def close(self) -> None:
        self.db.close()


def grow(database: Database, bench_id: int, other_ids: list[int], ties_id: int, have: int, want: int) -> None:
    """The benchmark user's rows from `have` to `want`, as many for the others, alternating,
    and as many for the user whose rows all keep position 0."""
    for start in range(have, want, BATCH):
        stop = min(want, start + BATCH)
        mine = [
            (bench_id, f"Project {i:07d}", "seeded", "#4f46e5", (i * 7919) % 1000, False, SEED_TS, SEED_TS)
            for i in range(start, stop)
        ]
        theirs = [
            (
                other_ids[i % len(other_ids)],
                f"Other {i:07d}",
                "seeded",
                "#4f46e5",
                i % 1000,
                False,
                SEED_TS,
                SEED_TS,
            )
            for i in range(start, stop)
        ]
        tied = [
            (ties_id, f"Tied {i:07d}", "seeded", "#4f46e5", 0, False, SEED_TS, SEED_TS)
            for i in range(start, stop)
        ]
        database.insert(mine)
        database.insert(theirs)
        database.insert(tied)


def middle_row(database: Database, bench_id: int, size: int) -> tuple:
    """(position, name, id) of the user's row in the middle of the default order."""
    return tuple(database.rows(MIDDLE, (bench_id, size // 2))[0])


def request_paths(
    database: Database, bench_id: int, ties_id: int, size: int, total_false: bool
) -> dict[str, str]:
    middle = middle_row(database, bench_id, size)
    cursor = urllib.parse.quote(encode_cursor(list(middle)))
    tied = urllib.parse.quote(encode_cursor(list(middle_row(database, ties_id, size))))
    paths = {
        "first page": "/api/projects?page=1&per_page=20",
        "deep page": f"/api/projects?page={size // 2 // 20 + 1}&per_page=20",
        "cursor start": "/api/projects?per_page=20&cursor=",
        "cursor middle": f"/api/projects?per_page=20&cursor={cursor}",
        "cursor middle, ties": f"/api/projects?per_page=20&cursor={tied}",
    }
    if total_false:
        paths["no total"] = "/api/projects?page=1&per_page=20&total=false"
    return paths


def knows_total_false(base: str, headers: dict) -> bool:
    """Whether this checkout answers `?total=false` (a page without the COUNT)."""
    status, body = http("GET", base + "/api/projects?page=1&per_page=20&total=false", headers=headers)
    return status == 200 and "total" not in body.get("meta", {})


def run_engine(name: str, args, tmp: Path) -> dict:
    engine = engine_class(name)(args, tmp)
    found: dict = {"sizes": {}}
    try:
        target = engine.start()
        others, tokens = [], []
        for n in range(OTHERS + 1):
            email = f"neighbour{n}@example.com"
            user = {"email": email, "password": PASSWORD, "name": f"Neighbour {n}"}
            status, body = http("POST", target.base + "/api/auth/register", user)
            if status != 201:
                raise RuntimeError(f"register {email}: {status} {body}")
            others.append(int(jwt_claims(body["data"]["token"])["sub"]))
            tokens.append(body["data"]["token"])
        ties_id, others = others[-1], others[:-1]
        ties_auth = f"Bearer {tokens[-1]}"
        bench_id = int(jwt_claims(target.headers["Authorization"].split()[1])["sub"])
        total_false = knows_total_false(target.base, target.headers)
        found["total_false"] = total_false
        database = Database(engine)
        have = 0
        try:
            for size in args.sizes:
                t0 = time.monotonic()
                grow(database, bench_id, others, ties_id, have, size)
                have = size
                took = time.monotonic() - t0
                log(f"{name}: {size:,} rows of the user ({3 * size:,} in the table) in {took:.1f}s")
                status, body = http(
                    "GET",
                    target.base + "/api/projects?page=1&per_page=20",
                    headers=target.headers,
                    timeout=180,
                )
                if status != 200 or body["meta"]["total"] != size:
                    raise RuntimeError(f"the list reports {body.get('meta')} for {size} rows")
                at_size: dict = {"requests": {}}
                env_base = {**base_env(), "AUTH": target.headers["Authorization"], "METHOD": "GET"}
                paths = request_paths(database, bench_id, ties_id, size, total_false)
                for label, path in paths.items():
                    auth = ties_auth if label.endswith("ties") else target.headers["Authorization"]
                    # generous: the workers may still be finishing a slow run's requests (OFFSET)
                    status, body = http(
                        "GET", target.base + path, headers={"Authorization": auth}, timeout=180
                    )
                    if status != 200 or len(body["data"]) != 20:
                        raise RuntimeError(f"{label}: {status} {str(body)[:300]}")
                    env = {**env_base, "PATHS": path, "AUTH": auth}
                    wrk(target.base, env, connections=CONNECTIONS, seconds=1)
                    r = wrk(target.base, env, connections=CONNECTIONS, seconds=args.duration)
                    at_size["requests"][label] = r
                    figures = f"{r['rps']:.0f} req/s p50 {r['p50_ms']:.1f} p99 {r['p99_ms']:.1f} ms"
                    log(f"{name} {size:,} {label}: {figures}")
                at_size["sql_ms"] = {
                    "count": database.timed(COUNT, (bench_id,)),
                    "first page": database.timed(FIRST_PAGE, (bench_id,)),
                }
                at_size["plans"] = {
                    "first page": database.plan(FIRST_PAGE, (bench_id,)),
                    "count": database.plan(COUNT, (bench_id,)),
                }
                for suffix, user_id in (("", bench_id), (", ties", ties_id)):
                    p, n, i = middle_row(database, user_id, size)
                    one_or = (user_id, p, p, p, n, p, n, i)
                    at_size["sql_ms"][f"keyset OR{suffix}"] = database.timed(KEYSET_OR, one_or)
                    at_size["sql_ms"][f"keyset parts{suffix}"] = database.timed_call(
                        lambda u=user_id, after=(p, n, i): database.keyset_parts(u, after)
                    )
                    at_size["plans"][f"keyset OR{suffix}"] = database.plan(KEYSET_OR, one_or)
                    at_size["plans"][f"keyset parts{suffix}"] = (
                        database.plan(KEYSET_KEYS_OR, keys_or_params(user_id, (p, n, i)))
                        if database.mariadb
                        else " | ".join(
                            database.plan(template, (user_id, *params, 21))
                            for template, params in zip(KEYSET_PARTS, ((p, n, i), (p, n), (p,)), strict=True)
                        )
                    )
                log(f"{name} {size:,} sql ms {at_size['sql_ms']} plans {at_size['plans']}")
                found["sizes"][size] = at_size
        finally:
            database.close()
    finally:
        engine.stop()
    return found


def table(results: dict) -> str:
    labels = ["first page", "no total", "deep page", "cursor start", "cursor middle", "cursor middle, ties"]
    sql_labels = ["count", "first page", "keyset OR", "keyset parts", "keyset OR, ties", "keyset parts, ties"]
    lines = [
        "| engine | rows of the user | "
        + " | ".join(f"{label} p50 / p99 ms" for label in labels)
        + " | "
        + " | ".join(f"SQL {label} ms" for label in sql_labels)
        + " |",
        "|---|---:|" + "---:|" * (len(labels) + len(sql_labels)),
    ]
    for engine, found in results.items():
        if "failed" in found:
            lines.append(f"| {engine} | failed: {found['failed'][:80]} |")
            continue
        for size, at_size in found["sizes"].items():
            cells = []
            for label in labels:
                r = at_size["requests"].get(label)
                if not r:
                    cells.append("n/a")
                elif not r["requests"]:  # not one answer in the window
                    cells.append(f"> {r['seconds']:.0f} s")
                else:
                    cells.append(f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f}")
            cells += [f"{at_size['sql_ms'][label]:.2f}" for label in sql_labels]
            lines.append(f"| {engine} | {size:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="sogoms-sqlite,sogoms-mariadb", help="either or both")
    parser.add_argument(
        "--sizes", default=",".join(str(s) for s in SIZES), help="rows of the user, ascending"
    )
    parser.add_argument("--duration", type=float, default=3, help="measured seconds per request kind")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--db-prefix", default="sogoms_scale", help="MariaDB databases created and dropped")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not set(engines) <= {"sogoms-sqlite", "sogoms-mariadb"}:
        parser.error("--engines: sogoms-sqlite, sogoms-mariadb")
    args.sizes = sorted(int(s) for s in args.sizes.split(","))
    if shutil.which("wrk") is None:
        parser.error("wrk is missing: apt-get install wrk (Debian's package)")
    # What crud_bench's SOGOMS engines read: the production server, no rows of their own.
    args.server, args.rows, args.sogoms_env = "granian", 0, {}

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    started = datetime.now(UTC)
    tmp = Path(tempfile.mkdtemp(prefix="sogoms-scale-"))
    results: dict = {}
    try:
        for name in engines:
            try:
                results[name] = run_engine(name, args, tmp)
            except (KeyboardInterrupt, TimeoutError):
                raise
            except Exception as exc:
                log(f"{name}: FAILED: {exc}")
                results[name] = {"failed": str(exc)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info = machine()
    report = {
        "date": started.isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": info,
        "settings": {
            "server": f"granian x{args.workers} ({args.threads} thread(s) each)",
            "load": f"{wrk_version().split(' [')[0]}, {CONNECTIONS} connections, {args.duration:g} s each",
            "host": HOST,
        },
        "results": results,
    }
    markdown = (
        f"{report['date']}, commit {report['commit']}, {info['cpu']} ({info['nproc']} cores);"
        f" {report['settings']['server']}; {report['settings']['load']}\n\n" + table(results)
    )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (args.out / f"scale-{stamp}.json").write_text(json.dumps(report, indent=2, default=str))
    (args.out / f"scale-{stamp}.md").write_text(markdown + "\n")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
