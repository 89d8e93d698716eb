"""Host resolution: the Host header picks the tenant, its base path picks the routes."""

from __future__ import annotations

import pytest

from tenants.usermodel import user_model
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(databases="__all__")

NEW = {"email": "new@example.com", "password": PASSWORD, "name": "New"}


def post(client, host: str, path: str, data: dict):
    return client.post(path, data, format="json", HTTP_HOST=host)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == response["X-Request-ID"]
    return body["error"]


@pytest.mark.parametrize("host", ["alpha.test", "ALPHA.test:8000", "www.alpha.test", "alpha.test."])
def test_it_serves_alpha_on_each_of_its_host_spellings(alpha_api, alpha, host):
    response = post(alpha_api.client, host, "/api/auth/register", NEW)

    assert response.status_code == 201, response.content
    assert user_model(alpha).objects.filter(email="new@example.com").exists()


def test_it_answers_an_unknown_host_with_tenant_not_found(client):
    response = client.get("/api/auth/me", HTTP_HOST="nobody.test")

    error = assert_error(response, 404, "TENANT_NOT_FOUND")
    assert "nobody.test" in error["message"]


def test_it_answers_an_unknown_host_with_tenant_not_found_on_any_path(client):
    assert_error(client.get("/", HTTP_HOST="nobody.test"), 404, "TENANT_NOT_FOUND")


@pytest.mark.parametrize("host", ["nobody.test", "alpha.test"])
def test_it_answers_health_on_any_host(client, host):
    response = client.get("/health", HTTP_HOST=host)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_it_serves_beta_under_its_own_base_path(beta_api, beta, alpha):
    response = post(beta_api.client, "beta.test", "/v1/auth/register", NEW)

    assert response.status_code == 201, response.content
    assert user_model(beta).objects.filter(email=NEW["email"]).exists()
    assert not user_model(alpha).objects.filter(email=NEW["email"]).exists()


def test_it_does_not_serve_alphas_base_path_on_beta(beta_api, beta):
    response = post(beta_api.client, "beta.test", "/api/auth/register", NEW)

    assert_error(response, 404, "NOT_FOUND")
    assert not user_model(beta).objects.filter(email=NEW["email"]).exists()


def test_it_does_not_serve_betas_base_path_on_alpha(alpha_api, alpha):
    response = post(alpha_api.client, "alpha.test", "/v1/auth/register", NEW)

    assert_error(response, 404, "NOT_FOUND")
    assert not user_model(alpha).objects.filter(email=NEW["email"]).exists()


@pytest.mark.parametrize("path", ["/", "/other", "/api", "/apiauth/register", "/v1"])
def test_it_answers_a_path_outside_the_base_path_with_the_envelope(client, path):
    assert_error(client.get(path, HTTP_HOST="alpha.test"), 404, "NOT_FOUND")


@pytest.mark.parametrize("path", ["/healthz", "/health/extra", "/readyness"])
def test_it_answers_a_path_that_only_starts_like_a_site_path_with_the_envelope(client, path):
    assert_error(client.get(path, HTTP_HOST="alpha.test"), 404, "NOT_FOUND")


def test_it_keeps_the_users_of_each_tenant_apart(alpha_api, beta_api, alpha, beta):
    on_alpha = alpha_api.register("same@example.com", password="alpha password 123", name="On Alpha")
    on_beta = beta_api.register("same@example.com", password="beta password 456", name="On Beta")

    assert on_alpha.status_code == 201, on_alpha.content
    assert on_beta.status_code == 201, on_beta.content
    assert user_model(alpha).objects.get(email="same@example.com").name == "On Alpha"
    assert user_model(beta).objects.get(email="same@example.com").name == "On Beta"
    # Each tenant knows only its own password for the address.
    assert beta_api.login("same@example.com", "alpha password 123").status_code == 401
    assert alpha_api.login("same@example.com", "beta password 456").status_code == 401
    assert alpha_api.login("same@example.com", "alpha password 123").status_code == 200
    assert beta_api.login("same@example.com", "beta password 456").status_code == 200


def test_it_does_not_show_an_alpha_user_to_beta(alpha_api, beta_api, alice):
    assert beta_api.login(alice.email).status_code == 401
    token = alpha_api.token_for(alice.email)

    assert_error(beta_api.get("auth/me", token=token), 401, "UNAUTHORIZED")
    assert alpha_api.get("auth/me", token=token).status_code == 200


# --- the operators' paths: only on the operator hosts -----------------------------------


@pytest.mark.parametrize("path", ["/ready", "/admin/", "/admin/login/", "/metrics"])
def test_an_unknown_host_learns_nothing_from_the_operators_paths(client, path):
    response = client.get(path, HTTP_HOST="unknown.example")
    unknown_path = client.get("/no-such-path", HTTP_HOST="unknown.example")

    error = assert_error(response, 404, "TENANT_NOT_FOUND")
    assert error["message"] == assert_error(unknown_path, 404, "TENANT_NOT_FOUND")["message"]
    assert b"alpha" not in response.content
    assert b"beta" not in response.content


@pytest.mark.parametrize("path", ["/ready", "/admin/", "/admin/login/", "/metrics"])
def test_a_tenant_host_answers_the_operators_paths_as_unknown_routes(operator, path):
    response = operator.get(path, HTTP_HOST="alpha.test")

    error = assert_error(response, 404, "NOT_FOUND")
    assert error["message"] == f"No route for GET {path}."
    assert b"beta" not in response.content
    assert b"database" not in response.content


def test_a_tenant_host_does_not_take_an_admin_login(client):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", "root@example.com", "operator pass 123")
    response = client.post(
        "/admin/login/", {"username": "root", "password": "operator pass 123"}, HTTP_HOST="alpha.test"
    )

    assert_error(response, 404, "NOT_FOUND")
    assert "sessionid" not in response.cookies


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8000", "LOCALHOST."])
def test_the_operator_hosts_serve_ready_and_admin(client, host):
    ready = client.get("/ready", HTTP_HOST=host)

    assert ready.status_code == 200, ready.content
    assert ready.json()["checks"]["database:default"]["status"] == "ok"  # the probe's own answer
    admin = client.get("/admin/", HTTP_HOST=host)
    assert admin.status_code == 302
    assert "/admin/login/" in admin["Location"]


def test_a_host_serves_a_tenant_and_the_operators_paths_at_once(alpha_api, settings):
    settings.SOGOMS_OPERATOR_HOSTS = ["alpha.test"]
    client = alpha_api.client

    assert client.get("/ready", HTTP_HOST="alpha.test").status_code == 200
    assert client.get("/admin/", HTTP_HOST="alpha.test").status_code == 302
    register = post(client, "alpha.test", "/api/auth/register", NEW)
    assert register.status_code == 201, register.content


@pytest.mark.parametrize("host", ["unknown.example", "alpha.test", "localhost"])
def test_health_stays_a_bare_ok_on_every_host(client, host):
    response = client.get("/health", HTTP_HOST=host)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
