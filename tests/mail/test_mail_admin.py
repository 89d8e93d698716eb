"""The outbox in the operators' admin."""

from __future__ import annotations

import pytest

from mail import services
from mail.models import OutboxMessage, Status

pytestmark = pytest.mark.django_db(databases="__all__")
HOST = "admin.example"


def test_the_outbox_lists_messages_and_its_actions_requeue_and_cancel(operator, alpha):
    queued = services.mail_send(tenant=alpha, to="q@example.com", subject="Queued one", body="b")
    page = operator.get("/admin/mail/outboxmessage/", HTTP_HOST=HOST)
    assert page.status_code == 200 and "Queued one" in page.content.decode()
    data = {"action": "cancel", "_selected_action": [queued.pk]}
    assert operator.post("/admin/mail/outboxmessage/", data, HTTP_HOST=HOST).status_code == 302
    assert OutboxMessage.objects.get(pk=queued.pk).status == Status.DEAD
    operator.post("/admin/mail/outboxmessage/", {**data, "action": "requeue"}, HTTP_HOST=HOST)
    assert OutboxMessage.objects.get(pk=queued.pk).status == Status.QUEUED
    assert operator.get("/admin/mail/outboxmessage/add/", HTTP_HOST=HOST).status_code == 403
