"""What the fault drills share: the services they need, real `celery worker` processes
against this test's databases and queue, a configuration that sends alpha's mail to a
real SMTP server, and cleaning the broker of what a killed worker left unacknowledged."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.db import connections

from tests.mail.smtpserver import PASSWORD, SmtpServer


def require_services() -> None:
    """A drill needs the Redis broker and MariaDB (worker processes share them): it skips
    without them locally and fails in CI (SOGOMS_REQUIRE_SERVICES=1)."""
    if os.environ.get("REDIS_URL", "").startswith("redis://") and connections["default"].vendor == "mysql":
        return
    if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
        pytest.fail("REDIS_URL and a MariaDB DATABASE_URL are required")
    pytest.skip("needs the Redis broker and MariaDB, which worker processes share")


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def smtp_config(directory: Path, server: SmtpServer) -> Path:
    """A copy of tests/config in which alpha's routes send mail to `server`."""
    config = directory / "config"
    shutil.copytree(settings.BASE_DIR / "tests" / "config", config)
    password = directory / "smtp_password"
    password.write_text(PASSWORD)
    routes = config / "routes" / "alpha.yaml"
    raw = yaml.safe_load(routes.read_text())
    raw["smtp"] = server.block(password_file=str(password))
    routes.write_text(yaml.safe_dump(raw))
    return config


def worker_env(config_dir: Path, **extra: str) -> dict[str, str]:
    tenant = connections["tenant_alpha"].settings_dict["NAME"].replace("alpha", "{app}")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.drills.worker_settings",
        "SOGOMS_DRILL_CONFIG_DIR": str(config_dir),
        "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{connections['default'].settings_dict['NAME']}",
        "SOGOMS_TENANT_DATABASE_URL": f"mysql://root@127.0.0.1:3306/{tenant}",
        "PYTEST_XDIST_WORKER": os.environ.get("PYTEST_XDIST_WORKER", "gw0"),
        **extra,
    }


@contextmanager
def worker_process(env: dict[str, str], log: Path):
    """One real `celery worker` process (solo pool) on this test's queue; stopped on exit
    if the drill did not kill it."""
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    command = [sys.executable, "-m", "celery", "-A", "sogoms_site", "worker", "--pool", "solo", "-Q", queue]
    with log.open("ab") as output:
        process = subprocess.Popen(
            [*command, "-n", f"drill-{uuid.uuid4().hex[:8]}@%h", "-l", "warning"],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def forget_unacked(queue: str) -> int:
    """Drop the broker's unacknowledged deliveries of `queue` (a SIGKILLed worker leaves its
    reserved task there, to come back after the visibility timeout, an hour later, in some
    other test's queue of the same name). Returns how many were dropped."""
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    dropped = 0
    for tag, raw in client.hgetall("unacked").items():
        try:
            _message, _exchange, routing_key = json.loads(raw)
        except ValueError:
            continue
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
            dropped += 1
    return dropped


def sweep_until_settled(timeout: float) -> bool:
    """Play beat: ask the workers for a `mail.sweep` every second or so until no outbox row
    waits or is being sent."""
    from mail.models import PENDING, OutboxMessage, Status
    from sogoms_site.celery import app as celery_app

    def settled() -> bool:
        celery_app.send_task("mail.sweep")
        return wait_until(
            lambda: not OutboxMessage.objects.filter(status__in=[*PENDING, Status.SENDING]).exists(), 1, 0.2
        )

    return wait_until(settled, timeout, 0)


def require_redis_server(binary: str) -> None:
    """A drill that starts a Redis of its own needs the redis-server binary (CI has it)."""
    if Path(binary).exists():
        return
    if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{binary} is required")
    pytest.skip(f"needs {binary}")
