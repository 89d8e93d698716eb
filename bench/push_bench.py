#!/usr/bin/env python
"""Push delivery latency and capacity of one SOGOMS process (WebSocket, in-memory layer).

    .venv/bin/python bench/push_bench.py                       # 100, 1,000 and 2,000 clients
    .venv/bin/python bench/push_bench.py --clients 1000 --capacity-max 0

It starts one uvicorn process on 127.0.0.1 (a free port) serving the demo tenant from a
throw-away var directory, opens N WebSocket clients (each user N subscribes to its own
`prokov/user/<N>/notifications`), then sends one event per client topic through
`POST /api/_push/notify` at a steady rate and measures, per event:

- end to end: from just before the POST is written to the frame's arrival;
- delivery: from the event's `ts` (stamped by the server as it publishes) to arrival.

Then, unless `--capacity-max 0`, it opens clients in steps until a step fails (or the
maximum is reached) and reports the most clients that were all connected and answered
a ping. Tokens are minted with the tenant's development secret, for users and sessions
the bench writes into the server's database first (a token is good only while its session
and user are). Every wait has a timeout; traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path

import jwt
from websockets.asyncio.client import connect

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
APP = "prokov"
ADMIN_ID = 999_999  # the publisher: a user of role admin (capacity runs use ids from 100,000)


def log(message: str) -> None:
    print(f"[push-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def raise_fd_limit() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Server:
    """One uvicorn process on a var directory of its own (the embedded default, or Redis)."""

    def __init__(self, var_dir: Path, redis_url: str = "") -> None:
        self.port = free_port()
        drop = ("DATABASE_URL", "SOGOMS_TENANT_DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
        self.env = {key: value for key, value in os.environ.items() if key not in drop}
        self.env.update(
            SOGOMS_VAR_DIR=str(var_dir),
            # the demo's secret path (var/secrets/...) then lands in this throw-away var dir
            SOGOMS_BASE_DIR=str(var_dir.parent),
            DJANGO_SETTINGS_MODULE="sogoms_site.settings",
            SOGOMS_LOG_LEVEL="WARNING",
        )
        if redis_url:
            self.env.update(REDIS_URL=redis_url, SOGOMS_CHANNEL_PREFIX=f"push-bench-{uuid.uuid4().hex[:8]}")
        manage = [sys.executable, str(REPO / "manage.py"), "sogoms"]
        for command in ("devsecrets", "migrate"):
            subprocess.run(
                [*manage, command], env=self.env, cwd=REPO, check=True, capture_output=True, timeout=300
            )
        command = [sys.executable, "-m", "uvicorn", "sogoms_site.asgi:application", "--host", HOST]
        command += ["--port", str(self.port), "--no-access-log", "--log-level", "warning"]
        self.process = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=subprocess.DEVNULL)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/health", timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None or time.time() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)

    def seed(self, first: int, count: int, role: str = "default") -> None:
        """Users first..first+count-1 of the demo tenant, each with the session `bench-<id>`."""
        command = [sys.executable, "-c", SEED, str(first), str(count), role]
        subprocess.run(command, env=self.env, cwd=REPO, check=True, capture_output=True, timeout=600)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


SEED = f"""
import sys
from datetime import timedelta

import django

django.setup()
from django.utils import timezone

from tenants.models import AuthSession
from tenants.registry import registry
from tenants.usermodel import user_model

first, count, role = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
model = user_model(registry().get("{APP}"))
ids = range(first, first + count)
model.objects.bulk_create(
    [model(id=n, email=f"bench{{n}}@example.com", password="!", name="bench", role=role) for n in ids],
    ignore_conflicts=True,
)
now = timezone.now()
AuthSession.objects.bulk_create(
    [
        AuthSession(
            id=f"bench-{{n}}", app="{APP}", user_id=n, created_at=now, last_used_at=now,
            expires_at=now + timedelta(days=1),
        )
        for n in ids
    ],
    ignore_conflicts=True,
)
"""


def token_maker(secret: str):
    now = int(time.time())

    def token(user_id: int, role: str = "default") -> str:
        claims = {"sub": user_id, "app": APP, "type": "access", "jti": uuid.uuid4().hex, "iat": now}
        claims["sid"] = f"bench-{user_id}"
        claims.update(exp=now + 3600, role=role)
        return jwt.encode(claims, secret, algorithm="HS256")

    return token


async def open_client(url: str, token: str, topic: str, timeout: float):
    socket_ = await connect(url, subprotocols=["bearer", token], open_timeout=timeout, max_queue=4)
    await socket_.send(json.dumps({"type": "subscribe", "topic": topic}))
    await socket_.send('{"type":"ping"}')
    answer = json.loads(await asyncio.wait_for(socket_.recv(), timeout))
    if answer != {"type": "pong"}:
        raise RuntimeError(f"unexpected frame {answer}")
    return socket_


async def open_clients(url: str, token, first: int, count: int, timeout: float, parallel: int = 100) -> list:
    gate = asyncio.Semaphore(parallel)

    async def one(user_id: int):
        async with gate:
            return await open_client(url, token(user_id), f"{APP}/user/{user_id}/notifications", timeout)

    return list(await asyncio.gather(*(one(first + n) for n in range(count))))


def publisher(
    port: int, admin: str, user_ids: list[int], rate: float, sent: dict, threads: int, errors: list
) -> None:
    """POST one notify per user at `rate` events/s over keep-alive connections."""
    interval = threads / rate
    chunks = [user_ids[n::threads] for n in range(threads)]

    def worker(chunk: list[int], offset: float) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {admin}"}
        start = time.perf_counter() + offset
        for index, user_id in enumerate(chunk):
            delay = start + index * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            body = json.dumps({"user_id": user_id, "channel": "notifications", "data": {"n": user_id}})
            sent[user_id] = time.perf_counter()
            try:
                connection.request("POST", "/api/_push/notify", body, headers)
                response = connection.getresponse()
                response.read()
                if response.status != 202:
                    errors.append(f"notify answered {response.status}")
            except (OSError, http.client.HTTPException) as exc:
                errors.append(repr(exc))
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=30)
        connection.close()

    workers = [threading.Thread(target=worker, args=(chunk, n / rate)) for n, chunk in enumerate(chunks)]
    for item in workers:
        item.start()
    for item in workers:
        item.join(timeout=600)


async def layer_publisher(env: dict, user_ids: list[int], sent: dict) -> None:
    """Every event at once, straight into the Redis channel layer, as a worker would publish."""
    os.environ.update(env)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from channels.layers import get_channel_layer

    from realtime.services import EVENT_MESSAGE, event_frame
    from realtime.topics import user_topic

    layer = get_channel_layer()
    for user_id in user_ids:
        topic = user_topic(APP, user_id, "notifications")
        frame = event_frame(topic, {"n": user_id})
        sent[user_id] = time.perf_counter()
        await layer.group_send(topic.group, {"type": EVENT_MESSAGE, "text": json.dumps(frame)})


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def latency_run(server: Server, token, clients: int, args) -> dict:
    rate, threads, timeout = args.rate, args.threads, args.timeout
    url = f"ws://{HOST}:{server.port}/api/ws"
    await asyncio.to_thread(server.seed, 1, clients)
    await asyncio.to_thread(server.seed, ADMIN_ID, 1, "admin")
    sockets = await open_clients(url, token, 1, clients, timeout)
    user_ids = list(range(1, clients + 1))
    sent: dict[int, float] = {}
    errors: list[str] = []
    end_to_end: list[float] = []
    delivery: list[float] = []

    async def receive(socket_) -> None:
        frame = json.loads(await asyncio.wait_for(socket_.recv(), timeout + clients / rate))
        arrived, wall = time.perf_counter(), time.time()
        user_id = frame["data"]["n"]
        end_to_end.append((arrived - sent[user_id]) * 1000)
        stamped = datetime.fromisoformat(frame["ts"].replace("Z", "+00:00")).timestamp()
        delivery.append(max(0.0, (wall - stamped) * 1000))

    receivers = [asyncio.create_task(receive(socket_)) for socket_ in sockets]
    await asyncio.sleep(0.5)
    started = time.perf_counter()
    if args.publisher == "redis":
        await layer_publisher(server.env, user_ids, sent)
    else:
        await asyncio.to_thread(
            publisher, server.port, token(ADMIN_ID), user_ids, rate, sent, threads, errors
        )
    publish_seconds = time.perf_counter() - started
    results = await asyncio.gather(*receivers, return_exceptions=True)
    failures = [result for result in results if isinstance(result, BaseException)]
    lost = len(failures)
    reasons = sorted({repr(failure)[:120] for failure in failures})[:3]
    await asyncio.gather(*(socket_.close() for socket_ in sockets), return_exceptions=True)
    return {
        "clients": clients,
        "events": len(user_ids),
        "published_per_second": round(len(user_ids) / publish_seconds),
        "received": len(end_to_end),
        "lost": lost,
        "publish_errors": len(errors),
        "first_errors": sorted(set(errors))[:3],
        "lost_because": reasons,
        "end_to_end_p50_ms": round(percentile(end_to_end, 0.50), 1) if end_to_end else None,
        "end_to_end_p99_ms": round(percentile(end_to_end, 0.99), 1) if end_to_end else None,
        "delivery_p50_ms": round(percentile(delivery, 0.50), 1) if delivery else None,
        "delivery_p99_ms": round(percentile(delivery, 0.99), 1) if delivery else None,
    }


async def capacity_run(server: Server, token, step: int, maximum: int, timeout: float) -> int:
    """The most clients that were all connected at once and all answered a ping."""
    url = f"ws://{HOST}:{server.port}/api/ws"
    held: list = []
    best = 0
    try:
        while len(held) + step <= maximum:
            try:
                await asyncio.to_thread(server.seed, 100_000 + len(held), step)
                held += await open_clients(url, token, 100_000 + len(held), step, timeout)
                pings = [socket_.ping() for socket_ in held]
                waiters = await asyncio.gather(*pings)
                await asyncio.wait_for(asyncio.gather(*waiters), timeout)
            except (OSError, TimeoutError, RuntimeError) as exc:
                log(f"capacity: the step past {best} clients failed: {exc!r}")
                break
            best = len(held)
            log(f"capacity: {best} clients held")
    finally:
        await asyncio.gather(*(socket_.close() for socket_ in held), return_exceptions=True)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="100,1000,2000", help="client counts of the latency runs")
    parser.add_argument(
        "--publisher",
        choices=("http", "redis"),
        default="http",
        help="http: POST _push/notify (embedded, in-memory layer); redis: the bench process publishes "
        "every event at once into the Redis channel layer the server uses",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="with --publisher redis")
    parser.add_argument("--rate", type=float, default=100, help="http: events per second asked for")
    parser.add_argument("--threads", type=int, default=2, help="http: publisher connections")
    parser.add_argument("--capacity-step", type=int, default=1000)
    parser.add_argument("--capacity-max", type=int, default=8000, help="0: skip the capacity run")
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "push.json")
    args = parser.parse_args()

    limit = raise_fd_limit()
    log(f"file descriptors: {limit}")
    work = Path(tempfile.mkdtemp(prefix="push-bench-", dir=REPO / "var"))
    server = Server(work / "var", args.redis_url if args.publisher == "redis" else "")
    try:
        secret = (work / "var" / "secrets" / "prokov_jwt_secret").read_text().strip()
        token = token_maker(secret)
        results = []
        for clients in [int(value) for value in args.clients.split(",") if value]:
            log(f"latency: {clients} clients")
            result = asyncio.run(latency_run(server, token, clients, args))
            log(json.dumps(result))
            results.append(result)
        capacity = None
        if args.capacity_max:
            capacity = asyncio.run(
                capacity_run(server, token, args.capacity_step, args.capacity_max, args.timeout)
            )
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "publisher": args.publisher,
        "rate": args.rate,
        "latency": results,
        "capacity": capacity,
        "capacity_max": args.capacity_max,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print("| clients | events | published/s | received | end to end p50 / p99 ms | delivery p50 / p99 ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    for row in results:
        print(
            f"| {row['clients']:,} | {row['events']:,} | {row['published_per_second']:,} | "
            f"{row['received']:,} | "
            f"{row['end_to_end_p50_ms']} / {row['end_to_end_p99_ms']} | "
            f"{row['delivery_p50_ms']} / {row['delivery_p99_ms']} |"
        )
    if capacity is not None:
        steps = f"steps of {args.capacity_step}, at most {args.capacity_max}"
        print(f"\nmost clients held by one process: {capacity:,} ({steps})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
