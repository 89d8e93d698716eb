"""Celery workers on a real Redis broker: a stopped worker finishes its task, or puts it
back in the queue past the soft shutdown; a killed worker's task is run by another
worker (acks late); no task is lost.

Each test has a queue of its own on the run's Redis (REDIS_URL), so parallel runs and
other tests never take its tasks. The task is tests.ops.tasks.record_then_sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from celery import Celery

from tests.ops.tasks import NAME
from tests.realtime.servers import BASE_DIR, prepare_site

VISIBILITY_SECONDS = 3  # how soon a killed worker's task is given out again, here


@pytest.fixture
def broker(tmp_path) -> Iterator[tuple[dict, str]]:
    """The workers' environment (REDIS_URL as the broker) and a queue of the test's own."""
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
            pytest.fail("REDIS_URL is not set")
        pytest.skip("needs REDIS_URL (a Redis broker)")
    env = prepare_site(tmp_path, redis_url=redis_url, channel_prefix=f"ops-{uuid.uuid4().hex[:8]}")
    env["SOGOMS_BROKER_VISIBILITY_TIMEOUT"] = str(VISIBILITY_SECONDS)
    env["REMAP_SIGTERM"] = "SIGQUIT"  # as the worker's unit and `sogoms ctl` run it
    yield env, f"ops-{uuid.uuid4().hex}"


@contextmanager
def worker(env: dict, queue: str, name: str, log: Path) -> Iterator[subprocess.Popen]:
    """A `celery worker` (one prefork process) on `queue`, in a process group of its own."""
    command = [
        sys.executable, "-m", "celery", "-A", "sogoms_site", "worker", "--include", "tests.ops.tasks",
        "-Q", queue, "-n", f"{name}@%h", "--pool", "prefork", "--concurrency", "1",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info",
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, process_group=0
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def send(env: dict, queue: str, record: Path, seconds: float) -> None:
    client = Celery("ops-test", broker=env["REDIS_URL"])
    client.send_task(NAME, args=[str(record), seconds], queue=queue)
    client.close()


def lines(record: Path) -> list[str]:
    return record.read_text().splitlines() if record.exists() else []


def wait_for_line(record: Path, prefix: str, count: int, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while sum(line.startswith(prefix) for line in lines(record)) < count:
        assert time.monotonic() < deadline, (
            f"no {prefix!r} x{count} in {timeout:g} s: {log.read_text()[-2000:]}"
        )
        time.sleep(0.1)


def test_a_worker_stopped_with_sigterm_finishes_its_task_first(broker, tmp_path):
    env, queue = broker
    record, log = tmp_path / "record", tmp_path / "worker.log"
    send(env, queue, record, 3)
    with worker(env, queue, "stopped", log) as process:
        wait_for_line(record, "started", 1, 60, log)
        process.send_signal(signal.SIGTERM)  # the task is within the soft shutdown (25 s)
        assert process.wait(timeout=40) == 0
    started, done = lines(record)
    assert started.startswith("started ") and done == "done " + started.split()[1]


def test_a_task_longer_than_the_soft_shutdown_goes_back_to_the_queue_at_once(broker, tmp_path):
    env, queue = broker
    env = {**env, "SOGOMS_WORKER_SOFT_SHUTDOWN_SECONDS": "2"}
    env["SOGOMS_BROKER_VISIBILITY_TIMEOUT"] = "3600"  # not given out again by timeout: requeued
    record, log = tmp_path / "record", tmp_path / "worker.log"
    send(env, queue, record, 600)
    with worker(env, queue, "soft", log) as first:
        wait_for_line(record, "started", 1, 60, log)
        stopping = time.monotonic()
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
        stopped_in = time.monotonic() - stopping
    assert stopped_in < 15, stopped_in
    with worker(env, queue, "after", log):
        wait_for_line(record, "started", 2, 60, log)
    first_run, second_run = lines(record)
    assert first_run != second_run


def test_a_task_of_a_killed_worker_is_run_by_another_worker_once(broker, tmp_path):
    env, queue = broker
    record, log = tmp_path / "record", tmp_path / "worker.log"
    send(env, queue, record, 3)
    with worker(env, queue, "killed", log) as first:
        wait_for_line(record, "started", 1, 60, log)
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool process, mid-task
        first.wait(timeout=10)
    assert lines(record) == [lines(record)[0]]  # it did not finish
    time.sleep(VISIBILITY_SECONDS)
    with worker(env, queue, "second", log):
        wait_for_line(record, "done", 1, 60, log)
        time.sleep(1)  # a second run of the task would show here
    first_run, second_run, done = lines(record)
    assert first_run.startswith("started ") and second_run.startswith("started ")
    assert first_run != second_run  # another process ran it
    assert done == "done " + second_run.split()[1]
