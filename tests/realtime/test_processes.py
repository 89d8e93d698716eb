"""End to end on real servers: a write through one process reaches a socket held on another.

Two uvicorn processes share the Redis channel layer (REDIS_URL); the embedded case is one
process with the in-memory layer. Sockets are real WebSocket clients (websockets).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import pytest
from websockets.asyncio.client import connect

from tests.realtime.conftest import require_service
from tests.realtime.servers import call, free_port, prepare_site, register, uvicorn


async def next_frame(socket_, timeout: float = 5) -> dict:
    return json.loads(await asyncio.wait_for(socket_.recv(), timeout))


async def listen_then_write(socket_address: str, write_address: str, user_id: int, token: str) -> dict:
    url = f"ws://{socket_address}/api/ws"
    async with connect(url, subprotocols=["bearer", token], open_timeout=5) as socket_:
        assert socket_.subprotocol == "bearer"
        await socket_.send(json.dumps({"type": "subscribe", "topic": f"alpha/user/{user_id}/projects"}))
        await socket_.send('{"type":"ping"}')
        assert await next_frame(socket_) == {"type": "pong"}
        status, body = await asyncio.to_thread(
            call, write_address, "POST", "/api/projects", {"name": "X"}, token
        )
        assert status == 201, body
        event = await next_frame(socket_)
        assert event["data"]["id"] == body["data"]["insert_id"]
        return event


def test_a_write_on_one_process_reaches_a_socket_on_another_through_redis(tmp_path):
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
            pytest.fail("REDIS_URL is not set")
        pytest.skip("needs REDIS_URL (the Redis channel layer)")
    require_service("Redis", redis_url, 6379)
    env = prepare_site(tmp_path, redis_url=redis_url, channel_prefix=f"sogoms-test-{uuid.uuid4().hex[:12]}")
    with uvicorn(env, free_port()) as first, uvicorn(env, free_port()) as second:
        user_id, token = register(first, f"two-{uuid.uuid4().hex[:8]}@example.com")
        event = asyncio.run(listen_then_write(second, first, user_id, token))
    assert event["topic"] == f"alpha/user/{user_id}/projects"
    assert event["data"]["action"] == "create"


def test_in_the_embedded_default_a_write_reaches_a_socket_of_the_same_process(tmp_path):
    env = prepare_site(tmp_path)
    with uvicorn(env, free_port()) as server:
        user_id, token = register(server, "embedded@example.com")
        event = asyncio.run(listen_then_write(server, server, user_id, token))
    assert event["topic"] == f"alpha/user/{user_id}/projects"


def test_a_real_client_sees_the_close_code_of_a_refused_token(tmp_path):
    env = prepare_site(tmp_path)

    async def refused(address: str) -> tuple[int, str]:
        async with connect(f"ws://{address}/api/ws?token=nonsense", open_timeout=5) as socket_:
            await socket_.wait_closed()
            return socket_.close_code, socket_.close_reason

    with uvicorn(env, free_port()) as server:
        code, reason = asyncio.run(refused(server))
    assert (code, reason) == (4401, "the token is malformed")
