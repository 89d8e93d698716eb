"""Cron exactly once with two beats: two real `celery beat` processes and a worker
process with two pool processes, on MariaDB and Redis.

Each beat sends the tick every second, so two ticks a second race over the same
minutes on the two pool processes. A job of the tenant runs every minute and calls an HTTP counter
of the test. The tick also catches up minutes a stopped beat missed: the test records a
run eight minutes ago, so the first ticks of both beats race to insert the seven or
eight minutes since at once. The counter must have been called exactly once per
scheduled minute, from the one after the recorded run to the last one, every run
succeeded, and both beats must have ticked. About 20 s.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.drills.support import wait_until
from tests.realtime.servers import BASE_DIR, sogoms_command, stop_process
from tests.scale.processes import (
    databases,
    forget_queue,
    process_env,
    require_services,
    run_suffix,
    sql,
    tenant_config,
)

CAUGHT_UP_MINUTES = 8  # how long ago the recorded run was; within the look-back below
TICK_LOG_LINE = b"Sending due task cron-tick"


@contextmanager
def hit_counter() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on a free loopback port recording the path of every GET."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def celery(env: dict[str, str], log: Path, *args: str) -> Iterator[subprocess.Popen]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "sogoms_site", *args],
            cwd=BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        stop_process(process, grace=20)


def runs_of(port: int, control: str, app: str) -> list[tuple[datetime, str, str]]:
    query = "SELECT scheduled_for, status, `trigger` FROM mail_jobrun WHERE app = %s ORDER BY id"
    return [
        (minute, status, trigger) for minute, status, trigger in sql(port, query, (app,), database=control)
    ]


def test_two_beats_and_a_worker_of_two_processes_run_each_scheduled_minute_exactly_once(tmp_path):
    services = require_services()
    suffix = run_suffix()
    app = f"cron{suffix}"
    control = f"{services.database}_s{suffix}"
    tenant_url = f"mysql://root@{services.mysql_host}:{services.mysql_port}/{control}_{{app}}"
    with hit_counter() as (counter_port, hits), databases(services.mysql_port, control, f"{control}_{app}"):
        jobs = {
            "timezone": "UTC",
            "allow_hosts": ["127.0.0.1/32"],
            "jobs": {
                "ping": {
                    "schedule": "* * * * *",
                    "kind": "http",
                    "params": {"url": f"http://127.0.0.1:{counter_port}/hit", "timeout": 5},
                }
            },
        }
        config = tenant_config(tmp_path, {app: None}, cron={app: jobs})
        env = process_env(
            config, tmp_path / "var", services, control=control, tenant_url=tenant_url, suffix=suffix
        )
        env.update(SOGOMS_CRON_TICK_SECONDS="1", SOGOMS_CRON_LOOKBACK_MINUTES="10")
        sogoms_command(env, "migrate")
        recorded = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None) - timedelta(
            minutes=CAUGHT_UP_MINUTES
        )
        sql(
            services.mysql_port,
            "INSERT INTO mail_jobrun (app, job, `trigger`, scheduled_for, attempt, status, created_at,"
            " output, error) VALUES (%s, 'ping', 'schedule', %s, 1, 'succeeded', NOW(6), '', '')",
            (app, recorded),
            database=control,
        )
        try:
            with ExitStack() as processes:
                # One worker of two pool processes (the set-up docs/operations.md gives):
                # two ticks at once are taken by two processes.
                worker = (
                    "worker",
                    "--pool",
                    "prefork",
                    "--concurrency",
                    "2",
                    "-Q",
                    env["SOGOMS_SCALE_QUEUE"],
                )
                worker += ("-n", f"scale-{uuid.uuid4().hex[:6]}@%h", "-l", "info")
                processes.enter_context(celery(env, tmp_path / "worker.log", *worker))
                beats = []
                for index in range(2):
                    schedule = ("-s", str(tmp_path / f"beat{index}-schedule"))
                    pidfile = f"--pidfile={tmp_path / f'beat{index}.pid'}"
                    beat = ("beat", *schedule, pidfile, "-l", "info")
                    beats.append(processes.enter_context(celery(env, tmp_path / f"beat{index}.log", *beat)))

                def caught_up() -> bool:
                    runs = runs_of(services.mysql_port, control, app)
                    done = {minute for minute, status, _ in runs if status == "succeeded"}
                    now = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)
                    return now in done and len(done) >= CAUGHT_UP_MINUTES

                assert wait_until(caught_up, 40, 0.5), runs_of(services.mysql_port, control, app)
                time.sleep(3)  # a dozen more ticks from the two beats, over minutes already run
                for beat in beats:
                    beat.terminate()
                for beat in beats:
                    beat.wait(timeout=20)
                assert wait_until(
                    lambda: all(
                        status in {"succeeded", "failed"}
                        for _, status, _ in runs_of(services.mysql_port, control, app)
                    ),
                    20,
                    0.2,
                )
        finally:
            forget_queue(env)
        runs = runs_of(services.mysql_port, control, app)[1:]  # after the recorded one
    ticks = [(tmp_path / f"beat{index}.log").read_bytes().count(TICK_LOG_LINE) for index in range(2)]
    assert min(ticks) >= 3, f"ticks sent by each beat: {ticks}"
    minutes = [minute for minute, _, _ in runs]
    expected = [recorded + timedelta(minutes=step) for step in range(1, len(minutes) + 1)]
    assert sorted(minutes) == expected, "one run per minute since the recorded one, none missing"
    assert len(minutes) >= CAUGHT_UP_MINUTES
    assert {(status, trigger) for _, status, trigger in runs} == {("succeeded", "schedule")}
    assert len(hits) == len(runs), f"{len(hits)} calls for {len(runs)} runs"
