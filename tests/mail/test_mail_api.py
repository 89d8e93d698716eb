"""`<base>/_mail/`: role admin only, the envelope on every answer, one tenant's outbox each."""

from __future__ import annotations

import pytest

from mail.models import OutboxMessage, Status
from tests.conftest import create_user, data_of, error_of

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def admin_token(alpha, alpha_api):
    create_user(alpha, "root@example.com", role="admin")
    return alpha_api.token_for("root@example.com")


def test_it_is_for_role_admin_only(alpha_api, alice, admin_token):
    error_of(alpha_api.get("_mail/templates"), 401, "UNAUTHORIZED")
    error_of(alpha_api.get("_mail/templates", token=alpha_api.token_for(alice.email)), 403, "FORBIDDEN")
    rows = data_of(alpha_api.get("_mail/templates", token=admin_token))
    assert [row["name"] for row in rows] == [
        "digest",
        "greeting",
        "password_reset",
        "verify_email",
        "welcome",
    ]


def test_send_template_queues_and_answers_202(alpha_api, admin_token):
    body = {"to": "x@example.com", "template": "greeting", "variables": {"Name": "X", "code": "5"}}
    data = data_of(alpha_api.post("_mail/send_template", body, token=admin_token), 202)
    message = OutboxMessage.objects.get(pk=data["id"])
    assert (message.app, message.subject, message.status) == ("alpha", "Hi X", Status.QUEUED)


def test_bad_input_is_a_validation_error_with_details(alpha_api, admin_token):
    error = error_of(
        alpha_api.post("_mail/send", {"to": "x@example.com"}, token=admin_token), 400, "VALIDATION_ERROR"
    )
    assert error["details"] == {"subject": ["This field is required."]}
    missing = {"to": "x@example.com", "template": "greeting", "variables": {"Name": "X"}}
    error = error_of(
        alpha_api.post("_mail/send_template", missing, token=admin_token), 400, "VALIDATION_ERROR"
    )
    assert error["details"] == {"variables": ["missing variable 'code'"]}
    error = error_of(
        alpha_api.post("_mail/send_bulk", {"template": "greeting", "recipients": []}, token=admin_token),
        400,
        "VALIDATION_ERROR",
    )
    assert "recipients" in error["details"]
    unknown = {"to": "x@example.com", "template": "nope"}
    error_of(alpha_api.post("_mail/send_template", unknown, token=admin_token), 404, "NOT_FOUND")
    assert not OutboxMessage.objects.exists()


def test_bulk_then_the_outbox_lists_the_batch_with_counts(alpha_api, admin_token):
    body = {
        "template": "greeting",
        "variables": {"code": "1"},
        "recipients": [{"email": f"u{i}@example.com", "variables": {"Name": f"U{i}"}} for i in range(3)],
    }
    bulk = data_of(alpha_api.post("_mail/send_bulk", body, token=admin_token), 202)
    assert bulk["count"] == 3
    response = alpha_api.get(f"_mail/messages?batch={bulk['batch']}&per_page=2", token=admin_token)
    rows = data_of(response)
    meta = response.json()["meta"]
    assert (len(rows), meta["total"], meta["pages"], meta["counts"]) == (2, 3, 2, {"queued": 3})
    error_of(alpha_api.get("_mail/messages?status=bogus", token=admin_token), 400, "VALIDATION_ERROR")


def test_one_message_can_be_read_cancelled_and_requeued(alpha_api, admin_token):
    sent = data_of(
        alpha_api.post("_mail/send", {"to": "x@example.com", "subject": "S", "body": "B"}, token=admin_token),
        202,
    )
    path = f"_mail/messages/{sent['id']}"
    assert data_of(alpha_api.get(path, token=admin_token))["body_text"] == "B"
    assert data_of(alpha_api.post(f"{path}/cancel", token=admin_token))["status"] == "dead"
    error_of(alpha_api.post(f"{path}/cancel", token=admin_token), 409, "CONFLICT")
    assert data_of(alpha_api.post(f"{path}/requeue", token=admin_token), 202)["status"] == "queued"
    error_of(alpha_api.get("_mail/messages/999999", token=admin_token), 404, "NOT_FOUND")


def test_another_tenant_never_sees_this_outbox(alpha_api, beta_api, beta, admin_token):
    sent = data_of(
        alpha_api.post("_mail/send", {"to": "x@example.com", "subject": "S", "body": "B"}, token=admin_token),
        202,
    )
    create_user(beta, "boss@example.com", role="admin")
    beta_token = beta_api.token_for("boss@example.com")
    error_of(beta_api.get(f"_mail/messages/{sent['id']}", token=beta_token), 404, "NOT_FOUND")
    assert data_of(beta_api.get("_mail/messages", token=beta_token)) == []
    error_of(alpha_api.get("_mail/messages", token=beta_token), 401, "UNAUTHORIZED")
