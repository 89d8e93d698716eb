"""The outbox and the scheduled jobs in the operators' admin."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from mail import services
from mail.models import CronJob, JobRun, OutboxMessage, Status

pytestmark = pytest.mark.django_db(databases="__all__")
HOST = "admin.example"


@pytest.fixture
def operator(client):
    client.force_login(
        get_user_model().objects.create_superuser("root", "root@example.com", "operator pass 123")
    )
    return client


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


def test_the_jobs_page_mirrors_the_yaml_and_runs_a_job_now(operator):
    page = operator.get("/admin/mail/cronjob/", HTTP_HOST=HOST)
    assert page.status_code == 200
    assert {"greet", "digest", "paused"} <= set(
        CronJob.objects.filter(app="alpha").values_list("name", flat=True)
    )
    greet = CronJob.objects.get(app="alpha", name="greet")
    paused = CronJob.objects.get(app="alpha", name="paused")
    response = operator.post(
        "/admin/mail/cronjob/",
        {"action": "trigger", "_selected_action": [greet.pk, paused.pk]},
        HTTP_HOST=HOST,
    )
    assert response.status_code == 302
    assert list(JobRun.objects.values_list("job", "trigger")) == [("greet", "manual")]  # paused is disabled
    assert operator.get("/admin/mail/jobrun/", HTTP_HOST=HOST).status_code == 200
