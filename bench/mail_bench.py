#!/usr/bin/env python
"""Throughput of the e-mail outbox: a bulk send of N recipients into a local SMTP sink.

    .venv/bin/python bench/mail_bench.py --recipients 10000 --engine both --mode worker

For each control-database engine (SQLite, or MariaDB in a `--mariadb-db` database it creates
and drops) it writes a temporary config dir (one tenant whose `smtp:` block points at an
aiosmtpd sink on 127.0.0.1, no TLS, and a `bulk` template with per-recipient variables)
and a temporary SOGOMS_VAR_DIR, runs `manage.py migrate`, then in a child process with
that environment calls `mail_send_bulk` for N recipients. Delivery happens either in a
real `celery -A sogoms_site worker` (mode `worker`, `--broker-url` as the broker, its
own queue) or in the child itself, which calls `mail.delivery.deliver` on the batches the
bulk send dispatched (mode `inline`). The sink counts messages and their Message-IDs;
afterwards the script checks that it got exactly N distinct ones, that they are the
rows' ids, and that every row is `sent`. It prints a markdown table. Everything listens
on 127.0.0.1, everything it started is stopped, and each run is bounded by --timeout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
APP = "benchmail"
MYSQL = {"host": "127.0.0.1", "port": "3306", "user": "root"}
TARGET = 1000.0  # messages/s, end to end (issue 16)
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)

ROUTES = """\
app: {app}
version: "1.0"
base_path: /api
hosts: [{app}.localhost]
auth:
  jwt_secret_file: {secret}
smtp:
  host: {host}
  port: {port}
  from: news@{app}.example.com
  from_name: Bench News
  starttls: false
  timeout: 20
"""

TEMPLATE = """\
description: Bulk newsletter for the mail benchmark
subject: "{{ name }}, your {{ month }} digest (#{{ number }})"
body: |
  Hello {{ name }},

  This is the {{ month }} digest for {{ email }}: {{ count }} new items, code {{ code }}.
  {% if plan %}Your plan: {{ plan }}.{% endif %}

  The Bench team
body_html: |
  <h1>Hello {{ name }}</h1>
  <p>This is the {{ month }} digest for <strong>{{ email }}</strong>:
  {{ count }} new items, code <code>{{ code }}</code>.</p>
  {% if plan %}<p>Your plan: {{ plan }}.</p>{% endif %}
  <p>The Bench team</p>
"""


def log(message: str) -> None:
    print(f"[mail-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def run(argv: list, *, env: dict | None = None, timeout: float = 300) -> str:
    result = subprocess.run(
        [str(a) for a in argv], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, argv))} failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
    return result.stdout


def mysql_exec(sql: str) -> None:
    run(["mysql", "-h", MYSQL["host"], "-P", MYSQL["port"], "-u", MYSQL["user"], "-e", sql], timeout=60)


def base_env() -> dict:
    """The caller's environment without anything that would steer SOGOMS, Django or Celery."""
    drop = ("SOGOMS_", "DATABASE_URL", "REDIS_URL", "DJANGO_", "CELERY_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


# --------------------------------------------------------------------------- the sink


class CountingHandler:
    """aiosmtpd handler: accepts every message, keeps its Message-ID and arrival time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: list[bytes] = []
        self.first = 0.0
        self.last = 0.0

    async def handle_DATA(self, server, session, envelope) -> str:
        match = MESSAGE_ID.search(envelope.content.split(b"\r\n\r\n", 1)[0])
        now = time.monotonic()
        with self.lock:
            self.ids.append(match.group(1) if match else b"")
            if not self.first:
                self.first = now
            self.last = now
        return "250 OK"

    def count(self) -> int:
        return len(self.ids)

    def reset(self) -> None:
        with self.lock:
            self.ids = []
            self.first = self.last = 0.0


class Sink:
    """An aiosmtpd Controller on 127.0.0.1 in a thread of this (otherwise idle) process."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.handler = CountingHandler()
        self.controller = Controller(self.handler, hostname=HOST, port=self.port, ready_timeout=10)

    def __enter__(self) -> Sink:
        self.controller.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.controller.stop()


# --------------------------------------------------------------------------- processes


class Worker:
    """`celery -A sogoms_site worker` in its own session, so it is stopped as a group."""

    def __init__(self, env: dict, queue: str, pool: str, concurrency: int, log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115  (closed in stop())
        argv = [
            str(BIN / "celery"),
            "-A",
            "sogoms_site",
            "worker",
            "--pool",
            pool,
            "-c",
            str(concurrency),
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
        ]
        self.proc = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the celery worker exited at start:\n{self.tail()}")
            if " ready." in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"the celery worker was not ready within {timeout}s:\n{self.tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of the live processes of one process group."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[2]) == pgid:  # fields[0] is the state, then ppid, pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def clear_queue(queue: str, broker_url: str) -> None:
    """Delete the broker keys of our own queue in the broker's Redis database (nothing else)."""
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        client.delete(queue, f"_kombu.binding.{queue}")
    finally:
        client.close()


# --------------------------------------------------------------------------- one run


@dataclass
class Result:
    engine: str
    mode: str
    recipients: int
    queue_s: float = 0.0
    deliver_s: float = 0.0  # end of the bulk call until the sink had N messages
    total_s: float = 0.0  # start of the bulk call until the sink had N messages
    received: int = 0
    distinct: int = 0
    statuses: dict = field(default_factory=dict)
    ids_match: bool = False
    queries_per_message: float | None = None
    sink_cpu_s: float = 0.0  # CPU of this process (the sink) from the bulk call to the last message
    queue_cpu_s: float = 0.0  # CPU of the child that queued (and, inline, delivered)
    worker_cpu_s: float = 0.0  # CPU of the worker's processes from the bulk call to the last message
    note: str = ""

    @property
    def ok(self) -> bool:
        return (
            self.received == self.recipients
            and self.distinct == self.recipients
            and self.ids_match
            and self.statuses == {"sent": self.recipients}
        )


def make_config(tmp: Path, sink_port: int) -> None:
    (tmp / "config" / "routes").mkdir(parents=True)
    (tmp / "config" / "emails" / APP).mkdir(parents=True)
    (tmp / "secrets").mkdir()
    secret = tmp / "secrets" / "jwt_secret"
    secret.write_text(secrets.token_urlsafe(48))
    secret.chmod(0o600)
    routes = ROUTES.format(app=APP, secret=secret, host=HOST, port=sink_port)
    (tmp / "config" / "routes" / f"{APP}.yaml").write_text(routes)
    (tmp / "config" / "emails" / APP / "bulk.yaml").write_text(TEMPLATE)


def django_env(args, tmp: Path, engine: str) -> dict:
    env = base_env()
    env.update(
        DJANGO_SETTINGS_MODULE="sogoms_site.settings",
        SOGOMS_CONFIG_DIR=str(tmp / "config"),
        SOGOMS_VAR_DIR=str(tmp / "var"),
        SOGOMS_BASE_DIR=str(tmp),
        SOGOMS_LOG_DIR=str(tmp / "var" / "log"),
        SOGOMS_BROKER_URL=args.broker_url,
        SOGOMS_EMBEDDED_WORKER="0",
        SOGOMS_MAIL_BATCH_SIZE=str(args.batch_size),
        SOGOMS_MAIL_MAX_BULK=str(max(args.recipients, 10000)),
        PYTHONPATH=str(REPO),
    )
    if args.connections:
        env["SOGOMS_MAIL_CONNECTIONS"] = str(args.connections)
    if engine == "mariadb":
        env["DATABASE_URL"] = f"mysql://{MYSQL['user']}@{MYSQL['host']}:{MYSQL['port']}/{args.mariadb_db}"
    return env


def child(argv: list[str], env: dict, timeout: float) -> dict:
    out = run([sys.executable, __file__, *argv], env=env, timeout=timeout)
    return json.loads(out.strip().splitlines()[-1])


def wait_for_sink(sink: Sink, worker: Worker | None, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while sink.handler.count() < count and time.monotonic() < deadline:
        if worker is not None and worker.proc.poll() is not None:
            raise RuntimeError(f"the celery worker exited:\n{worker.tail()}")
        time.sleep(0.02)


def run_one(args, sink: Sink, engine: str, mode: str) -> Result:
    result = Result(engine=engine, mode=mode, recipients=args.recipients)
    tmp = Path(tempfile.mkdtemp(prefix=f"mail-bench-{engine}-"))
    worker = None
    queue = f"mail_bench_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        if engine == "mariadb":
            db = f"`{args.mariadb_db}`"
            mysql_exec(f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db} CHARACTER SET utf8mb4;")
        make_config(tmp, sink.port)
        env = django_env(args, tmp, engine)
        log(f"{engine}/{mode}: migrate")
        run([sys.executable, "manage.py", "migrate", "--no-input"], env=env)
        if mode == "worker":
            worker = Worker(env, queue, args.pool, args.concurrency, tmp / "worker.log")
            worker.wait_ready()
        sink.handler.reset()
        cpu0 = sum(os.times()[:2])
        children0 = sum(os.times()[2:4])
        worker0 = group_cpu(worker.proc.pid) if worker is not None else 0.0
        log(f"{engine}/{mode}: bulk send of {args.recipients}")
        argv = ["_send", "--mode", mode, "--recipients", str(args.recipients), "--queue", queue]
        if args.profile and mode == "inline":
            argv += ["--profile", str(Path(args.profile).resolve())]
        if args.profile_queue:
            argv += ["--profile-queue", str(Path(args.profile_queue).resolve())]
        sent = child(argv, env, args.timeout)
        result.queue_cpu_s = sum(os.times()[2:4]) - children0
        wait_for_sink(sink, worker, args.recipients, args.timeout)
        result.sink_cpu_s = sum(os.times()[:2]) - cpu0
        if worker is not None:
            result.worker_cpu_s = group_cpu(worker.proc.pid) - worker0
        handler = sink.handler
        if handler.count() < args.recipients:
            result.note = f"timed out after {args.timeout}s"
        time.sleep(0.5)  # anything extra (a duplicate) would arrive now
        with handler.lock:
            ids = list(handler.ids)
            last = handler.last
        result.queue_s = sent["queued_at"] - sent["start"]
        result.total_s = last - sent["start"]
        result.deliver_s = last - sent["queued_at"]
        result.received = len(ids)
        result.distinct = len(set(ids))
        result.queries_per_message = sent.get("queries_per_message")
        checked = child(["_verify", "--recipients", str(args.recipients)], env, args.timeout)
        result.statuses = checked["statuses"]
        result.ids_match = {i.decode() for i in ids} == set(checked["provider_ids"])
        return result
    finally:
        if worker is not None:
            worker.stop()
            if args.keep_tmp or not result.ok:
                log(f"worker log: {tmp / 'worker.log'}")
        with contextlib.suppress(Exception):
            clear_queue(queue, args.broker_url)
        if engine == "mariadb":
            try:
                mysql_exec(f"DROP DATABASE IF EXISTS `{args.mariadb_db}`")
            except Exception as exc:
                log(f"dropping {args.mariadb_db} failed: {exc}")
        if args.keep_tmp:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- children


def _django() -> None:
    import django

    django.setup()


def recipients_of(n: int) -> list:
    from mail.services import Recipient

    plans = ["", "free", "team", "business"]
    return [
        Recipient(
            f"user{i:06d}@example.org",
            f"User {i:06d}",
            {"number": i, "count": i % 97, "code": f"C{i * 7919 % 100000:05d}", "plan": plans[i % 4]},
        )
        for i in range(n)
    ]


def child_send(args) -> None:
    """Queue N messages; in inline mode deliver them here too. Prints one JSON line."""
    _django()
    from django.db import connections

    from mail import delivery, tasks
    from mail.services import mail_send_bulk
    from sogoms_site.celery import app
    from tenants.registry import registry

    tenant = registry().get(APP)
    recipients = recipients_of(args.recipients)
    batches: list[list[int]] = []
    if args.mode == "inline":
        tasks.dispatch = lambda ids: batches.append(list(ids)) or True
    else:
        app.conf.task_default_queue = args.queue  # the worker listens on this queue only
    connections["default"].ensure_connection()
    queue_profiler = None
    if args.profile_queue:
        import cProfile

        queue_profiler = cProfile.Profile()
        queue_profiler.enable()
    start = time.monotonic()
    bulk = mail_send_bulk(
        tenant=tenant, template="bulk", recipients=recipients, variables={"month": "December"}
    )
    queued_at = time.monotonic()
    if queue_profiler is not None:
        queue_profiler.disable()
        queue_profiler.dump_stats(args.profile_queue)
    out = {"start": start, "queued_at": queued_at, "count": bulk.count}
    if args.mode == "inline":
        statements = []

        def counter(execute, sql, params, many, context):
            statements.append(1)
            return execute(sql, params, many, context)

        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        with connections["default"].execute_wrapper(counter):
            for ids in batches:
                delivery.deliver(ids)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        out["delivered_at"] = time.monotonic()
        out["queries_per_message"] = len(statements) / max(bulk.count, 1)
    print(json.dumps(out))


def child_verify(args) -> None:
    """Wait (bounded) until no row is being sent, then report statuses and provider ids."""
    _django()
    from django.db.models import Count

    from mail.models import OutboxMessage, Status

    deadline = time.monotonic() + 30
    while OutboxMessage.objects.filter(status=Status.SENDING).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    statuses = dict(OutboxMessage.objects.values_list("status").annotate(n=Count("id")).order_by())
    ids = list(OutboxMessage.objects.values_list("provider_message_id", flat=True))
    print(json.dumps({"statuses": statuses, "provider_ids": ids}))


# --------------------------------------------------------------------------- report


def table(results: list[Result]) -> str:
    rows = [
        "| engine | mode | N | queue s | queue rows/s | deliver s | deliver msg/s | total s | "
        "end-to-end msg/s | check |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        check = "ok" if r.ok else f"FAIL: {r.received} received, {r.distinct} distinct, {r.statuses}"
        if r.note:
            check += f" ({r.note})"
        rows.append(
            f"| {r.engine} | {r.mode} | {r.recipients} | {r.queue_s:.2f} | {r.recipients / r.queue_s:,.0f} | "
            f"{r.deliver_s:.2f} | {r.recipients / r.deliver_s:,.0f} | {r.total_s:.2f} | "
            f"{r.recipients / r.total_s:,.0f} | {check} |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=10000, help="messages in the bulk send")
    parser.add_argument("--engine", choices=("sqlite", "mariadb", "both"), default="sqlite")
    parser.add_argument("--mode", choices=("worker", "inline", "both"), default="worker")
    parser.add_argument("--pool", choices=("threads", "prefork"), default="threads", help="worker pool")
    parser.add_argument("--concurrency", type=int, default=2, help="worker -c")
    parser.add_argument("--batch-size", type=int, default=200, help="SOGOMS_MAIL_BATCH_SIZE")
    parser.add_argument(
        "--connections", type=int, default=0, help="SOGOMS_MAIL_CONNECTIONS (default: the setting's)"
    )
    parser.add_argument("--timeout", type=float, default=600, help="bound of each step, seconds")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/9", help="Redis broker of the worker")
    parser.add_argument("--mariadb-db", default="benchmail", help="MariaDB database made and dropped")
    parser.add_argument("--profile", help="inline mode: write cProfile stats of delivery to this file")
    parser.add_argument("--profile-queue", help="write cProfile stats of the bulk send's queueing here")
    parser.add_argument(
        "--keep-tmp", action="store_true", help="keep the temp dirs (config, var, worker log)"
    )
    args = parser.parse_args()
    if not 1 <= args.recipients <= 100000:
        parser.error("--recipients must be between 1 and 100000")
    engines = ("sqlite", "mariadb") if args.engine == "both" else (args.engine,)
    modes = ("worker", "inline") if args.mode == "both" else (args.mode,)
    results = []
    with Sink() as sink:
        log(f"SMTP sink on {HOST}:{sink.port}")
        for engine in engines:
            for mode in modes:
                result = run_one(args, sink, engine, mode)
                results.append(result)
                log(f"{engine}/{mode}: {result.recipients / result.total_s:,.0f} msg/s end to end")
    print(table(results))
    for r in results:
        print(
            f"{r.engine}/{r.mode}: CPU s: sink {r.sink_cpu_s:.1f}, queueing child {r.queue_cpu_s:.1f}, "
            f"worker {r.worker_cpu_s:.1f} ({1000 * r.worker_cpu_s / r.recipients:.2f} ms a message)"
        )
        if r.queries_per_message is not None:
            print(f"{r.engine}/{r.mode}: {r.queries_per_message:.2f} SQL statements per message delivered")
    worst = min(r.recipients / r.total_s for r in results)
    met = worst >= TARGET and all(r.ok for r in results)
    print(f"target {TARGET:.0f} msg/s end to end: {'met' if met else 'NOT met'} (lowest {worst:,.0f})")
    return 0 if all(r.ok for r in results) else 1


def child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("_send", "_verify"))
    parser.add_argument("--mode", default="worker")
    parser.add_argument("--recipients", type=int, required=True)
    parser.add_argument("--queue", default="")
    parser.add_argument("--profile", default="")
    parser.add_argument("--profile-queue", default="")
    args = parser.parse_args(argv)
    (child_send if args.command == "_send" else child_verify)(args)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("_send", "_verify"):
        child_main(sys.argv[1:])
    else:
        sys.exit(main())
