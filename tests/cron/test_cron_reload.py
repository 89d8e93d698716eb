"""`sogoms reload` reaches a real Celery worker process: a job removed from the cron YAML
stops without a restart.

The worker is another process with its own var directory (as on another machine: the
signal file under var/run does not reach it); only the config generation in the shared
Redis cache tells it. Needs the Redis broker and MariaDB, which the processes share.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from cron.models import JobRun, RunStatus
from cron.services import minute_of
from tenants import registry as registry_module
from tenants import reload
from tests.cron.test_cron_worker import beat  # noqa: F401  (fixture)
from tests.mail.test_worker import purge, wait_until

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def require_services() -> None:
    if not os.environ.get("REDIS_URL", "").startswith("redis://") or connections["default"].vendor != "mysql":
        if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
            pytest.fail("REDIS_URL and a MariaDB DATABASE_URL are required")
        pytest.skip("needs the Redis broker and MariaDB, which worker processes share")


def remove_job(config: Path, name: str) -> None:
    path = config / "cron" / "alpha.yaml"
    lines = path.read_text().splitlines(keepends=True)
    start = lines.index(f"  {name}:\n")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("    "))
    path.write_text("".join(lines[:start] + lines[end:]))


def test_a_job_removed_from_the_yaml_stops_on_a_worker_process_without_a_restart(
    beat,  # noqa: F811
    tmp_path,
    settings,
):
    require_services()
    from django.conf import settings as django_settings

    config = tmp_path / "config"
    shutil.copytree(Path(django_settings.BASE_DIR) / "tests" / "config", config)
    settings.SOGOMS_CONFIG_DIR = config
    saved = registry_module._state["result"]
    tenant_db = connections["tenant_alpha"].settings_dict["NAME"].replace("alpha", "{app}")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.reload_settings",
        "SOGOMS_TEST_CONFIG_DIR": str(config),
        "SOGOMS_VAR_DIR": str(tmp_path / "other-machine"),
        "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{connections['default'].settings_dict['NAME']}",
        "SOGOMS_TENANT_DATABASE_URL": f"mysql://root@127.0.0.1:3306/{tenant_db}",
        "PYTEST_XDIST_WORKER": os.environ.get("PYTEST_XDIST_WORKER", "gw0"),
    }
    queue = django_settings.CELERY_TASK_DEFAULT_QUEUE
    command = [sys.executable, "-m", "celery", "-A", "sogoms_site", "worker", "--pool", "solo", "-Q", queue]
    purge()
    worker = subprocess.Popen(
        [*command, "-n", f"reload-{uuid.uuid4().hex[:6]}@%h", "-l", "warning"],
        env=env,
        cwd=django_settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: JobRun.objects.filter(job="greet", status=RunStatus.SUCCEEDED).exists(), 60)

        remove_job(config, "greet")
        call_command("sogoms", "reload", stdout=io.StringIO())
        time.sleep(2 * reload.CHECK_INTERVAL)  # the worker's next tick looks (once a second at most)
        applied_in = minute_of(timezone.now())
        # Past the next minute and a few ticks of it: a worker still on the old config would
        # have inserted greet's run of that minute by then.
        wait_for = applied_in + timedelta(minutes=1, seconds=5) - timezone.now()
        time.sleep(wait_for.total_seconds())

        later = JobRun.objects.filter(job="greet", trigger="schedule", scheduled_for__gt=applied_in)
        assert not later.exists()
        assert worker.poll() is None  # the same process, never restarted
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        purge()
        registry_module._state["result"] = saved
        reload._state.update(checked_at=0.0, seen=None, requested=False)
