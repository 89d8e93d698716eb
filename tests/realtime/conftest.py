"""Helpers for the push tests: sockets on the real ASGI app, tokens, and service checks.

Socket tests run the consumer in an event loop of the test (`run`) with the Channels
test communicator, on transactional databases: the consumer and the views read the
database from other threads, which only see committed rows.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from channels.testing import WebsocketCommunicator

from realtime.layer import LoopRecorder
from realtime.routing import websocket_application
from tenants.auth.tokens import TenantAccessToken

TIMEOUT = 3


def empty_tenant_tables() -> None:
    """Django's flush does not know the tenants' own tables: empty them here."""
    from crud.config import resources_of
    from crud.runtime import bound_resource
    from tenants.registry import registry
    from tenants.usermodel import user_model

    for tenant in registry():
        for name in reversed(list(resources_of(tenant))):
            bound = bound_resource(tenant, name)
            if bound is not None:
                bound.model.objects.all().delete()
        user_model(tenant).objects.all().delete()


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test runs its own event loop; the Redis layer's locks belong to the first one."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _empty_tenants(request):
    if request.node.get_closest_marker("django_db") is None:
        yield
        return
    request.getfixturevalue("_django_db_helper")
    empty_tenant_tables()
    yield
    empty_tenant_tables()


@pytest.fixture
def in_process(settings):
    """The fan-out on the in-memory layer: the frames stay in this process."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def run(coroutine):
    """Run a test's scenario on a loop of its own.

    Like asyncio.run, except that tasks left behind (the socket watch of the process) get a
    bounded time to end once cancelled: asyncio.run waits for them without limit, and one that
    never finishes its cancellation hung the whole suite."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(coroutine)
    finally:
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.wait(left, timeout=5))
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()


def access_token(tenant, user, *, role: str = "default", lifetime: timedelta | None = None) -> str:
    """An access token of a new session of `user` (the role claim is not what counts)."""
    from django.utils import timezone

    from tenants.auth.sessions import session_create

    user_id = user.id if hasattr(user, "id") else int(user)

    def create():
        return session_create(app=tenant.app, user_id=user_id, expires_at=timezone.now() + timedelta(days=1))

    session = create() if not _in_event_loop() else _in_a_thread(create)
    token = TenantAccessToken(tenant=tenant)
    token["sub"] = user_id
    token["sid"] = session.id
    token["role"] = role
    if lifetime is not None:
        token.set_exp(lifetime=lifetime)
    return str(token)


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _in_a_thread(function):
    """Database work asked for from a coroutine (the socket tests are transactional)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    def work():
        try:
            return function()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


def communicator(host: str, *, token: str | None = None, path: str = "/api/ws", query: bool = False):
    headers = [(b"host", host.encode())]
    subprotocols = None
    if token is not None and query:
        path = f"{path}?token={token}"
    elif token is not None:
        subprotocols = ["bearer", token]
    return WebsocketCommunicator(
        LoopRecorder(websocket_application()), path, headers=headers, subprotocols=subprotocols
    )


async def open_socket(host: str, token: str, **options) -> WebsocketCommunicator:
    socket_ = communicator(host, token=token, **options)
    connected, _ = await socket_.connect(timeout=TIMEOUT)
    assert connected
    return socket_


async def close_code(socket_: WebsocketCommunicator) -> int:
    """The code the server closed with (it accepts, then closes)."""
    while True:
        output = await socket_.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.close":
            return output.get("code", 1000)


async def frame(socket_: WebsocketCommunicator, timeout: float = TIMEOUT) -> dict:
    return json.loads(await socket_.receive_from(timeout=timeout))


async def subscribe(socket_: WebsocketCommunicator, *topics: str) -> None:
    """Subscribe, then ping: the pong says the subscriptions are in place."""
    for topic in topics:
        await socket_.send_to(text_data=json.dumps({"type": "subscribe", "topic": topic}))
    await socket_.send_to(text_data='{"type":"ping"}')
    answer = await frame(socket_)
    assert answer == {"type": "pong"}, answer


def require_service(name: str, url: str, default_port: int) -> tuple[str, int]:
    """Host and port of a service; unreachable: skip, or fail under SOGOMS_REQUIRE_SERVICES=1."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        message = f"{name} is not reachable at {host}:{port} ({exc})"
        if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return host, port
