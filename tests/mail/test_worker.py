"""Mail through a real Celery worker (Redis broker in CI, in memory otherwise)."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from mail import services, tasks
from mail.models import OutboxMessage, Status
from sogoms_site.celery import app as celery_app
from tests.conftest import data_of
from tests.mail.conftest import deliver_due

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def purge() -> None:
    """Drop what a test left in the queue, so the next test's worker does not run it."""
    celery_app.control.purge()


@pytest.fixture
def worker():
    purge()
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as running:
        yield running
    purge()


def wait_until(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_the_welcome_email_of_a_registration_is_sent_by_the_worker(worker, alpha_api, settings):
    data_of(alpha_api.register("worker@example.com", name="Worker"), 201)
    assert wait_until(lambda: OutboxMessage.objects.filter(status=Status.SENT).exists())
    written = "".join(p.read_text() for p in (settings.VAR_DIR / "mail" / "alpha").glob("*.log"))
    assert "Subject: Welcome, Worker" in written


def test_a_duplicated_task_sends_once_through_the_worker(worker, smtp_alpha, smtp_server):
    message = services.mail_send(tenant=smtp_alpha, to="dup@example.com", subject="Once", body="b")
    tasks.deliver.delay([message.pk])
    tasks.deliver.delay([message.pk])  # the broker handed it out twice
    assert wait_until(lambda: len(smtp_server.received) >= 1)
    time.sleep(0.5)  # time for a second send, if there were one
    assert len(smtp_server.received) == 1


def test_a_stopped_broker_loses_nothing(alpha, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:9/0")  # nothing listens there
    monkeypatch.setattr(celery_app, "_pool", None)
    started = time.monotonic()
    message = services.mail_send(tenant=alpha, to="later@example.com", subject="Later", body="b")
    assert time.monotonic() - started < 10  # the request does not hang on the broker
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert deliver_due().sent == 1  # the sweep, once a worker runs again
