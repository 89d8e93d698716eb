"""Config reload: a valid edit is applied without a restart, an invalid one is refused.

The in-process tests swap the registry of the test process; the last test runs a real
server and reloads it while requests keep coming.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError

from tenants import registry as registry_module
from tenants import reload

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def config_copy(tmp_path, settings):
    """A copy of the test config that the test may edit; the registry is restored after."""
    saved = registry_module._state["result"]
    target = tmp_path / "config"
    shutil.copytree(Path(django_settings.BASE_DIR) / "tests" / "config", target)
    settings.SOGOMS_CONFIG_DIR = target
    reload.signal_file().unlink(missing_ok=True)
    reload._state.update(checked_at=0.0, seen=None, requested=False)
    yield target
    registry_module._state["result"] = saved
    reload.signal_file().unlink(missing_ok=True)
    reload._state.update(checked_at=0.0, seen=None, requested=False)


def add_host(config: Path, host: str) -> None:
    path = config / "routes" / "alpha.yaml"
    path.write_text(path.read_text().replace("  - www.alpha.test\n", f"  - www.alpha.test\n  - {host}\n"))


def break_config(config: Path) -> None:
    path = config / "routes" / "beta.yaml"
    path.write_text(path.read_text().replace("jwt_expiry: 15m", "jwt_expiry: 15x"))


def login_status(client, host: str) -> str:
    response = client.post(
        "/api/auth/login",
        {"email": "x@example.com", "password": "x" * 10},
        content_type="application/json",
        HTTP_HOST=host,
    )
    return response.json()["error"]["code"]


def test_a_valid_edit_is_applied_in_the_running_process(client, config_copy):
    assert login_status(client, "alpha-new.test") == "TENANT_NOT_FOUND"
    add_host(config_copy, "alpha-new.test")

    assert reload.reload_now() is True

    assert login_status(client, "alpha-new.test") == "INVALID_CREDENTIALS"  # routed to alpha now
    assert login_status(client, "alpha.test") == "INVALID_CREDENTIALS"


def test_an_invalid_edit_is_refused_and_the_old_config_keeps_serving(client, config_copy):
    add_host(config_copy, "alpha-new.test")
    break_config(config_copy)

    assert reload.reload_now() is False

    assert login_status(client, "alpha-new.test") == "TENANT_NOT_FOUND"
    assert login_status(client, "alpha.test") == "INVALID_CREDENTIALS"


def test_the_command_refuses_a_bad_config_without_announcing_it(config_copy):
    break_config(config_copy)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("sogoms", "reload", stdout=out)
    assert "routes/beta.yaml: auth.jwt_expiry" in out.getvalue()
    assert not reload.signal_file().exists()


@pytest.mark.django_db(databases="__all__", transaction=True)  # the command may create tables
def test_the_command_announces_a_good_config_and_processes_pick_it_up(client, config_copy):
    reload.maybe_reload()  # the process has seen the current state
    add_host(config_copy, "alpha-new.test")
    saved = registry_module._state["result"]
    call_command("sogoms", "reload", stdout=io.StringIO())
    assert reload.signal_file().exists()
    registry_module._state["result"] = saved  # as if this were another process
    reload._state["checked_at"] = 0.0

    assert login_status(client, "alpha-new.test") == "INVALID_CREDENTIALS"


def test_sighup_asks_for_a_reload(client, config_copy):
    reload.maybe_reload()
    add_host(config_copy, "alpha-sighup.test")
    reload._state["requested"] = True  # what the SIGHUP handler sets
    assert login_status(client, "alpha-sighup.test") == "INVALID_CREDENTIALS"


def test_a_generation_bumped_on_another_machine_is_applied_without_the_signal_file(client, config_copy):
    reload.maybe_reload()
    add_host(config_copy, "alpha-far.test")
    reload._bump_generation()  # what `sogoms reload` on another machine does to the shared cache
    assert not reload.signal_file().exists()
    reload._state["checked_at"] = 0.0

    assert login_status(client, "alpha-far.test") == "INVALID_CREDENTIALS"


def test_the_generation_is_looked_at_once_a_second_at_most(client, config_copy):
    reload.maybe_reload()
    add_host(config_copy, "alpha-soon.test")
    reload._bump_generation()

    assert login_status(client, "alpha-soon.test") == "TENANT_NOT_FOUND"  # looked less than 1 s ago
    reload._state["checked_at"] -= reload.CHECK_INTERVAL
    assert login_status(client, "alpha-soon.test") == "INVALID_CREDENTIALS"


def test_a_celery_task_applies_an_announced_reload_before_it_runs(config_copy):
    from tenants.tasks import purge_logs

    reload.maybe_reload()
    add_host(config_copy, "alpha-task.test")
    reload.announce()
    reload._state["checked_at"] = 0.0

    purge_logs.apply()

    assert registry_module.registry().for_host("alpha-task.test") is not None


def test_a_new_socket_applies_an_announced_reload_before_it_is_served(config_copy):
    served = []

    async def socket_app(scope, receive, send):
        served.append(registry_module.registry().for_host("alpha-socket.test"))

    reload.maybe_reload()
    add_host(config_copy, "alpha-socket.test")
    reload.announce()
    reload._state["checked_at"] = 0.0

    asyncio.run(reload.ReloadingApplication(socket_app)({"type": "websocket"}, None, None))

    assert served and served[0] is not None


def test_the_site_socket_is_wrapped_so_socket_only_processes_reload():
    source = (Path(django_settings.BASE_DIR) / "sogoms_site" / "asgi.py").read_text()

    assert '"websocket": ReloadingApplication(' in source


def test_an_unreachable_cache_leaves_the_signal_file_in_charge(config_copy, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    reload.maybe_reload()
    monkeypatch.setattr(reload.cache, "get", down)
    monkeypatch.setattr(reload.cache, "incr", down)
    add_host(config_copy, "alpha-file.test")

    assert reload.announce() is None
    reload._state["checked_at"] = 0.0
    reload.maybe_reload()

    assert registry_module.registry().for_host("alpha-file.test") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db(databases=[])
def test_a_running_server_reloads_without_dropping_requests(tmp_path):
    base = Path(django_settings.BASE_DIR)
    config = tmp_path / "config"
    shutil.copytree(base / "tests" / "config", config)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "SOGOMS_TENANT_DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        SOGOMS_CONFIG_DIR=str(config),
        SOGOMS_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="sogoms_site.settings",
    )
    manage = [sys.executable, str(base / "manage.py"), "sogoms"]
    subprocess.run([*manage, "migrate"], env=env, check=True, capture_output=True, timeout=60)
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "sogoms_site.asgi:application",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--no-access-log",
        ],
        cwd=base,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    failures, answers = [], []
    stop = threading.Event()

    def call(host: str) -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/_openapi", headers={"Host": host})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310  (http, loopback)
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def hammer() -> None:
        while not stop.is_set():
            try:
                status = call("alpha.test")
                answers.append(status)
                if status != 200:
                    failures.append(status)
            except OSError as exc:  # a dropped connection
                failures.append(repr(exc))

    try:
        for _ in range(100):
            try:
                call("alpha.test")
                break
            except OSError:
                time.sleep(0.1)
        worker = threading.Thread(target=hammer)
        worker.start()
        time.sleep(0.5)
        add_host(config, "alpha-live.test")
        assert call("alpha-live.test") == 404  # TENANT_NOT_FOUND: edited, not yet reloaded
        subprocess.run([*manage, "reload"], env=env, check=True, capture_output=True, timeout=60)
        deadline = time.time() + 10
        while call("alpha-live.test") != 200 and time.time() < deadline:
            time.sleep(0.2)
        assert call("alpha-live.test") == 200

        break_config(config)
        refused = subprocess.run([*manage, "reload"], env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0
        assert "jwt_expiry" in refused.stdout
        time.sleep(1.5)
        assert call("alpha-live.test") == 200  # still the last good config
        stop.set()
        worker.join(timeout=10)
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=10)
    assert answers, "no request was answered"
    assert failures == []
