#!/usr/bin/env python
"""Throughput of the production HTTP server with 1, 2 and 4 workers, on MariaDB and Redis.

    flock /tmp/sogoms-bench.lock .venv/bin/python bench/scale_out.py --client netns

The server is the production one (sogoms_site.serving's command, as `make serve-prod`
runs it; tests/scale/processes.py), or the template in SOGOMS_SERVER_COMMAND / --server-command
(fields {bin}, {workers}, {host}, {port}), so a change of server is measured as it is.
It serves this checkout's config/ (tenant prokov) with the control database and the
tenant's on MariaDB (127.0.0.1:3306, root; databases `<prefix>` and `<prefix>_prokov`,
created and dropped) and Redis (--redis-url; the keys it wrote are deleted after).

One benchmark user owns --rows projects (inserted with SQL) and a second user five.
For each round and each worker count (the order turns every round, so no count always
runs first), a fresh server starts, gets a two-second warm-up, then wrk runs each
workload for --duration seconds at --concurrency connections: `show` (one project),
`list` (`?page=1&per_page=20`) and `create`. It prints a markdown table of req/s per
round and the p99 of each, and writes it with the raw results to var/bench/.

--client netns puts wrk in a network namespace of its own, joined to the server's by a
veth pair (the server binds the veth's address): the requests cross a network interface
as they would from another host, though the CPUs are still the same two. --client local
runs wrk on 127.0.0.1. Needs root for netns, and wrk (`apt-get install -y wrk`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
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
sys.path.insert(0, str(REPO))

from tests.scale.processes import server_command  # noqa: E402

OUT_DIR = REPO / "var" / "bench"
TENANT_HOST = "prokov.localhost"
PASSWORD = "correct horse battery"  # noqa: S105  (throw-away bench accounts)
WORKLOADS = ("show", "list", "create")
SEED_TS = "2026-12-06 00:00:00.000000"

# wrk script: METHOD, TOKEN, BODY from the environment; in BODY every %N becomes a number
# unique to the request (creates must not clash on the (user_id, name) unique rule).
LUA = r"""
local method = os.getenv("METHOD") or "GET"
local token = os.getenv("TOKEN")
local body = os.getenv("BODY")
local counter, tid, threads = 0, 0, {}
setup = function(thread) thread:set("tid", #threads + 1); table.insert(threads, thread) end
init = function(args) tid = tonumber(wrk.thread:get("tid")) or 0 end
request = function()
  counter = counter + 1
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  if token and token ~= "" then headers["Authorization"] = token end
  local b = nil
  if body and body ~= "" then
    b = body:gsub("%%N", tostring(tid * 100000000 + counter) .. "-" .. tostring(math.random(1, 1e9)))
    headers["Content-Type"] = "application/json"
  end
  return wrk.format(method, nil, headers, b)
end
-- errors.status: answers with a status over 399, counted by wrk itself (a table filled in
-- response() would stay in the threads' Lua states, out of done()'s reach).
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f socket_errors=%d error_statuses=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors.connect + errors.read + errors.write + errors.timeout,
    errors.status))
end
"""


def log(message: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(command: list[str], **kwargs) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stdout[-1500:]}{done.stderr[-1500:]}")
    return done.stdout


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, token: str = "") -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", "Host": TENANT_HOST}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310  (our server)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


# --------------------------------------------------------------------------- the client's place


class Client:
    """Where wrk runs: on this host (`local`) or in a network namespace (`netns`)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.namespace = f"sogoms-bench-{os.getpid()}"
        subnet = 10 + os.getpid() % 200
        self.server_host = "127.0.0.1" if kind == "local" else f"10.231.{subnet}.1"
        self.client_host = f"10.231.{subnet}.2"
        self.made = False

    def __enter__(self) -> Client:
        if self.kind == "netns":
            host_side, client_side = f"sbh{os.getpid() % 100000}", f"sbc{os.getpid() % 100000}"
            run(["ip", "netns", "add", self.namespace])
            self.made = True
            run(["ip", "link", "add", host_side, "type", "veth", "peer", "name", client_side])
            run(["ip", "link", "set", client_side, "netns", self.namespace])
            run(["ip", "addr", "add", f"{self.server_host}/30", "dev", host_side])
            run(["ip", "link", "set", host_side, "up"])
            inside = ["ip", "netns", "exec", self.namespace]
            run([*inside, "ip", "addr", "add", f"{self.client_host}/30", "dev", client_side])
            run([*inside, "ip", "link", "set", client_side, "up"])
            run([*inside, "ip", "link", "set", "lo", "up"])
        return self

    def __exit__(self, *exc) -> None:
        if self.made:  # removing the namespace removes the veth pair with it
            subprocess.run(["ip", "netns", "del", self.namespace], check=False, capture_output=True)

    def command(self, argv: list[str]) -> list[str]:
        return argv if self.kind == "local" else ["ip", "netns", "exec", self.namespace, *argv]


# --------------------------------------------------------------------------- the server


@dataclass
class Server:
    workers: int
    port: int
    process: subprocess.Popen
    argv: list[str]


def start_server(env: dict, host: str, workers: int, tmp: Path, template: str) -> Server:
    port = free_port(host)
    if template:
        os.environ["SOGOMS_SERVER_COMMAND"] = template
    argv = server_command(workers, port, host)
    output = (tmp / f"server-{workers}.log").open("ab")
    process = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop_server(Server(workers, port, process, argv))
                raise RuntimeError(f"the server did not start: see {tmp / f'server-{workers}.log'}") from None
            time.sleep(0.2)
    return Server(workers, port, process, argv)


def stop_server(server: Server) -> None:
    """SIGTERM to the server's process group (the master and its workers), SIGKILL after 20 s."""
    try:
        os.killpg(server.process.pid, signal.SIGTERM)
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
    except ProcessLookupError:
        pass


# --------------------------------------------------------------------------- data


def mysql(statement: str, database: str = "") -> list[tuple]:
    import MySQLdb

    connection = MySQLdb.connect(
        host="127.0.0.1", port=3306, user="root", database=database, charset="utf8mb4"
    )
    try:
        cursor = connection.cursor()
        cursor.execute(statement)
        rows = list(cursor.fetchall())
        connection.commit()
        return rows
    finally:
        connection.close()


def seed(base: str, prefix: str, rows: int) -> tuple[str, int]:
    """Two users through the API; --rows projects for the first with SQL. (token, a row id)."""
    import MySQLdb

    tokens = {}
    for who in ("bench", "other"):
        status, body = http(
            "POST",
            f"{base}/api/auth/register",
            {"email": f"{who}@example.com", "password": PASSWORD, "name": who},
        )
        if status != 201:
            raise RuntimeError(f"register {who}: {status} {body}")
        tokens[who] = (body["data"]["token"], body["data"]["user"]["id"])
    connection = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", database=f"{prefix}_prokov")
    try:
        cursor = connection.cursor()
        insert = (
            "INSERT INTO projects (user_id, name, description, color, position, archived, created_at,"
            " updated_at) VALUES (%s, %s, 'seeded', '#4f46e5', %s, 0, %s, %s)"
        )
        for who, count in (("other", 5), ("bench", rows)):
            user_id = tokens[who][1]
            cursor.executemany(
                insert, [(user_id, f"Project {i:05d}", i, SEED_TS, SEED_TS) for i in range(count)]
            )
        connection.commit()
        cursor.execute("SELECT id FROM projects WHERE user_id = %s ORDER BY id", (tokens["bench"][1],))
        ids = [row[0] for row in cursor.fetchall()]
    finally:
        connection.close()
    return tokens["bench"][0], ids[len(ids) // 2]


# --------------------------------------------------------------------------- measuring


@dataclass
class Result:
    round: int
    workers: int
    workload: str
    rps: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    error_statuses: int
    load: float = field(default=0.0)


def wrk(
    client: Client, lua: Path, url: str, token: str, workload: str, args: argparse.Namespace, seconds: int
) -> dict:
    env = {**os.environ, "TOKEN": f"Bearer {token}", "METHOD": "GET", "BODY": ""}
    if workload == "create":
        env.update(METHOD="POST", BODY='{"name":"c%N","description":"bench row","position":5}')
    argv = ["wrk", f"-t{args.threads}", f"-c{args.concurrency}", f"-d{seconds}s", "-s", str(lua)]
    argv += ["-H", f"Host: {TENANT_HOST}", url]
    output = run(client.command(argv), env=env)
    line = next((line for line in output.splitlines() if line.startswith("RESULT ")), "")
    if not line:
        raise RuntimeError(f"wrk printed no result: {output[-1000:]}")
    values = dict(part.split("=", 1) for part in line.split()[1:])
    return {
        "rps": float(values["rps"]),
        "p50_ms": float(values["p50_ms"]),
        "p99_ms": float(values["p99_ms"]),
        "socket_errors": int(values["socket_errors"]),
        "error_statuses": int(values["error_statuses"]),
    }


def table(results: list[Result], worker_counts: list[int], workloads: list[str], rounds: int) -> str:
    lines = ["| workers | " + " | ".join(f"{w}, req/s (p99 ms)" for w in workloads) + " |"]
    lines.append("|---:|" + "---|" * len(workloads))
    for workers in worker_counts:
        cells = []
        for workload in workloads:
            mine = sorted(
                (r for r in results if r.workers == workers and r.workload == workload), key=lambda r: r.round
            )
            cells.append(" / ".join(f"{r.rps:,.1f} ({r.p99_ms:.0f})" for r in mine))
        lines.append(f"| {workers} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Each cell: the {rounds} rounds in order, req/s (p99 ms).")
    flawed = [r for r in results if r.socket_errors or r.error_statuses]
    if not flawed:
        lines.append("No answer over 399 and no socket error in any run.")
    for r in flawed:
        lines.append(
            f"- round {r.round}, {r.workers} workers, {r.workload}: {r.error_statuses} answers over 399,"
            f" {r.socket_errors} socket errors"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=8, help="measured seconds per workload")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--rows", type=int, default=1000, help="projects of the benchmark user")
    parser.add_argument("--client", choices=("local", "netns"), default="local")
    parser.add_argument(
        "--server-command", default="", help="template of the server command (else the production one)"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--db-prefix", default="sogoms_scalebench")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    worker_counts = [int(n) for n in args.workers.split(",")]
    workloads = [w for w in args.workloads.split(",") if w]
    if unknown := set(workloads) - set(WORKLOADS):
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    if shutil.which("wrk") is None:
        parser.error("wrk is missing: apt-get install -y wrk")

    tmp = Path(tempfile.mkdtemp(prefix="sogoms-scale-"))
    lua = tmp / "bench.lua"
    lua.write_text(LUA)
    prefix = args.db_prefix
    drop = (
        "DATABASE_URL",
        "SOGOMS_TENANT_DATABASE_URL",
        "REDIS_URL",
        "DJANGO_SETTINGS_MODULE",
        "SOGOMS_CONFIG_DIR",
    )
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env.update(
        SOGOMS_VAR_DIR=str(tmp / "var"),
        SOGOMS_BASE_DIR=str(tmp),  # var/secrets/prokov_jwt_secret lands in the temp dir
        SOGOMS_CONFIG_DIR=str(REPO / "config"),
        SOGOMS_LOG_LEVEL="WARNING",
        DATABASE_URL=f"mysql://root@127.0.0.1:3306/{prefix}",
        SOGOMS_TENANT_DATABASE_URL=f"mysql://root@127.0.0.1:3306/{prefix}_{{app}}",
        REDIS_URL=args.redis_url,
    )
    apps = sorted(path.stem for path in (REPO / "config" / "routes").glob("*.yaml"))
    names = [prefix, *(f"{prefix}_{app}" for app in apps)]
    results: list[Result] = []
    server: Server | None = None
    try:
        for name in names:
            mysql(f"DROP DATABASE IF EXISTS `{name}`")
            mysql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        manage = [sys.executable, "manage.py", "sogoms"]
        for step in ("devsecrets", "check", "migrate"):
            run([*manage, step], env=env, cwd=REPO)
        with Client(args.client) as client:
            host = client.server_host
            server = start_server(env, host, 1, tmp, args.server_command)
            log(f"server: {' '.join(server.argv)}")
            token, row_id = seed(f"http://{host}:{server.port}", prefix, args.rows)
            stop_server(server)
            server = None
            paths = {
                "show": f"/api/projects/{row_id}",
                "list": "/api/projects?page=1&per_page=20",
                "create": "/api/projects",
            }
            for round_ in range(1, args.rounds + 1):
                turn = (round_ - 1) % len(worker_counts)
                for workers in worker_counts[turn:] + worker_counts[:turn]:
                    server = start_server(env, host, workers, tmp, args.server_command)
                    base = f"http://{host}:{server.port}"
                    wrk(client, lua, base + paths["show"], token, "show", args, 2)  # warm-up
                    for workload in workloads:
                        load = os.getloadavg()[0]
                        measured = wrk(
                            client, lua, base + paths[workload], token, workload, args, args.duration
                        )
                        result = Result(round_, workers, workload, load=load, **measured)
                        results.append(result)
                        log(
                            f"round {round_}, {workers} workers, {workload}: {result.rps:,.1f} req/s,"
                            f" p99 {result.p99_ms} ms, load {load:.1f}"
                        )
                    stop_server(server)
                    server = None
    finally:
        if server is not None:
            stop_server(server)
        for name in names:
            try:
                mysql(f"DROP DATABASE IF EXISTS `{name}`")
            except Exception as exc:  # the report still comes
                log(f"could not drop {name}: {exc}")
        clear_redis(args.redis_url)
        shutil.rmtree(tmp, ignore_errors=True)

    commit = run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO).strip()
    cores = os.cpu_count()
    text = (
        f"SOGOMS `{commit}`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {cores} cores, client {args.client}, "
        f"wrk -t{args.threads} -c{args.concurrency} -d{args.duration}s, {args.rows} rows\n\n"
        + table(results, worker_counts, workloads, args.rounds)
    )
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (args.out / f"scale-{stamp}.md").write_text(text + "\n")
    raw = {
        "commit": commit,
        "args": {k: str(v) for k, v in vars(args).items()},
        "results": [r.__dict__ for r in results],
    }
    (args.out / f"scale-{stamp}.json").write_text(json.dumps(raw, indent=2))
    return 0


def clear_redis(url: str) -> None:
    """Delete what the servers wrote in the bench's Redis database: SOGOMS's keys and the
    default Celery queue's welcome-mail tasks (no worker runs in the bench)."""
    import redis

    client = redis.Redis.from_url(url)
    keys = [
        *client.scan_iter("sogoms*"),
        b"celery",
        b"_kombu.binding.celery",
        b"_kombu.binding_permanent.celery",
    ]
    client.delete(*keys)


if __name__ == "__main__":
    sys.exit(main())
