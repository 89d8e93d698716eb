"""Liveness and readiness probes."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from django.db import connections

from sogoms_site import health
from tenants import availability
from tenants.registry import registry
from tests.tenants.test_availability import unreachable

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(autouse=True)
def _no_tenant_checks_known():
    """Each test starts with no sweep of the tenant databases and none found down."""
    availability.forget_checks()
    availability._down_until.clear()
    yield
    availability.forget_checks()
    availability._down_until.clear()


def test_health_answers_ok(client):
    response = client.get("/health", HTTP_HOST="localhost")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_ready_answers_at_once_then_with_a_check_for_every_database(client, settings, monkeypatch):
    # the sweep is held until the first answer is in: that answer cannot have waited for it
    # (nor, on a fast machine, found it already ended)
    answered = threading.Event()
    sweep = availability._sweep_now

    def held_sweep(current):
        answered.wait(10)
        sweep(current)

    monkeypatch.setattr(availability, "_sweep_now", held_sweep)
    first = client.get("/ready", HTTP_HOST="localhost").json()
    answered.set()
    availability.wait_for_sweep()
    response = client.get("/ready", HTTP_HOST="localhost")

    # a process's first call does not wait for the tenant databases: they are checked after
    assert first["status"] == "ok"
    assert first["tenants_checked_ago"] is None
    assert first["checks"]["database:default"]["status"] == "ok"
    assert "database:alpha" not in first["checks"]
    assert response.status_code == 200, response.content
    body = response.json()
    assert 0 <= body["tenants_checked_ago"] < 15
    assert body["status"] == "ok"
    assert body["unavailable"] == []
    for name in ("database:default", "database:alpha", "database:beta"):
        assert body["checks"][name]["status"] == "ok"
        assert isinstance(body["checks"][name]["ms"], int | float)
    if settings.REDIS_URL:  # the MariaDB + Redis run
        assert body["checks"]["redis"]["status"] == "ok"
    else:
        assert "redis" not in body["checks"]


def test_ready_reports_redis_down_as_down_without_a_stack_trace(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    response = client.get("/ready", HTTP_HOST="localhost")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["redis"]["status"] == "down"
    assert body["checks"]["database:default"]["status"] == "ok"
    text = response.content.decode()
    assert "Traceback" not in text
    assert "File " not in text
    assert "127.0.0.1" not in text


def test_ready_reports_an_unreachable_tenant_database_as_degraded_and_stays_ready(client, tmp_path, settings):
    settings.SOGOMS_TENANT_PROBE_SECONDS = 0  # this call checks every tenant database itself
    with unreachable("tenant_beta", tmp_path):
        response = client.get("/ready", HTTP_HOST="localhost")

    assert response.status_code == 200  # alpha is served: the balancer keeps this process
    body = response.json()
    assert body["status"] == "degraded"
    assert body["unavailable"] == ["beta"]
    assert body["checks"]["database:beta"]["status"] == "down"
    assert body["checks"]["database:alpha"]["status"] == "ok"
    assert "no such directory" not in response.content.decode()


def test_ready_answers_503_when_the_control_database_is_down(client, tmp_path, settings):
    settings.SOGOMS_TENANT_PROBE_SECONDS = 0  # this call checks every tenant database itself
    with unreachable("default", tmp_path):
        response = client.get("/ready", HTTP_HOST="localhost")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database:default"]["status"] == "down"
    assert body["checks"]["database:alpha"]["status"] == "ok"


@pytest.fixture
def probes_counted(monkeypatch):
    """The databases /ready probes, in call order (the real probe still runs)."""
    probed: list[str] = []

    def counting(alias):
        probed.append(alias)
        return original(alias)

    original = availability.check_database
    monkeypatch.setattr(availability, "check_database", counting)
    monkeypatch.setattr(health, "check_database", counting)
    return probed


def test_ready_checks_the_tenant_databases_once_per_probe_period_not_per_call(client, probes_counted):
    client.get("/ready", HTTP_HOST="localhost")
    availability.wait_for_sweep()
    for _ in range(3):
        response = client.get("/ready", HTTP_HOST="localhost")
        assert response.status_code == 200
        assert response.json()["status"] == "ok"

    # four calls checked the control database; one sweep checked each tenant database once
    tenant_aliases = sorted(tenant.db_alias for tenant in registry())
    assert "tenant_alpha" in tenant_aliases
    assert sorted(probes_counted) == sorted(["default"] * 4 + tenant_aliases)
    body = response.json()
    assert body["checks"]["database:alpha"]["status"] == "ok"  # the last check is still shown


def test_ready_shows_at_once_a_tenant_a_request_found_down(client):
    assert client.get("/ready", HTTP_HOST="localhost").json()["status"] == "ok"
    availability.wait_for_sweep()

    availability.mark_down("beta")  # what the availability middleware does on a failed request
    response = client.get("/ready", HTTP_HOST="localhost")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["unavailable"] == ["beta"]
    assert body["checks"]["database:beta"]["status"] == "down"


@contextmanager
def unreachable_from_other_threads(alias: str, where):
    """The alias's new connections, in any thread, go to a database that cannot be reached
    (`unreachable()` changes this thread's connection only)."""
    saved = connections.settings[alias]
    broken = dict(saved)
    if broken["ENGINE"].endswith("sqlite3"):
        broken["NAME"] = str(where / "no such directory" / "db.sqlite3")
    else:
        broken.update(HOST="127.0.0.1", PORT="1")
    connections.settings[alias] = broken
    try:
        yield
    finally:
        connections.settings[alias] = saved


def test_a_stale_sweep_is_redone_in_the_background_and_finds_a_broken_tenant(client, tmp_path, monkeypatch):
    assert client.get("/ready", HTTP_HOST="localhost").json()["status"] == "ok"
    availability.wait_for_sweep()
    availability._sweep.at -= 3600  # the probe period is over
    may_sweep = threading.Event()
    sweeps: list[threading.Thread] = []
    sweep = availability._sweep_in_background

    def held_sweep(current):
        sweeps.append(threading.current_thread())
        may_sweep.wait(timeout=30)
        sweep(current)

    monkeypatch.setattr(availability, "_sweep_in_background", held_sweep)

    with unreachable_from_other_threads("tenant_beta", tmp_path):
        stale = client.get("/ready", HTTP_HOST="localhost").json()
        again = client.get("/ready", HTTP_HOST="localhost").json()  # one sweep at a time
        may_sweep.set()
        for thread in sweeps:
            thread.join(timeout=30)

    assert stale["status"] == again["status"] == "ok"  # answered at once with the last checks
    assert stale["tenants_checked_ago"] >= 3600
    assert len(sweeps) == 1
    body = client.get("/ready", HTTP_HOST="localhost").json()
    assert body["status"] == "degraded"
    assert body["unavailable"] == ["beta"]
    assert body["checks"]["database:alpha"]["status"] == "ok"
    assert body["tenants_checked_ago"] < 60
