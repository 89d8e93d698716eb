"""Per-IP limits on the unauthenticated auth endpoints that create or send something."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, error_of

pytestmark = pytest.mark.django_db(databases="__all__")

# tests/config/routes/alpha.yaml: login_per_ip 6/1m, which register and forgot share in kind.
RATE = 6


def register(alpha_api, index: int, **headers):
    body = {"email": f"new{index}@example.com", "password": PASSWORD, "name": "New"}
    return alpha_api.post("auth/register", body, **headers)


def test_register_is_limited_per_ip(alpha_api):
    statuses = [register(alpha_api, i).status_code for i in range(RATE)]
    assert statuses == [201] * RATE

    limited = register(alpha_api, RATE)

    error_of(limited, 429, "RATE_LIMITED")
    assert 0 < int(limited["Retry-After"]) <= 60
    assert register(alpha_api, RATE + 1, REMOTE_ADDR="10.9.8.7").status_code == 201


def test_refused_and_invalid_registrations_count_too(alpha_api):
    for _ in range(RATE):
        alpha_api.post("auth/register", {"email": "not an e-mail"})

    error_of(register(alpha_api, 0), 429, "RATE_LIMITED")


def test_a_forged_forwarded_header_does_not_dodge_the_register_limit(alpha_api, settings):
    settings.SOGOMS_TRUSTED_PROXIES = "1"
    for i in range(RATE):
        assert register(alpha_api, i, HTTP_X_FORWARDED_FOR=f"9.9.9.{i}, 198.51.100.7").status_code == 201

    error_of(register(alpha_api, RATE, HTTP_X_FORWARDED_FOR="9.9.9.99, 198.51.100.7"), 429, "RATE_LIMITED")


def test_password_forgot_is_limited_per_ip(alpha_api):
    for i in range(RATE):
        response = alpha_api.post("auth/password/forgot", {"email": f"someone{i}@example.com"})
        assert response.status_code == 202, response.content

    limited = alpha_api.post("auth/password/forgot", {"email": "other@example.com"})

    error_of(limited, 429, "RATE_LIMITED")
    assert 0 < int(limited["Retry-After"]) <= 60
