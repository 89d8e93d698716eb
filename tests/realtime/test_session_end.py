"""A socket lives no longer than its session and its user: ending either closes it with 4401."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid

import jwt
import pytest
from channels.db import database_sync_to_async
from django.utils import timezone
from websockets.asyncio.client import connect

from tenants.auth import current
from tenants.auth.services import user_set_active
from tenants.models import AuthSession
from tenants.usermodel import user_model
from tests.conftest import go_token
from tests.realtime.conftest import access_token, close_code, open_socket, require_service, run, subscribe
from tests.realtime.servers import BASE_DIR, call, free_port, prepare_site, register, uvicorn

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


async def closed_within(socket_, seconds: float) -> tuple[int, float]:
    started = time.monotonic()
    code = await asyncio.wait_for(close_code(socket_), seconds)
    return code, time.monotonic() - started


def test_the_socket_of_a_deactivated_user_closes_within_two_seconds(settings, alpha, alice):
    settings.SOGOMS_PUSH_REVOCATION_CHECK_SECONDS = 60  # the announcement, not the fallback, closes it

    async def scenario():
        socket_ = await open_socket("alpha.test", access_token(alpha, alice))
        await subscribe(socket_, f"alpha/user/{alice.id}/projects")
        await database_sync_to_async(user_set_active)(tenant=alpha, email=alice.email, active=False)
        return await closed_within(socket_, 2)

    code, _elapsed = run(scenario())
    assert code == 4401


def test_log_out_everywhere_closes_every_socket_of_the_user_and_only_theirs(settings, alpha, alice, bob):
    settings.SOGOMS_PUSH_REVOCATION_CHECK_SECONDS = 60
    from tenants.auth.sessions import sessions_end_all

    async def scenario():
        phone = await open_socket("alpha.test", access_token(alpha, alice))
        laptop = await open_socket("alpha.test", access_token(alpha, alice))
        bobs = await open_socket("alpha.test", access_token(alpha, bob))
        await subscribe(bobs, f"alpha/user/{bob.id}/projects")
        await database_sync_to_async(sessions_end_all)(app="alpha", user_id=alice.id, reason="logout_all")
        codes = [(await closed_within(s, 2))[0] for s in (phone, laptop)]
        await subscribe(bobs)  # bob's socket still answers
        await bobs.disconnect()
        return codes

    assert run(scenario()) == [4401, 4401]


def test_a_session_ended_unannounced_is_found_by_the_periodic_check(settings, alpha, alice):
    """Another process without Redis ended it: the watch's own query finds it."""
    settings.SOGOMS_PUSH_REVOCATION_CHECK_SECONDS = 1

    async def scenario():
        token = access_token(alpha, alice)
        socket_ = await open_socket("alpha.test", token)
        sid = jwt.decode(token, options={"verify_signature": False})["sid"]
        await database_sync_to_async(
            lambda: AuthSession.objects.filter(pk=sid).update(ended_at=timezone.now(), end_reason="x")
        )()
        return await closed_within(socket_, 3)

    code, _elapsed = run(scenario())
    assert code == 4401


def test_a_frame_after_the_user_was_disabled_closes_the_socket(settings, alpha, alice):
    """Disabled behind the services' back (no session ended): the next frame reads the user."""
    settings.SOGOMS_PUSH_REVOCATION_CHECK_SECONDS = 60

    async def scenario():
        socket_ = await open_socket("alpha.test", access_token(alpha, alice))
        await subscribe(socket_)
        await database_sync_to_async(
            lambda: user_model(alpha).objects.filter(pk=alice.pk).update(is_active=False)
        )()
        current.forget_all()  # as the TTL would, a second later
        await socket_.send_to(text_data='{"type":"ping"}')
        return await closed_within(socket_, 2)

    code, _elapsed = run(scenario())
    assert code == 4401


# --- across processes -------------------------------------------------------------------


def _sogoms(env: dict, *args: str) -> None:
    command = [sys.executable, str(BASE_DIR / "manage.py"), "sogoms", *args]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120, cwd=BASE_DIR)


async def _closed_after_command(address: str, token: str, env: dict, *args: str) -> tuple[int, float]:
    async with connect(f"ws://{address}/api/ws", subprotocols=["bearer", token], open_timeout=5) as socket_:
        await socket_.send('{"type":"ping"}')
        assert json.loads(await asyncio.wait_for(socket_.recv(), 5)) == {"type": "pong"}
        await asyncio.to_thread(_sogoms, env, *args)
        done = time.monotonic()
        await asyncio.wait_for(socket_.wait_closed(), 10)
        return socket_.close_code, time.monotonic() - done


def test_disabling_from_another_process_closes_the_socket_through_redis(tmp_path):
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
            pytest.fail("REDIS_URL is not set")
        pytest.skip("needs REDIS_URL (pub/sub between processes)")
    require_service("Redis", redis_url, 6379)
    env = prepare_site(tmp_path, redis_url=redis_url, channel_prefix=f"sogoms-test-{uuid.uuid4().hex[:12]}")
    env.update(SOGOMS_PUSH_REVOCATION_CHECK_SECONDS="60", SOGOMS_AUTH_STATE_SECONDS="60")
    email = f"gone-{uuid.uuid4().hex[:8]}@example.com"
    with uvicorn(env, free_port()) as server:
        _user_id, token = register(server, email)
        code, elapsed = asyncio.run(
            _closed_after_command(server, token, env, "users", "disable", "alpha", email)
        )
        # The HTTP side of the same process heard it too, long before its 60 s cache would expire.
        status, _body = call(server, "GET", "/api/auth/me", None, token)
    assert code == 4401
    assert elapsed < 2
    assert status == 401


def test_in_the_embedded_default_a_command_ends_the_socket_within_two_seconds(tmp_path):
    env = prepare_site(tmp_path)
    email = "embedded-gone@example.com"
    with uvicorn(env, free_port()) as server:
        _user_id, token = register(server, email)
        code, elapsed = asyncio.run(
            _closed_after_command(server, token, env, "users", "logout", "alpha", email)
        )
    assert code == 4401
    assert elapsed < 3.5  # the default check every 2 s (no Redis to hear the command), and a query


@pytest.mark.parametrize("ending", ["deactivated", "logged out everywhere"])
def test_a_socket_of_a_go_era_token_closes_when_its_user_ends_it(settings, beta, charlie, ending):
    """No session to end: the watch checks such a socket against its user."""
    from tenants.auth.services import user_logout_everywhere

    settings.SOGOMS_PUSH_REVOCATION_CHECK_SECONDS = 60  # the announcement wakes the check

    async def scenario():
        socket_ = await open_socket("beta.test", go_token(beta, charlie), path="/v1/ws")
        await subscribe(socket_, f"beta/user/{charlie.id}/projects")
        if ending == "deactivated":
            await database_sync_to_async(user_set_active)(tenant=beta, email=charlie.email, active=False)
        else:
            await database_sync_to_async(user_logout_everywhere)(tenant=beta, email=charlie.email)
        return await closed_within(socket_, 2)

    code, _elapsed = run(scenario())
    assert code == 4401
