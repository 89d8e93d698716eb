"""One tenant's database down: that tenant answers 503 TENANT_UNAVAILABLE, the others serve.

The database is really unreachable: the tenant's alias is pointed at an SQLite file in a
directory that does not exist, or at a MariaDB port where nothing listens.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connections
from django.test import RequestFactory

from tenants import availability
from tenants.availability import TenantAvailabilityMiddleware
from tests.conftest import data_of, error_of

pytestmark = pytest.mark.django_db(databases="__all__")


@contextmanager
def unreachable(alias: str, where):
    """The alias, for the duration, on a database that cannot be reached."""
    original = connections[alias]
    broken = dict(original.settings_dict)
    if original.vendor == "sqlite":
        broken["NAME"] = str(where / "no such directory" / "db.sqlite3")
    else:
        broken.update(HOST="127.0.0.1", PORT="1")  # nothing listens on port 1
    wrapper = type(original)(broken, alias)
    connections[alias] = wrapper
    try:
        yield
    finally:
        wrapper.close()
        connections[alias] = original


@pytest.fixture(autouse=True)
def _no_tenant_known_down():
    availability._down_until.clear()
    yield
    availability._down_until.clear()


def window_over(app: str) -> None:
    """As if SOGOMS_TENANT_RETRY_SECONDS had passed since the tenant was found down."""
    availability._down_until[app] = 0.0


@pytest.fixture
def alice_token(alpha_api, alice):
    return alpha_api.token_for("alice@example.com")


@pytest.fixture
def charlie_token(beta_api, charlie):
    return beta_api.token_for("charlie@example.com")


def test_a_tenant_whose_database_is_down_answers_503_while_another_serves(
    alpha_api, beta_api, alice_token, charlie_token, tmp_path
):
    with unreachable("tenant_beta", tmp_path):
        down = beta_api.get("projects", token=charlie_token)
        up = alpha_api.get("projects", token=alice_token)
        login = beta_api.login("charlie@example.com")

    error = error_of(down, 503, "TENANT_UNAVAILABLE")
    assert error["details"] == {"app": "beta"}
    assert down["Retry-After"].isdecimal()
    assert "no such directory" not in down.content.decode()
    assert "127.0.0.1" not in down.content.decode()
    assert data_of(up) == []
    error_of(login, 503, "TENANT_UNAVAILABLE")
    # Back up: served again once the retry window is over, with nothing to restart.
    window_over("beta")
    assert beta_api.get("projects", token=charlie_token).status_code == 200


def test_a_tenant_found_down_answers_at_once_until_the_retry_window_is_over(
    beta_api, alpha_api, alice_token, charlie_token, tmp_path, settings
):
    settings.SOGOMS_TENANT_RETRY_SECONDS = 30
    with unreachable("tenant_beta", tmp_path):
        first = beta_api.get("projects", token=charlie_token)
    # The database answers again, but this process does not try it before the window ends:
    # a dead host must not hold a worker per request for the connect timeout.
    within = beta_api.get("projects", token=charlie_token)
    other = alpha_api.get("projects", token=alice_token)
    window_over("beta")
    after = beta_api.get("projects", token=charlie_token)

    error_of(first, 503, "TENANT_UNAVAILABLE")
    assert first["Retry-After"] == "30"
    error_of(within, 503, "TENANT_UNAVAILABLE")
    assert other.status_code == 200
    assert after.status_code == 200


def test_a_retry_window_of_zero_tries_the_database_on_every_request(
    beta_api, charlie_token, tmp_path, settings
):
    settings.SOGOMS_TENANT_RETRY_SECONDS = 0
    with unreachable("tenant_beta", tmp_path):
        down = beta_api.get("projects", token=charlie_token)

    error_of(down, 503, "TENANT_UNAVAILABLE")
    assert down["Retry-After"] == "1"
    assert beta_api.get("projects", token=charlie_token).status_code == 200


def test_a_database_error_on_a_reachable_database_is_not_called_unavailable(beta):
    request = RequestFactory().get("/v1/projects")
    request.tenant = beta
    middleware = TenantAvailabilityMiddleware(lambda _request: None)

    assert middleware.process_exception(request, OperationalError("no such column: nope")) is None


def test_a_site_request_is_left_to_the_site(tmp_path):
    request = RequestFactory().get("/ready")
    request.tenant = None
    middleware = TenantAvailabilityMiddleware(lambda _request: None)

    with unreachable("tenant_beta", tmp_path):
        assert middleware.process_exception(request, OperationalError("down")) is None


@pytest.mark.parametrize("outage", ["closed port", "database gone"])
def test_the_mariadb_drill_one_tenant_down_the_other_serving(
    alpha_api, beta_api, alice_token, charlie_token, outage
):
    if connections["tenant_beta"].vendor != "mysql":
        if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
            pytest.fail("a MariaDB SOGOMS_TENANT_DATABASE_URL is required")
        pytest.skip("needs MariaDB tenant databases")
    original = connections["tenant_beta"]
    broken = dict(original.settings_dict)
    if outage == "closed port":
        broken.update(HOST="127.0.0.1", PORT="1")
    else:  # the server answers, but this database is not there (dropped, or access revoked)
        broken["NAME"] = f"sogoms_gone_{os.getpid()}"
    wrapper = type(original)(broken, "tenant_beta")
    connections["tenant_beta"] = wrapper
    try:
        down = beta_api.get("projects", token=charlie_token)
        up = alpha_api.get("projects", token=alice_token)
    finally:
        wrapper.close()
        connections["tenant_beta"] = original

    error_of(down, 503, "TENANT_UNAVAILABLE")
    assert data_of(up) == []
    window_over("beta")
    assert beta_api.get("projects", token=charlie_token).status_code == 200
