"""Subscriptions and fan-out: each user hears their own topics, nothing crosses users or apps."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from realtime import services
from tests.conftest import data_of
from tests.realtime.conftest import access_token, frame, open_socket, run, subscribe

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


async def send(socket_, **message) -> None:
    await socket_.send_to(text_data=json.dumps(message))


async def nothing_arrives(socket_, wait: float = 0.3) -> bool:
    return await socket_.receive_nothing(timeout=wait)


def test_subscribing_to_another_users_topic_is_refused(alpha, alice, bob):
    async def scenario():
        socket_ = await open_socket("alpha.test", access_token(alpha, alice))
        await send(socket_, type="subscribe", topic=f"alpha/user/{bob.id}/tasks")
        refused = await frame(socket_)
        await socket_.disconnect()
        return refused

    refused = run(scenario())
    assert refused["type"] == "error"
    assert refused["code"] == "FORBIDDEN"
    assert "another user" in refused["message"]


def test_subscribing_to_another_tenants_topic_is_refused(alpha, alice):
    async def scenario():
        socket_ = await open_socket("alpha.test", access_token(alpha, alice))
        await send(socket_, type="subscribe", topic="beta/broadcast/notifications")
        refused = await frame(socket_)
        await socket_.disconnect()
        return refused

    assert run(scenario())["code"] == "FORBIDDEN"


def test_bad_frames_get_an_error_frame_and_the_socket_stays_open(alpha, alice):
    async def scenario():
        socket_ = await open_socket("alpha.test", access_token(alpha, alice))
        answers = []
        for text in ["not json", "[]", '{"type":"dance"}', '{"type":"subscribe","topic":"alpha/x"}']:
            await socket_.send_to(text_data=text)
            answers.append(await frame(socket_))
        await send(socket_, type="subscribe", topic=f"alpha/user/{alice.id}/no_such_channel")
        answers.append(await frame(socket_))
        await send(socket_, type="ping")
        answers.append(await frame(socket_))
        await socket_.disconnect()
        return answers

    answers = run(scenario())
    assert [a.get("code") for a in answers[:4]] == ["VALIDATION_ERROR"] * 4
    assert answers[4]["code"] == "NOT_FOUND"
    assert answers[5] == {"type": "pong"}


def test_a_created_row_reaches_its_owner_and_nobody_else(alpha, alpha_api, alice, bob):
    alice_token = alpha_api.token_for("alice@example.com")

    async def scenario():
        alice_socket = await open_socket("alpha.test", access_token(alpha, alice))
        bob_socket = await open_socket("alpha.test", access_token(alpha, bob))
        await subscribe(alice_socket, f"alpha/user/{alice.id}/projects")
        await subscribe(bob_socket, f"alpha/user/{bob.id}/projects", "alpha/broadcast/projects")
        response = await sync_to_async(alpha_api.post)("projects", {"name": "Launch"}, token=alice_token)
        created = data_of(response, 201)
        event = await frame(alice_socket)
        bob_heard_nothing = await nothing_arrives(bob_socket)
        await alice_socket.disconnect()
        await bob_socket.disconnect()
        return created, event, bob_heard_nothing

    created, event, bob_heard_nothing = run(scenario())
    assert event["type"] == "event"
    assert event["topic"] == f"alpha/user/{alice.id}/projects"
    assert event["data"]["resource"] == "projects"
    assert event["data"]["action"] == "create"
    assert event["data"]["id"] == created["insert_id"]
    assert "name" in event["data"]["changed"]
    assert set(event) == {"type", "topic", "data", "id", "ts"}
    assert bob_heard_nothing


def test_update_and_delete_reach_the_owner_in_order(alpha, alpha_api, alice):
    token = alpha_api.token_for("alice@example.com")

    async def scenario():
        socket_ = await open_socket("alpha.test", access_token(alpha, alice))
        await subscribe(socket_, f"alpha/user/{alice.id}/tags")
        created = await sync_to_async(alpha_api.post)("tags", {"name": "urgent"}, token=token)
        pk = data_of(created, 201)["insert_id"]
        await sync_to_async(alpha_api.call)("patch", f"tags/{pk}", {"name": "later"}, token)
        await sync_to_async(alpha_api.call)("delete", f"tags/{pk}", None, token)
        actions = [(await frame(socket_))["data"]["action"] for _ in range(3)]
        await socket_.disconnect()
        return actions

    assert run(scenario()) == ["create", "update", "delete"]


def test_two_tenants_with_the_same_user_id_hear_only_their_own_app(alpha, beta, alice, charlie):
    async def scenario():
        alpha_socket = await open_socket("alpha.test", access_token(alpha, alice))
        beta_socket = await open_socket("beta.test", access_token(beta, charlie), path="/v1/ws")
        await subscribe(alpha_socket, f"alpha/user/{alice.id}/notifications", "alpha/broadcast/notifications")
        await subscribe(beta_socket, f"beta/user/{charlie.id}/notifications", "beta/broadcast/notifications")
        await sync_to_async(services.notify_user)(
            app="beta", user_id=charlie.id, channel="notifications", data={"n": 1}
        )
        await sync_to_async(services.broadcast)(app="beta", channel="notifications", data={"n": 2})
        beta_frames = [await frame(beta_socket), await frame(beta_socket)]
        alpha_heard_nothing = await nothing_arrives(alpha_socket)
        await alpha_socket.disconnect()
        await beta_socket.disconnect()
        return beta_frames, alpha_heard_nothing

    beta_frames, alpha_heard_nothing = run(scenario())
    assert [f["data"] for f in beta_frames] == [{"n": 1}, {"n": 2}]
    assert alpha_heard_nothing


def test_a_publish_from_outside_any_request_reaches_the_socket(alpha, alice):
    """The embedded default: a service call in a plain thread of the same process."""

    async def scenario():
        socket_ = await open_socket("alpha.test", access_token(alpha, alice))
        await subscribe(socket_, f"alpha/user/{alice.id}/notifications")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            None,
            lambda: services.notify_user(app="alpha", user_id=alice.id, channel="notifications", data="hi"),
        )
        event = await frame(socket_)
        await socket_.disconnect()
        return event

    event = run(scenario())
    assert event["data"] == "hi"


def test_unsubscribe_stops_the_events(alpha, alice):
    async def scenario():
        socket_ = await open_socket("alpha.test", access_token(alpha, alice))
        topic = f"alpha/user/{alice.id}/notifications"
        await subscribe(socket_, topic)
        await send(socket_, type="unsubscribe", topic=topic)
        await send(socket_, type="ping")
        assert await frame(socket_) == {"type": "pong"}
        await sync_to_async(services.notify_user)(app="alpha", user_id=alice.id, channel="notifications")
        quiet = await nothing_arrives(socket_)
        await socket_.disconnect()
        return quiet

    assert run(scenario())
