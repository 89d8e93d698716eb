#!/usr/bin/env python
"""Profile SOGOMS's `GET /api/projects?page=1&per_page=20` hot path (SQLite, 10,000 rows).

    .venv/bin/python bench/profile_list.py cprofile   # Django test client loop under cProfile
    .venv/bin/python bench/profile_list.py py-spy     # py-spy on one gunicorn+uvicorn worker under load
    .venv/bin/python bench/profile_list.py py-spy --server wsgi --workers 3   # ... on a sync worker

`cprofile` shows what the request costs in Python (middleware, auth, query building,
rendering) without the server. `py-spy` samples a real worker of the production set-up
while bench/crud_bench.py's list workload runs against it, so the cost of ASGI
(threads, sync/async switches) shows too. Both use a temp dir and stop what they start.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import crud_bench as cb

REPO = cb.REPO


def profile_test_client(requests: int, rows: int, top: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="sogoms-profile-"))
    try:
        env = {
            "SOGOMS_VAR_DIR": str(tmp / "var"),
            "SOGOMS_BASE_DIR": str(tmp),
            "SOGOMS_CONFIG_DIR": str(REPO / "config"),
            "SOGOMS_LOG_DIR": str(tmp / "var" / "log"),
        }
        full = {**cb.base_env(), **env}
        for command in ("devsecrets", "migrate"):
            cb.run([sys.executable, "manage.py", "sogoms", command], env=full)
        for key in [k for k in os.environ if k.startswith(("SOGOMS_", "DATABASE_URL", "REDIS_URL"))]:
            del os.environ[key]
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "sogoms_site.settings"
        sys.path.insert(0, str(REPO))
        import django

        django.setup()
        from django.test import Client

        client = Client(HTTP_HOST="127.0.0.1")
        tokens = {}
        for who in ("bench", "other"):
            response = client.post(
                "/api/auth/register",
                {"email": f"{who}@example.com", "password": cb.PASSWORD, "name": who},
                content_type="application/json",
            )
            tokens[who] = response.json()["data"]["token"]
        args = argparse.Namespace(rows=rows)
        engine = cb.Sogoms.__new__(cb.Sogoms)
        engine.args, engine.tmp = args, tmp
        engine.seed(int(cb.jwt_claims(tokens["bench"])["sub"]), int(cb.jwt_claims(tokens["other"])["sub"]))
        headers = {"HTTP_AUTHORIZATION": f"Bearer {tokens['bench']}"}
        url = "/api/projects?page=1&per_page=20"
        for _ in range(50):  # warm caches (models, serializers, compiled SQL)
            assert client.get(url, **headers).status_code == 200
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        for _ in range(requests):
            client.get(url, **headers)
        profiler.disable()
        elapsed = time.perf_counter() - start
        print(
            f"{requests} list requests through the Django test client:"
            f" {elapsed * 1000 / requests:.2f} ms each"
        )
        print("(cProfile inflates Python-heavy code; compare shares, not absolute times)\n")
        for sort in ("tottime", "cumulative"):
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.strip_dirs().sort_stats(sort).print_stats(top)
            text = out.getvalue()
            print(f"--- top {top} by {sort}")
            print(text[text.find("   ncalls") :])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def profile_py_spy(seconds: float, rows: int, workers: int, top: int, server: str) -> None:
    spy = shutil.which("py-spy", path=str(cb.BIN)) or shutil.which("py-spy")
    if not spy:
        raise SystemExit("py-spy is missing: .venv/bin/pip install -r bench/requirements.txt")
    args = argparse.Namespace(
        workers=workers, rows=rows, db_prefix="sogoms_bench", sogoms_env={}, server=server
    )
    tmp = Path(tempfile.mkdtemp(prefix="sogoms-profile-"))
    engine = cb.engine_class("sogoms-sqlite")(args, tmp)
    raw = tmp / "py-spy.txt"
    try:
        target = engine.start()
        worker = sorted(target.server.pids())[-1]  # a worker, not the gunicorn master

        def record() -> None:
            time.sleep(2)  # after the warm-up
            subprocess.run(
                [
                    spy,
                    "record",
                    "-p",
                    str(worker),
                    "-d",
                    str(int(seconds)),
                    "-r",
                    "200",
                    "-f",
                    "raw",
                    "-o",
                    str(raw),
                ],
                capture_output=True,
                timeout=seconds + 30,
            )

        thread = threading.Thread(target=record)
        thread.start()
        result = cb.run_loop(cb.load(target, "list", concurrency=32, warmup=2, duration=seconds + 1))
        thread.join()
        print(
            f"list under load: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.1f} ms, "
            f"p99 {result['p99_ms']:.1f} ms,"
            f" server CPU {result['server_cpu_ms_per_request']:.2f} ms/request\n"
        )
        summarize(raw, top)
    finally:
        engine.stop()
        shutil.rmtree(tmp, ignore_errors=True)


IDLE = ("Condition.wait", "_worker (concurrent", "Runner.run (asyncio", "Thread._wait_for_tstate_lock")


def summarize(raw: Path, top: int) -> None:
    """Self and inclusive shares per function of py-spy's raw (collapsed) output."""
    own, inclusive, total, idle = collections.Counter(), collections.Counter(), 0, 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        if frames[-1].startswith(IDLE):
            idle += n
            continue
        own[frames[-1]] += n
        for name in {re.sub(r":\d+\)$", ")", frame) for frame in frames}:
            inclusive[name] += n
    busy = total - idle
    print(f"{total} samples, {idle} waiting (threads blocked, event loop idle), {busy} busy\n")
    print(f"--- self time, share of busy samples (top {top})")
    for name, n in own.most_common(top):
        print(f"{100 * n / busy:5.1f}%  {name}")
    print(f"\n--- inclusive, share of busy samples (top {top * 2})")
    for name, n in inclusive.most_common(top * 2):
        print(f"{100 * n / busy:5.1f}%  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("cprofile", "py-spy"))
    parser.add_argument("--requests", type=int, default=1000, help="cprofile: requests profiled")
    parser.add_argument("--seconds", type=float, default=8, help="py-spy: seconds recorded")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--server", choices=("asgi", "wsgi"), default="asgi", help="py-spy: server kind")
    args = parser.parse_args()
    if args.mode == "cprofile":
        profile_test_client(args.requests, args.rows, args.top)
    else:
        profile_py_spy(args.seconds, args.rows, args.workers, args.top, args.server)


if __name__ == "__main__":
    main()
