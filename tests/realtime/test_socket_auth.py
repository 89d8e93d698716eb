"""Who may open the push socket: each refused token gets a close code that says why."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest

from tests.realtime.conftest import access_token, close_code, communicator, frame, open_socket, run

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


async def refused_with(host: str, **options) -> int:
    socket_ = communicator(host, **options)
    connected, _ = await socket_.connect(timeout=3)
    assert connected  # accepted, so that the close code reaches the client
    code = await close_code(socket_)
    await socket_.disconnect()
    return code


def test_a_socket_without_a_token_is_closed_with_4401():
    assert run(refused_with("alpha.test")) == 4401


def test_a_malformed_token_is_closed_with_4401():
    assert run(refused_with("alpha.test", token="not-a-jwt")) == 4401
    assert run(refused_with("alpha.test", token="a.b.c", query=True)) == 4401


def test_an_empty_bearer_subprotocol_is_closed_with_4401():
    async def scenario():
        socket_ = communicator("alpha.test")
        socket_.scope["subprotocols"] = ["bearer"]
        await socket_.connect(timeout=3)
        return await close_code(socket_)

    assert run(scenario()) == 4401


def test_an_expired_token_is_closed_with_4401(alpha, alice):
    past = int(time.time()) - 10
    claims = {"sub": alice.id, "app": "alpha", "type": "access", "jti": "x1", "iat": past - 60, "exp": past}
    token = jwt.encode(claims, alpha.jwt_secret, algorithm="HS256")
    assert run(refused_with("alpha.test", token=token)) == 4401


def test_a_token_of_another_tenant_is_closed_with_4403(beta, charlie):
    # alpha and beta share a secret in the test config: the app claim is what refuses it
    token = access_token(beta, charlie)
    assert run(refused_with("alpha.test", token=token)) == 4403


def test_a_revoked_token_is_closed_with_4401(alpha_api, alice):
    token = alpha_api.token_for("alice@example.com")
    assert alpha_api.post("auth/logout", token=token).status_code == 200
    assert run(refused_with("alpha.test", token=token)) == 4401


def test_an_unknown_host_is_closed_with_4404(alpha, alice):
    assert run(refused_with("nobody.test", token=access_token(alpha, alice))) == 4404


def test_a_socket_off_the_base_path_is_closed_with_4404(alpha, alice):
    assert run(refused_with("alpha.test", token=access_token(alpha, alice), path="/v1/ws")) == 4404


def test_a_good_token_opens_the_socket_with_the_bearer_subprotocol(alpha, alice):
    async def scenario():
        socket_ = communicator("alpha.test", token=access_token(alpha, alice))
        connected, subprotocol = await socket_.connect(timeout=3)
        await socket_.send_to(text_data='{"type":"ping"}')
        answer = await frame(socket_)
        await socket_.disconnect()
        return connected, subprotocol, answer

    assert run(scenario()) == (True, "bearer", {"type": "pong"})


def test_a_token_in_the_query_string_also_opens_the_socket(beta, charlie):
    async def scenario():
        socket_ = await open_socket("beta.test", access_token(beta, charlie), path="/v1/ws", query=True)
        await socket_.send_to(text_data='{"type":"ping"}')
        answer = await frame(socket_)
        await socket_.disconnect()
        return answer

    assert run(scenario()) == {"type": "pong"}


def test_the_socket_is_closed_when_its_token_expires(alpha, alice):
    token = access_token(alpha, alice, lifetime=timedelta(seconds=2))

    async def scenario():
        socket_ = await open_socket("alpha.test", token)
        started = time.monotonic()
        code = await close_code_within(socket_, 5)
        return code, time.monotonic() - started

    code, waited = run(scenario())
    assert code == 4401
    assert 0.5 < waited < 4


async def close_code_within(socket_, timeout: float) -> int:
    output = await socket_.receive_output(timeout=timeout)
    assert output["type"] == "websocket.close", output
    return output["code"]


def test_an_open_socket_is_closed_after_logout(alpha_api, alice, settings):
    settings.SOGOMS_PUSH_REVOCATION_CHECK_SECONDS = 1
    token = alpha_api.token_for("alice@example.com")

    async def scenario():
        from asgiref.sync import sync_to_async

        socket_ = await open_socket("alpha.test", token)
        await sync_to_async(alpha_api.post)("auth/logout", token=token)
        return await close_code_within(socket_, 4)

    assert run(scenario()) == 4401


def test_logout_closes_only_the_sockets_of_that_token(alpha_api, alice, bob, settings):
    settings.SOGOMS_PUSH_REVOCATION_CHECK_SECONDS = 1
    leaving = alpha_api.token_for("alice@example.com")
    staying = alpha_api.token_for("bob@example.com")

    async def scenario():
        from asgiref.sync import sync_to_async

        first = await open_socket("alpha.test", leaving)
        second = await open_socket("alpha.test", leaving)
        other = await open_socket("alpha.test", staying)
        await sync_to_async(alpha_api.post)("auth/logout", token=leaving)
        codes = [await close_code_within(first, 4), await close_code_within(second, 4)]
        await other.send_to(text_data='{"type":"ping"}')
        still_open = await frame(other)
        await other.disconnect()
        return codes, still_open

    codes, still_open = run(scenario())
    assert codes == [4401, 4401]
    assert still_open == {"type": "pong"}


def test_a_forged_token_claiming_another_app_is_only_invalid(charlie):
    past = int(time.time())
    claims = {"sub": charlie.id, "app": "beta", "type": "access", "jti": "x2", "iat": past, "exp": past + 60}
    token = jwt.encode(claims, "not the secret of beta, but long enough 0123456789", algorithm="HS256")
    assert run(refused_with("alpha.test", token=token)) == 4401
