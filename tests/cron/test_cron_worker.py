"""Scheduled jobs through a real Celery beat and worker(s) (Redis broker in CI, memory otherwise)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from contextlib import ExitStack, contextmanager

import pytest
from celery.beat import EmbeddedService
from celery.contrib.testing.worker import start_worker
from django.db import connections

from cron.models import JobRun, RunStatus
from mail.models import OutboxMessage
from sogoms_site.celery import app as celery_app
from tests.mail.test_worker import purge, wait_until

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def beat(monkeypatch, tmp_path):
    """One beat ticking every half second (the site's default is 30 s)."""
    monkeypatch.setitem(
        celery_app.conf, "beat_schedule", {"cron-tick": {"task": "cron.tick", "schedule": 0.5}}
    )
    monkeypatch.setitem(celery_app.conf, "beat_schedule_filename", str(tmp_path / "beat-schedule"))
    service = EmbeddedService(celery_app, thread=True)
    service.start()
    yield service
    service.stop()
    service.join(10)  # no tick of this test may reach the next one


def workers(count: int) -> ExitStack:
    """A worker consuming with `count` threads at once. (Celery's test worker keeps its
    shutdown flag in module state, so two of them in one process cannot stop cleanly.)"""
    purge()
    stack = ExitStack()
    stack.callback(purge)
    pool = "solo" if count == 1 else "threads"
    stack.enter_context(
        start_worker(celery_app, pool=pool, concurrency=count, perform_ping_check=False, shutdown_timeout=30)
    )
    return stack


def test_a_job_fires_on_schedule_and_its_run_is_recorded(beat):
    with workers(1):
        assert wait_until(lambda: JobRun.objects.filter(job="greet", status=RunStatus.SUCCEEDED).exists(), 20)
    run = JobRun.objects.filter(job="greet", status=RunStatus.SUCCEEDED).first()
    assert run.trigger == "schedule" and run.scheduled_for is not None
    assert OutboxMessage.objects.filter(subject="Hi Ops").exists()
    assert not JobRun.objects.filter(job="paused").exists()


def test_two_consumers_taking_ticks_at_once_give_one_run_per_minute(beat):
    with workers(2):
        assert wait_until(lambda: JobRun.objects.filter(job="greet", status=RunStatus.SUCCEEDED).exists(), 20)
        time.sleep(2.5)  # five more ticks of the minute, taken by either worker
    per_minute = Counter(
        JobRun.objects.filter(job="greet", trigger="schedule").values_list("scheduled_for", flat=True)
    )
    assert per_minute and set(per_minute.values()) == {1}
    runs = JobRun.objects.filter(job="greet").exclude(status=RunStatus.QUEUED)
    assert all(run.status == RunStatus.SUCCEEDED for run in runs)
    assert OutboxMessage.objects.filter(subject="Hi Ops").count() == runs.count()  # each run once


def test_a_failing_http_job_is_retried_by_the_worker_and_every_attempt_recorded(alpha):
    from cron import services as cron_services
    from cron.tasks import dispatch_run

    with workers(1):
        dispatch_run(cron_services.trigger(tenant=alpha, name="flaky_http").pk)
        assert wait_until(
            lambda: JobRun.objects.filter(job="flaky_http", status=RunStatus.FAILED).count() == 3, 30
        )
        time.sleep(1.5)  # retries: 2, so no fourth attempt follows
    attempts = list(
        JobRun.objects.filter(job="flaky_http").order_by("id").values_list("trigger", "attempt", "status")
    )
    assert attempts == [("manual", 1, "failed"), ("retry", 2, "failed"), ("retry", 3, "failed")]


@contextmanager
def worker_processes(count: int):
    """`count` real `celery worker` processes on the Redis broker, against this test's
    databases and queue (tests.settings with the same xdist worker name)."""
    from django.conf import settings
    from django.db import connections

    tenant = connections["tenant_alpha"].settings_dict["NAME"].replace("alpha", "{app}")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{connections['default'].settings_dict['NAME']}",
        "SOGOMS_TENANT_DATABASE_URL": f"mysql://root@127.0.0.1:3306/{tenant}",
        "PYTEST_XDIST_WORKER": os.environ.get("PYTEST_XDIST_WORKER", "gw0"),
    }
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    command = [sys.executable, "-m", "celery", "-A", "sogoms_site", "worker", "--pool", "solo", "-Q", queue]
    processes = [
        subprocess.Popen(
            [*command, "-n", f"cron{index}-{uuid.uuid4().hex[:6]}@%h", "-l", "warning"],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for index in range(count)
    ]
    try:
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def test_two_worker_processes_on_redis_give_one_run_per_minute(beat):
    if not os.environ.get("REDIS_URL", "").startswith("redis://") or connections["default"].vendor != "mysql":
        if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
            pytest.fail("REDIS_URL and a MariaDB DATABASE_URL are required")
        pytest.skip("needs the Redis broker and MariaDB, which worker processes share")
    purge()
    with worker_processes(2):
        assert wait_until(lambda: JobRun.objects.filter(job="greet", status=RunStatus.SUCCEEDED).exists(), 60)
        time.sleep(3)  # six more ticks, taken by either process
    purge()
    per_minute = Counter(
        JobRun.objects.filter(job="greet", trigger="schedule").values_list("scheduled_for", flat=True)
    )
    assert per_minute and set(per_minute.values()) == {1}
    finished = JobRun.objects.filter(job="greet", status=RunStatus.SUCCEEDED).count()
    assert OutboxMessage.objects.filter(subject="Hi Ops").count() == finished
