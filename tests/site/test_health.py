"""Liveness and readiness probes."""

from __future__ import annotations

import pytest

from tests.tenants.test_availability import unreachable

pytestmark = pytest.mark.django_db(databases="__all__")


def test_health_answers_ok(client):
    response = client.get("/health", HTTP_HOST="localhost")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_ready_answers_ok_with_a_check_for_every_database(client, settings):
    response = client.get("/ready", HTTP_HOST="localhost")

    assert response.status_code == 200, response.content
    body = response.json()
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


def test_ready_reports_an_unreachable_tenant_database_as_degraded_and_stays_ready(client, tmp_path):
    with unreachable("tenant_beta", tmp_path):
        response = client.get("/ready", HTTP_HOST="localhost")

    assert response.status_code == 200  # alpha is served: the balancer keeps this process
    body = response.json()
    assert body["status"] == "degraded"
    assert body["unavailable"] == ["beta"]
    assert body["checks"]["database:beta"]["status"] == "down"
    assert body["checks"]["database:alpha"]["status"] == "ok"
    assert "no such directory" not in response.content.decode()


def test_ready_answers_503_when_the_control_database_is_down(client, tmp_path):
    with unreachable("default", tmp_path):
        response = client.get("/ready", HTTP_HOST="localhost")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database:default"]["status"] == "down"
    assert body["checks"]["database:alpha"]["status"] == "ok"
