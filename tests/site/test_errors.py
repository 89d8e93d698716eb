"""Domain errors: raised by services without HTTP, answered by the API with the contract's codes.

Each domain error has one contract code and status (the table in `sogoms_site.api.errors`);
the DRF handler and the middleware answer it with the same envelope and headers; a service's
refusal reaches the client as that envelope; the CLI prints the message and fails.
"""

from __future__ import annotations

import inspect
import io
import json
import subprocess
import sys
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import HttpRequest
from django.test import RequestFactory

from sogoms_site import errors as domain
from sogoms_site.api import errors as api
from sogoms_site.api.errors import DOMAIN_ERRORS, api_exception_handler, translate
from sogoms_site.middleware import ApiErrorMiddleware
from tenants.config import Tenant
from tests.conftest import PASSWORD, TenantApi, create_user, error_of

pytestmark = pytest.mark.django_db(databases="__all__")

# What each domain error means to a client: (class, code, status). Written out by hand, so a
# changed row in the table or a new class without one makes a test fail.
EXPECTED: list[tuple[type[domain.DomainError], str, int]] = [
    (domain.DomainError, "VALIDATION_ERROR", 400),
    (domain.InvalidInput, "VALIDATION_ERROR", 400),
    (domain.NotFoundError, "NOT_FOUND", 404),
    (domain.StateConflict, "CONFLICT", 409),
    (domain.AlreadyExists, "CONFLICT", 409),
    (domain.NotPermitted, "FORBIDDEN", 403),
    (domain.EmailNotVerified, "EMAIL_NOT_VERIFIED", 403),
    (domain.AuthenticationRequired, "UNAUTHORIZED", 401),
    (domain.InvalidToken, "UNAUTHORIZED", 401),
    (domain.ExpiredToken, "TOKEN_EXPIRED", 401),
    (domain.BadCredentials, "INVALID_CREDENTIALS", 401),
    (domain.TooManyAttempts, "RATE_LIMITED", 429),
    (domain.TenantUnavailable, "TENANT_UNAVAILABLE", 503),
    (domain.AccountExists, "ACCOUNT_EXISTS", 409),
    (domain.IdentityInUse, "IDENTITY_IN_USE", 409),
    (domain.InvalidOAuthState, "OAUTH_STATE_INVALID", 400),
    (domain.InvalidOAuthCode, "OAUTH_CODE_INVALID", 400),
    (domain.OAuthFailed, "OAUTH_FAILED", 502),
]
IDS = [cls.__name__ for cls, _, _ in EXPECTED]


def _domain_classes() -> set[type[domain.DomainError]]:
    found: set[type[domain.DomainError]] = set()
    pending = [domain.DomainError]
    while pending:
        cls = pending.pop()
        if cls.__module__ == domain.__name__:
            found.add(cls)
        pending.extend(cls.__subclasses__())
    return found


def _tenant_request(tenant: Tenant) -> HttpRequest:
    request = RequestFactory().get("/api/anything", HTTP_HOST="alpha.test")
    request.tenant = tenant  # type: ignore[attr-defined]
    return request


# --- the table ----------------------------------------------------------------------------


def test_every_domain_error_has_its_own_row_and_an_expected_answer():
    classes = _domain_classes()

    assert classes == set(DOMAIN_ERRORS)
    assert classes == {cls for cls, _, _ in EXPECTED}
    assert {name for name in domain.__all__} == {cls.__name__ for cls in classes}


@pytest.mark.parametrize(("cls", "code", "status"), EXPECTED, ids=IDS)
def test_translate_gives_each_domain_error_its_code_status_message_and_details(cls, code, status):
    error = translate(cls("Said by the service.", details={"field": ["bad"]}))

    assert isinstance(error, api.ApiError)
    assert error.code == code
    assert error.status_code == status
    assert error.message == "Said by the service."
    assert error.details == {"field": ["bad"]}


@pytest.mark.parametrize(("cls", "code", "status"), EXPECTED, ids=IDS)
def test_a_domain_error_without_a_message_says_what_the_contract_always_said(cls, code, status):
    error = translate(cls())

    assert error is not None
    assert error.message == type(error).default_detail
    assert error.details == {}


@pytest.mark.parametrize(("cls", "code", "status"), EXPECTED, ids=IDS)
def test_the_handler_and_the_middleware_answer_a_domain_error_alike(alpha, cls, code, status):
    exc = cls("Said by the service.", details={"field": ["bad"]})
    handled = api_exception_handler(exc, {})
    caught = ApiErrorMiddleware(lambda request: None).process_exception(_tenant_request(alpha), exc)

    assert handled is not None and caught is not None
    assert handled.status_code == caught.status_code == status
    expected = {
        "success": False,
        "error": {"code": code, "message": "Said by the service.", "details": {"field": ["bad"]}},
    }
    assert json.loads(handled.content) == expected
    assert json.loads(caught.content) == expected
    for header in ("Retry-After", "WWW-Authenticate"):
        assert handled.get(header) == caught.get(header)


def test_too_many_attempts_tells_when_to_retry_on_both_paths(alpha):
    exc = domain.TooManyAttempts(retry_after=42)

    handled = api_exception_handler(exc, {})
    caught = ApiErrorMiddleware(lambda request: None).process_exception(_tenant_request(alpha), exc)

    assert handled["Retry-After"] == caught["Retry-After"] == "42"
    assert json.loads(handled.content)["error"]["message"] == "Too many attempts; try again later."


@pytest.mark.parametrize(
    "cls", [domain.AuthenticationRequired, domain.InvalidToken, domain.ExpiredToken, domain.BadCredentials]
)
def test_every_authentication_error_challenges_for_a_bearer_token(alpha, cls):
    handled = api_exception_handler(cls(), {})
    caught = ApiErrorMiddleware(lambda request: None).process_exception(_tenant_request(alpha), cls())

    assert handled["WWW-Authenticate"] == caught["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_subclass_without_a_row_answers_as_its_parent():
    class StillReferenced(domain.StateConflict):
        pass

    error = translate(StillReferenced("In use."))

    assert error is not None
    assert (error.code, error.status_code, error.message) == ("CONFLICT", 409, "In use.")


# --- the modules themselves ---------------------------------------------------------------


def test_the_domain_errors_load_without_drf_or_django_http():
    code = (
        "import sys, sogoms_site.errors\n"
        "print(sorted(m for m in sys.modules if m.startswith(('rest_framework', 'django.http'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("cls", sorted(_domain_classes(), key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_each_domain_error_is_a_class_statement(cls):
    assert inspect.getsource(cls).lstrip().startswith(f"class {cls.__name__}(")


@pytest.mark.parametrize("cls", sorted(set(DOMAIN_ERRORS.values()), key=lambda c: c.__name__))
def test_each_contract_error_is_a_class_statement(cls):
    assert inspect.getsource(cls).lstrip().startswith(f"class {cls.__name__}(ApiError)")


# --- raised by a service, answered to the client -------------------------------------------


@pytest.mark.parametrize(("cls", "code", "status"), EXPECTED, ids=IDS)
def test_a_domain_error_from_a_service_reaches_the_client_as_its_envelope(
    alpha_api, alice, monkeypatch, cls, code, status
):
    token = alpha_api.token_for(alice.email)

    def refuse(**kwargs: Any) -> None:
        raise cls("Refused by the service.", details={"why": ["because"]})

    monkeypatch.setattr("tenants.auth.services.user_current", refuse)
    response = alpha_api.get("auth/me", token=token)

    error = error_of(response, status, code)
    assert error["message"] == "Refused by the service."
    assert error["details"] == {"why": ["because"]}


def test_registering_a_taken_email_is_a_conflict_on_the_email(alpha_api: TenantApi, alice):
    response = alpha_api.register(alice.email)

    error = error_of(response, 409, "CONFLICT")
    assert error["message"] == "An account with this e-mail already exists."
    assert error["details"] == {"email": ["already registered"]}


def test_a_wrong_password_is_invalid_credentials_with_a_challenge(alpha_api: TenantApi, alice):
    response = alpha_api.login(alice.email, "not the password")

    error = error_of(response, 401, "INVALID_CREDENTIALS")
    assert error["message"] == "Invalid e-mail or password."
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_too_many_failed_logins_answer_rate_limited_with_retry_after(alpha_api: TenantApi, alice):
    for _ in range(3):
        alpha_api.login(alice.email, "not the password")

    response = alpha_api.login(alice.email, PASSWORD)

    error_of(response, 429, "RATE_LIMITED")
    assert 0 < int(response["Retry-After"]) <= 15 * 60


def test_a_forged_refresh_token_is_unauthorized(alpha_api: TenantApi):
    response = alpha_api.post("auth/refresh", {"refresh_token": "not.a.token"})

    error = error_of(response, 401, "UNAUTHORIZED")
    assert error["message"].startswith("The refresh token is not valid")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_malformed_authorization_header_is_unauthorized(alpha_api: TenantApi):
    response = alpha_api.get("auth/me", HTTP_AUTHORIZATION="Token abc")

    error = error_of(response, 401, "UNAUTHORIZED")
    assert error["message"] == "The Authorization header must be 'Bearer <token>'."


def test_a_missing_row_is_not_found(alpha_api: TenantApi, alice):
    token = alpha_api.token_for(alice.email)

    response = alpha_api.get("projects/999999", token=token)

    error = error_of(response, 404, "NOT_FOUND")
    assert error["message"] == "No projects with id 999999."


def test_a_push_on_a_channel_the_app_lacks_is_invalid_input_on_the_topic(alpha, alpha_api: TenantApi):
    create_user(alpha, "root@example.com", role="admin")
    token = alpha_api.token_for("root@example.com")

    response = alpha_api.post("_push/publish", {"topic": "alpha/broadcast/nope"}, token=token)

    error = error_of(response, 400, "VALIDATION_ERROR")
    assert error["message"] == "alpha has no channel 'nope'"
    assert error["details"] == {"topic": ["alpha has no channel 'nope'"]}


# --- the command line ---------------------------------------------------------------------


def test_the_cli_prints_a_services_refusal_and_fails(alpha):
    out = io.StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("sogoms", "users", "role", "alpha", "nobody@example.com", "admin", stdout=out)

    assert caught.value.returncode == 1
    assert "No user 'nobody@example.com' in alpha." in out.getvalue()


def test_the_mail_cli_prints_a_domain_error_with_its_fields_and_fails(alpha, monkeypatch):
    def refuse(**kwargs: Any) -> None:
        raise domain.TooManyAttempts("Slow down.", details={"to": ["sent too often"]}, retry_after=5)

    monkeypatch.setattr("mail.services.mail_send", refuse)
    out = io.StringIO()

    with pytest.raises(CommandError) as caught:
        call_command(
            "sogoms", "mail", "send", "alpha", "--to", "x@example.com", "--subject", "Hi", stdout=out
        )

    assert caught.value.returncode == 1
    assert out.getvalue().splitlines() == ["Slow down.", "  to: sent too often"]
