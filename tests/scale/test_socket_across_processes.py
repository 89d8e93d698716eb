"""A socket held on one process hears a write made through another, on MariaDB and Redis.

Process A is the socket server (uvicorn, the ASGI entry point, as `sogoms-socket` runs
it); process B is the production HTTP server (`server_command`, 2 workers). They share
only MariaDB and Redis (cache and channel layer). Alice and Bob each hold a socket on A,
subscribed to their own projects; Alice creates a project through B: her socket gets the
event, Bob's does not (his next event is that of his own write). About 10 s.
"""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect

from tests.realtime.servers import call, free_port, register, served, sogoms_command, uvicorn
from tests.scale.processes import (
    databases,
    forget_queue,
    process_env,
    require_services,
    run_suffix,
    server_command,
    tenant_config,
)


async def next_frame(socket_, timeout: float = 5) -> dict:
    return json.loads(await asyncio.wait_for(socket_.recv(), timeout))


async def subscribed(socket_address: str, app: str, user_id: int, token: str):
    """A socket to the tenant's host, opened on `socket_address`, subscribed to the user's
    projects (the pong says the subscription was handled: frames are taken in order)."""
    address, port = socket_address.rsplit(":", 1)
    socket_ = await connect(
        f"ws://{app}.test:{port}/api/ws",
        host=address,
        port=int(port),
        proxy=None,
        subprotocols=["bearer", token],
        open_timeout=5,
    )
    await socket_.send(json.dumps({"type": "subscribe", "topic": f"{app}/user/{user_id}/projects"}))
    await socket_.send('{"type":"ping"}')
    assert await next_frame(socket_) == {"type": "pong"}
    return socket_


async def hear_writes(socket_address: str, http_address: str, app: str, alice: tuple, bob: tuple) -> dict:
    host = f"{app}.test"
    alice_socket = await subscribed(socket_address, app, *alice)
    bob_socket = await subscribed(socket_address, app, *bob)
    try:
        status, body = await asyncio.to_thread(
            call, http_address, "POST", "/api/projects", {"name": "Alice's"}, alice[1], host=host
        )
        assert status == 201, body
        alice_created = body["data"]["insert_id"]
        alice_event = await next_frame(alice_socket)
        status, body = await asyncio.to_thread(
            call, http_address, "POST", "/api/projects", {"name": "Bob's"}, bob[1], host=host
        )
        assert status == 201, body
        bob_created = body["data"]["insert_id"]
        bob_event = await next_frame(bob_socket)
        return {"alice": (alice_created, alice_event), "bob": (bob_created, bob_event)}
    finally:
        await alice_socket.close()
        await bob_socket.close()


def test_a_socket_on_process_a_hears_a_write_made_on_process_b_and_no_other_user_does(tmp_path):
    services = require_services()
    suffix = run_suffix()
    app = f"push{suffix}"
    control = f"{services.database}_s{suffix}"
    tenant_url = f"mysql://root@{services.mysql_host}:{services.mysql_port}/{control}_{{app}}"
    config = tenant_config(tmp_path, {app: None})
    with databases(services.mysql_port, control, f"{control}_{app}"):
        env = process_env(
            config, tmp_path / "var", services, control=control, tenant_url=tenant_url, suffix=suffix
        )
        sogoms_command(env, "migrate")
        http_port, socket_port = free_port(), free_port()
        try:
            with (
                (tmp_path / "http.log").open("wb") as log,
                served(server_command(2, http_port), env, http_port, log=log) as process_b,
                uvicorn(env, socket_port) as process_a,
            ):
                alice = register(process_b, f"alice@{app}.example.com", host=f"{app}.test")
                bob = register(process_b, f"bob@{app}.example.com", host=f"{app}.test")
                events = asyncio.run(hear_writes(process_a, process_b, app, alice, bob))
        finally:
            forget_queue(env)
    # Each socket's first event is its own user's write: Alice's never reached Bob's socket.
    for user, (user_id, _token) in (("alice", alice), ("bob", bob)):
        created, event = events[user]
        assert event["topic"] == f"{app}/user/{user_id}/projects"
        assert (event["data"]["action"], event["data"]["id"]) == ("create", created)
