"""Drill: Redis restarted under a running site while clients write and hold a socket.

What it does: a redis-server of the drill's own on a free port (the shared one on 6379 is
never touched) serves a real uvicorn process of the site as cache, channel layer and broker
(SQLite databases of its own). A user holds a socket subscribed to their projects; Redis
gets SIGTERM; while it is down the user creates projects and a second user registers;
Redis starts again on the same port; the user creates more, the registration is retried
until it succeeds (as a client honouring 503 and Retry-After does).

What is lost: nothing. Every answer is a 2xx or a clean 503 envelope, never a 500 (a
registration needs its rate-limit counters in Redis: it answers 503 while Redis is down);
every project answered 201 is in the table; the socket keeps working (pong and events of
its subscription) or is closed with a retry code (1012/1013) and a new one works; the
registration's welcome e-mail is one row of the outbox.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.drills.support import wait_until
from tests.realtime.servers import PASSWORD, call, free_port, prepare_site, register, uvicorn

pytestmark = pytest.mark.services

REDIS_SERVER = "/usr/bin/redis-server"
RETRY_CLOSE_CODES = {1012, 1013}  # service restart, try again later (RFC 6455)


class Redis:
    """A redis-server of this drill's own, which can be stopped and started on its port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_until(self.answers, 10), "redis-server did not start"

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@contextmanager
def own_redis(directory: Path):
    server = Redis(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def clean(status: int, body: dict) -> bool:
    """A 2xx, or a 503 with the error envelope: what a client may be answered in a fault."""
    if 200 <= status < 300:
        return body.get("success") is True
    return status == 503 and body.get("success") is False and "code" in body.get("error", {})


async def next_frame(socket_, timeout: float = 5) -> dict:
    return json.loads(await asyncio.wait_for(socket_.recv(), timeout))


def test_a_redis_restart_loses_no_write_no_mail_and_no_socket_for_good(tmp_path):
    from tests.drills.support import require_redis_server

    require_redis_server(REDIS_SERVER)
    started = time.monotonic()
    with own_redis(tmp_path) as redis_server:
        env = prepare_site(
            tmp_path, redis_url=redis_server.url, channel_prefix=f"drill-{uuid.uuid4().hex[:8]}"
        )
        with uvicorn(env, free_port()) as address:
            result = asyncio.run(drive(address, redis_server))
    answers = result["answers"]
    print(
        f"\nRedis restart: answers {[(what, status) for what, status, _ in answers]}; "
        f"{len(result['listed'])} projects listed; socket {result['socket']}; "
        f"{time.monotonic() - started:.1f} s"
    )
    assert all(clean(status, body) for _, status, body in answers), [
        a for a in answers if not clean(a[1], a[2])
    ]
    created = {
        body["data"]["insert_id"] for what, status, body in answers if what == "create" and status == 201
    }
    assert created <= set(result["listed"])
    assert result["socket"] == "kept" or result["socket"].startswith("reopened")
    with sqlite3.connect(tmp_path / "var" / "db" / "control.sqlite3") as db:
        rows = db.execute(
            "SELECT status FROM mail_outboxmessage WHERE to_email = ? AND template = 'welcome'",
            (result["late_email"],),
        ).fetchall()
    assert len(rows) == 1, f"the welcome e-mail of the late registration: {rows}"


async def still_works(socket_, create) -> str:
    """ "kept" if the socket answers a ping and still gets the events of its subscription
    (a restarted Redis may have forgotten them), else how it was closed."""
    try:
        await socket_.send('{"type":"ping"}')
        while (await next_frame(socket_, 3)).get("type") != "pong":
            pass  # events of the writes during the restart may come first
        await create("on the kept socket")
        while (await next_frame(socket_, 3)).get("type") != "event":
            pass
    except Exception as exc:  # recorded, then judged by the new socket
        return f"closed: {socket_.close_code} {socket_.close_reason} ({type(exc).__name__})"
    return "kept"


async def drive(address: str, redis_server: Redis) -> dict:
    user_id, token = await asyncio.to_thread(register, address, f"drill-{uuid.uuid4().hex[:8]}@example.com")
    answers: list[tuple[str, int, dict]] = []

    async def create(name: str) -> None:
        status, body = await asyncio.to_thread(call, address, "POST", "/api/projects", {"name": name}, token)
        answers.append(("create", status, body))

    url = f"ws://{address}/api/ws"
    topic = f"alpha/user/{user_id}/projects"
    socket_ = await connect(url, subprotocols=["bearer", token], open_timeout=5)
    await socket_.send(json.dumps({"type": "subscribe", "topic": topic}))
    await socket_.send('{"type":"ping"}')
    assert await next_frame(socket_) == {"type": "pong"}
    await create("before")
    assert (await next_frame(socket_))["topic"] == topic

    await asyncio.to_thread(redis_server.stop)
    for n in range(5):
        await create(f"during {n}")
    late_email = f"late-{uuid.uuid4().hex[:8]}@example.com"

    async def register_late() -> int:
        late = {"email": late_email, "password": PASSWORD, "name": "L"}
        status, body = await asyncio.to_thread(call, address, "POST", "/api/auth/register", late)
        answers.append(("register", status, body))
        return status

    registered = await register_late()  # its rate-limit counters live in Redis
    await asyncio.to_thread(redis_server.start)
    for n in range(5):
        await create(f"after {n}")
        await asyncio.sleep(0.2)

    while registered != 201 and len(answers) < 30:  # a client honouring 503 + Retry-After
        await asyncio.sleep(0.2)
        registered = await register_late()

    socket_state = await still_works(socket_, create)
    await socket_.close()
    if socket_state != "kept":
        assert socket_.close_code in RETRY_CLOSE_CODES, socket_state
        async with connect(url, subprotocols=["bearer", token], open_timeout=5) as fresh:
            await fresh.send(json.dumps({"type": "subscribe", "topic": topic}))
            await fresh.send('{"type":"ping"}')
            assert await next_frame(fresh) == {"type": "pong"}
            await create("on a new socket")
            assert (await next_frame(fresh))["topic"] == topic
        socket_state = f"reopened after {socket_.close_code}"
    status, body = await asyncio.to_thread(call, address, "GET", "/api/projects?per_page=100", None, token)
    assert status == 200, body
    listed = [row["id"] for row in body["data"]]
    return {"answers": answers, "listed": listed, "socket": socket_state, "late_email": late_email}
