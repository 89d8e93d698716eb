"""Server-side publishing: the _push endpoints (role admin), the command, the broadcast rule."""

from __future__ import annotations

import io

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.conftest import create_user, data_of, error_of
from tests.realtime.conftest import access_token, frame, open_socket, run, subscribe

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def admin_token(alpha, alpha_api):
    create_user(alpha, "root@example.com", role="admin")
    return alpha_api.token_for("root@example.com")


def test_notify_from_the_api_reaches_the_user(alpha, alpha_api, alice, admin_token):
    async def scenario():
        socket_ = await open_socket("alpha.test", access_token(alpha, alice))
        await subscribe(socket_, f"alpha/user/{alice.id}/notifications")
        body = {"user_id": alice.id, "channel": "notifications", "data": {"text": "hello"}}
        response = await sync_to_async(alpha_api.post)("_push/notify", body, token=admin_token)
        event = await frame(socket_)
        await socket_.disconnect()
        return data_of(response, 202), event

    sent, event = run(scenario())
    assert event["data"] == {"text": "hello"}
    assert event["id"] == sent["id"]
    assert sent["topic"] == f"alpha/user/{alice.id}/notifications"


def test_publish_and_broadcast_from_the_api_reach_subscribers(alpha, alpha_api, alice, admin_token):
    async def scenario():
        socket_ = await open_socket("alpha.test", access_token(alpha, alice))
        await subscribe(socket_, "alpha/broadcast/chat", f"alpha/user/{alice.id}/comments")
        post = sync_to_async(alpha_api.post)
        data_of(await post("_push/broadcast", {"channel": "chat", "data": [1]}, token=admin_token), 202)
        topic = f"alpha/user/{alice.id}/comments"
        data_of(await post("_push/publish", {"topic": topic, "data": "c"}, token=admin_token), 202)
        frames = [await frame(socket_), await frame(socket_)]
        await socket_.disconnect()
        return frames

    frames = run(scenario())
    assert [(f["topic"], f["data"]) for f in frames] == [
        ("alpha/broadcast/chat", [1]),
        (f"alpha/user/{alice.id}/comments", "c"),
    ]


def test_the_push_endpoints_are_for_role_admin(alpha_api, alice):
    token = alpha_api.token_for("alice@example.com")
    for path, body in [
        ("_push/publish", {"topic": "alpha/broadcast/chat"}),
        ("_push/notify", {"user_id": 1, "channel": "chat"}),
        ("_push/broadcast", {"channel": "chat"}),
    ]:
        error_of(alpha_api.post(path, body, token=token), 403, "FORBIDDEN")
        error_of(alpha_api.post(path, body), 401, "UNAUTHORIZED")


def test_bad_push_input_is_a_validation_error_with_details(alpha_api, admin_token):
    post = alpha_api.post
    error = error_of(
        post("_push/publish", {"topic": "beta/broadcast/chat"}, token=admin_token), 400, "VALIDATION_ERROR"
    )
    assert "topic" in error["details"]
    error = error_of(
        post("_push/notify", {"channel": "chat", "extra": 1}, token=admin_token), 400, "VALIDATION_ERROR"
    )
    assert set(error["details"]) == {"user_id", "extra"}
    error = error_of(post("_push/broadcast", {"channel": "nope"}, token=admin_token), 400, "VALIDATION_ERROR")
    assert "no channel 'nope'" in error["details"]["topic"][0]
    error = error_of(
        post("_push/publish", {"topic": "alpha/user/x/chat"}, token=admin_token), 400, "VALIDATION_ERROR"
    )
    assert "not a user id" in error["details"]["topic"][0]


def test_a_resource_with_broadcast_reaches_every_listener_of_the_app(alpha, alpha_api, alice, bob):
    token = alpha_api.token_for("alice@example.com")

    async def scenario():
        bob_socket = await open_socket("alpha.test", access_token(alpha, bob))
        await subscribe(bob_socket, "alpha/broadcast/statuses")
        await sync_to_async(alpha_api.post)("statuses", {"name": "Doing"}, token=token)
        event = await frame(bob_socket)
        await bob_socket.disconnect()
        return event

    event = run(scenario())
    assert event["topic"] == "alpha/broadcast/statuses"
    assert event["data"]["action"] == "create"


def test_a_resource_turned_off_publishes_nothing(alpha, alpha_api, alice):
    token = alpha_api.token_for("alice@example.com")

    async def scenario():
        socket_ = await open_socket("alpha.test", access_token(alpha, alice))
        await subscribe(socket_, f"alpha/user/{alice.id}/task_tags", f"alpha/user/{alice.id}/tags")
        post = sync_to_async(alpha_api.post)
        project = data_of(await post("projects", {"name": "P"}, token=token), 201)["insert_id"]
        task = data_of(await post("tasks", {"title": "T", "project_id": project}, token=token), 201)[
            "insert_id"
        ]
        tag = data_of(await post("tags", {"name": "x"}, token=token), 201)["insert_id"]
        data_of(await post("task_tags", {"task_id": task, "tag_id": tag}, token=token), 201)
        first = await frame(socket_)  # the tag; the link publishes nothing
        quiet = await socket_.receive_nothing(timeout=0.3)
        await socket_.disconnect()
        return first, quiet

    first, quiet = run(scenario())
    assert first["topic"] == f"alpha/user/{alice.id}/tags"
    assert quiet


def test_the_push_command_sends_and_refuses_bad_input(alpha, alice):
    out = io.StringIO()

    async def scenario():
        socket_ = await open_socket("alpha.test", access_token(alpha, alice))
        await subscribe(socket_, f"alpha/user/{alice.id}/notifications")
        command = ["sogoms", "push", "notify", "alpha", str(alice.id), "notifications", "--data", '{"a":1}']
        await sync_to_async(call_command)(*command, stdout=out)
        event = await frame(socket_)
        await socket_.disconnect()
        return event

    assert run(scenario())["data"] == {"a": 1}
    assert f"on alpha/user/{alice.id}/notifications" in out.getvalue()
    out = io.StringIO()
    with pytest.raises(CommandError, match="sogoms push failed"):
        call_command("sogoms", "push", "broadcast", "alpha", "no_such_channel", stdout=out)
    assert "refused: alpha has no channel 'no_such_channel'" in out.getvalue()
    out = io.StringIO()
    with pytest.raises(CommandError, match="sogoms push failed"):
        call_command(
            "sogoms", "push", "publish", "alpha", "alpha/broadcast/chat", "--data", "{bad", stdout=out
        )
    assert "--data is not JSON" in out.getvalue()
