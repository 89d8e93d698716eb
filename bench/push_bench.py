#!/usr/bin/env python
"""Push delivery latency and capacity of ONE SOGOMS socket process.

    .venv/bin/python bench/push_bench.py                       # 100, 1,000 and 2,000 clients
    .venv/bin/python bench/push_bench.py --clients 1000,5000 --kinds user,broadcast \
        --publisher redis --rate 500 --capacity-max 0

It starts one socket server process (`python -m sogoms_site.socketserver`, as in production)
on 127.0.0.1 (a free port) serving the demo tenant from a
throw-away var directory (with `--publisher redis`, push goes through Redis), opens N lean
WebSocket clients in this process and, per kind, publishes from a process of its own:

- user: each client N subscribes to its own `prokov/user/<N>/notifications`; one event per
  client, at `--rate` per second;
- broadcast: every client subscribes to `prokov/broadcast/notifications`; `--broadcasts`
  events at `--broadcast-rate`, each for every client.

Per delivery it measures end to end (from just before the publish call to the frame's
arrival) and delivery (from the event's `ts`, stamped as it is published, to arrival), and
per run the CPU seconds of the server and of this process. Then, unless
`--capacity-max 0`, it opens clients in steps until a step fails (or the maximum is
reached) and reports the most clients that were all connected and answered a ping. Tokens
are minted with the tenant's development secret, for users and sessions the bench writes
into the server's database first. Every wait has a timeout; traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
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
    """One socket server process on a var directory of its own (the embedded default, or Redis)."""

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
        # The production socket server (uvicorn with realtime.wsprotocol), as docs/operations.md runs it.
        command = [sys.executable, "-m", "sogoms_site.socketserver", "--host", HOST]
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


class LeanClient(asyncio.Protocol):
    """A WebSocket client that only notes the arrival time and text of each frame.

    The latency runs hold thousands of these in the bench process, on the same two cores
    as the server: a full client library costs more CPU per frame than the server does,
    and its backlog would be measured as latency. While `recording` (the events' run) a
    read only notes its time and bytes; `parse_recorded` takes the frames out afterwards.
    """

    def __init__(self, host: str, path: str, token: str) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: bearer, {token}\r\n\r\n"
        ).encode()
        self.buffer = b""
        self.upgraded = False
        self.frames: list[tuple[float, bytes]] = []  # (wall-clock arrival, text)
        self.recording = False
        self.recorded: list[tuple[float, bytes]] = []  # (wall-clock arrival, bytes read)
        self.pongs = asyncio.Queue()
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.open: asyncio.Future = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if self.recording:
            self.recorded.append((time.time(), data))
            return
        self._received(time.time(), data)

    def parse_recorded(self) -> None:
        recorded, self.recorded = self.recorded, []
        for arrived, data in recorded:
            self._received(arrived, data)

    def _received(self, arrived: float, data: bytes) -> None:
        buffer: bytes | None = self.buffer + data
        if not self.upgraded:
            buffer = self._handshake(buffer)
        if buffer is not None:
            self.buffer = self._frames(buffer, arrived)

    def _handshake(self, buffer: bytes) -> bytes | None:
        """What follows the server's answer, or None while it is not all here (or refused)."""
        head, found, rest = buffer.partition(b"\r\n\r\n")
        if not found:
            self.buffer = head
            return None
        if not head.startswith(b"HTTP/1.1 101"):
            self._closed(RuntimeError(f"handshake refused: {head[:60]!r}"))
            return None
        self.upgraded = True
        self.open.set_result(True)
        return rest

    def _frames(self, buffer: bytes, arrived: float) -> bytes:
        """Takes the whole frames out of `buffer` (server frames are not masked); returns the rest."""
        start, end = 0, len(buffer)
        while end - start >= 2:
            opcode, length = buffer[start] & 0x0F, buffer[start + 1] & 0x7F
            header = {126: 4, 127: 10}.get(length, 2)
            if end - start < header:
                break
            if header > 2:
                length = int.from_bytes(buffer[start + 2 : start + header], "big")
            if end - start < header + length:
                break
            payload = buffer[start + header : start + header + length]
            start += header + length
            if opcode == 1 and payload == b'{"type":"pong"}':
                self.pongs.put_nowait(time.time())
            elif opcode == 1:
                self.frames.append((arrived, payload))
            elif opcode == 8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self._closed(RuntimeError(f"closed by the server with {code}"))
            elif opcode == 9:
                self._write(0xA, payload)
        return buffer[start:]

    def connection_lost(self, exc) -> None:
        self._closed(exc or RuntimeError("connection lost"))

    def _closed(self, exc: BaseException) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)
        if not self.open.done():
            self.open.set_exception(RuntimeError(f"not opened: {exc!r}"))
        self.pongs.put_nowait(None)

    def _write(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        length = len(payload)
        header = bytes([0x80 | opcode]) + (
            bytes([0x80 | length]) if length < 126 else bytes([0x80 | 126]) + length.to_bytes(2, "big")
        )
        masked = int.from_bytes(payload, "big") ^ int.from_bytes((mask * (length // 4 + 1))[:length], "big")
        assert self.transport is not None
        self.transport.write(header + mask + masked.to_bytes(length, "big"))

    def send_text(self, text: str) -> None:
        self._write(0x1, text.encode())

    async def ping(self, timeout: float) -> None:
        self.send_text('{"type":"ping"}')
        if await asyncio.wait_for(self.pongs.get(), timeout) is None:
            raise RuntimeError(f"no pong: {self.closed.result()!r}")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_lean_clients(port: int, token, user_ids: list[int], topics, timeout: float) -> list:
    """One LeanClient per user, subscribed to `topics(user_id)` (a pong says so)."""
    gate = asyncio.Semaphore(100)
    loop = asyncio.get_running_loop()

    async def one(user_id: int) -> LeanClient:
        async with gate:
            _, client = await loop.create_connection(
                lambda: LeanClient(f"{HOST}:{port}", "/api/ws", token(user_id)), HOST, port
            )
            await asyncio.wait_for(client.open, timeout)
            for topic in topics(user_id):
                client.send_text(json.dumps({"type": "subscribe", "topic": topic}))
            await client.ping(timeout)
            return client

    return list(await asyncio.gather(*(one(user_id) for user_id in user_ids)))


PUBLISHER = f"""
import json, sys, time, http.client

import django

django.setup()
from realtime import services

how, kind, rate, port, admin = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
keys = json.loads(sys.stdin.read())
connection = http.client.HTTPConnection("{HOST}", port, timeout=30)
headers = {{"Content-Type": "application/json", "Authorization": f"Bearer {{admin}}"}}
sent, errors = {{}}, []
start = time.perf_counter()
for index, key in enumerate(keys):
    delay = start + index / rate - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    data = {{"n": key}} if kind == "user" else {{"b": key}}
    sent[key] = time.time()
    if how == "redis":
        if kind == "user":
            services.notify_user(app="{APP}", user_id=key, channel="notifications", data=data)
        else:
            services.broadcast(app="{APP}", channel="notifications", data=data)
        continue
    path, body = ("/api/_push/notify", {{"user_id": key, "channel": "notifications", "data": data}})
    if kind == "broadcast":
        path, body = "/api/_push/broadcast", {{"channel": "notifications", "data": data}}
    try:
        connection.request("POST", path, json.dumps(body), headers)
        response = connection.getresponse()
        response.read()
        if response.status != 202:
            errors.append(f"answered {{response.status}}")
    except (OSError, http.client.HTTPException) as exc:
        errors.append(repr(exc))
        connection.close()
        connection = http.client.HTTPConnection("{HOST}", port, timeout=30)
seconds = time.perf_counter() - start
print(json.dumps({{"sent": sent, "errors": errors, "seconds": seconds}}))
"""


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def latency_run(server: Server, token, clients: int, kind: str, args) -> dict:
    """`kind` user: one event per client, on its own topic; broadcast: `--broadcasts` events,
    each to every client (all subscribed to the app's broadcast topic)."""
    timeout = args.timeout
    user_ids = list(range(1, clients + 1))
    await asyncio.to_thread(server.seed, 1, clients)
    await asyncio.to_thread(server.seed, ADMIN_ID, 1, "admin")

    def topics(user_id: int) -> list[str]:
        if kind == "user":
            return [f"{APP}/user/{user_id}/notifications"]
        return [f"{APP}/broadcast/notifications"]

    opened = time.perf_counter()
    sockets = await open_lean_clients(server.port, token, user_ids, topics, timeout)
    log(f"{clients} clients subscribed in {time.perf_counter() - opened:.0f} s")
    server_rss = process_rss_mib(server.process.pid)
    keys = user_ids if kind == "user" else list(range(args.broadcasts))
    rate = args.rate if kind == "user" else args.broadcast_rate
    expected = len(keys) if kind == "user" else len(keys) * clients
    await asyncio.sleep(0.5)
    for socket_ in sockets:
        socket_.recording = True
    client_cpu, server_cpu = time.process_time(), process_cpu_seconds(server.process.pid)
    publisher = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PUBLISHER,
        args.publisher,
        kind,
        str(rate),
        str(server.port),
        token(ADMIN_ID, "admin"),
        cwd=REPO,
        env=server.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    out, _ = await publisher.communicate(json.dumps(keys).encode())
    published = json.loads(out)
    deadline = time.time() + timeout
    while time.time() < deadline:
        await asyncio.sleep(0.05)
        for socket_ in sockets:
            socket_.parse_recorded()
        if sum(len(socket_.frames) for socket_ in sockets) >= expected:
            break
    client_cpu = time.process_time() - client_cpu
    server_cpu = process_cpu_seconds(server.process.pid) - server_cpu
    sent = {int(key): value for key, value in published["sent"].items()}
    end_to_end: list[float] = []
    delivery: list[float] = []
    for socket_ in sockets:
        for arrived, payload in socket_.frames:
            frame = json.loads(payload)
            key = frame["data"]["n"] if kind == "user" else frame["data"]["b"]
            end_to_end.append((arrived - sent[key]) * 1000)
            stamped = datetime.fromisoformat(frame["ts"].replace("Z", "+00:00")).timestamp()
            delivery.append(max(0.0, (arrived - stamped) * 1000))
    closed = [socket_.closed.result() for socket_ in sockets if socket_.closed.done()]
    for socket_ in sockets:
        socket_.close()
    span = max(sent.values()) - min(sent.values()) if len(sent) > 1 else 0
    return {
        "kind": kind,
        "clients": clients,
        "events": len(keys),
        "deliveries_expected": expected,
        "published_per_second": round(len(keys) / published["seconds"]),
        "asked_per_second": rate,
        "received": len(end_to_end),
        "lost": expected - len(end_to_end),
        "publish_errors": len(published["errors"]),
        "first_errors": sorted(set(published["errors"]))[:3],
        "sockets_closed": len(closed),
        "closed_because": sorted({repr(item)[:120] for item in closed})[:3],
        "end_to_end_p50_ms": round(percentile(end_to_end, 0.50), 1) if end_to_end else None,
        "end_to_end_p99_ms": round(percentile(end_to_end, 0.99), 1) if end_to_end else None,
        "end_to_end_max_ms": round(max(end_to_end), 1) if end_to_end else None,
        "delivery_p50_ms": round(percentile(delivery, 0.50), 1) if delivery else None,
        "delivery_p99_ms": round(percentile(delivery, 0.99), 1) if delivery else None,
        "publish_span_s": round(span, 2),
        "server_cpu_s": round(server_cpu, 2),
        "client_cpu_s": round(client_cpu, 2),
        "server_rss_mib": server_rss,
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
        "--kinds",
        default="user",
        help="user: one event per client on its own topic; broadcast: --broadcasts events to every client",
    )
    parser.add_argument(
        "--publisher",
        choices=("http", "redis"),
        default="http",
        help="http: POST _push/notify or _push/broadcast to the socket process itself (embedded, no "
        "Redis); redis: a process of its own publishes through realtime.services, as a worker or an "
        "HTTP worker would, to the socket process through Redis",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="with --publisher redis")
    parser.add_argument("--rate", type=float, default=100, help="user: events per second asked for")
    parser.add_argument("--broadcasts", type=int, default=20, help="broadcast: events, each to every client")
    parser.add_argument("--broadcast-rate", type=float, default=5, help="broadcast: events per second")
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
            for kind in args.kinds.split(","):
                log(f"latency: {clients} clients, {kind}")
                result = asyncio.run(latency_run(server, token, clients, kind, args))
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
    print(
        "| kind | clients | events | published/s | deliveries | received | lost "
        "| end to end p50 / p99 / max ms | delivery p50 / p99 ms | server / client CPU s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in results:
        print(
            f"| {row['kind']} | {row['clients']:,} | {row['events']:,} | {row['published_per_second']:,} | "
            f"{row['deliveries_expected']:,} | {row['received']:,} | {row['lost']:,} | "
            f"{row['end_to_end_p50_ms']} / {row['end_to_end_p99_ms']} / {row['end_to_end_max_ms']} | "
            f"{row['delivery_p50_ms']} / {row['delivery_p99_ms']} | "
            f"{row['server_cpu_s']} / {row['client_cpu_s']} |"
        )
    if capacity is not None:
        steps = f"steps of {args.capacity_step}, at most {args.capacity_max}"
        print(f"\nmost clients held by one process: {capacity:,} ({steps})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
