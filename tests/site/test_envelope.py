"""The response contract: every tenant answer is an envelope, every error code has its status."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf

from sogoms_site.api import errors
from sogoms_site.api.errors import api_exception_handler, translate
from sogoms_site.api.parsers import BoundedJSONParser
from tenants.logs import log_path
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(databases="__all__")

FORBIDDEN_IN_500 = ("Traceback", "RuntimeError", "SELECT", "secret detail")


def body(response) -> dict:
    """The envelope a response carries, parsed from its bytes."""
    return json.loads(response.content)


def assert_error(response, status: int, code: str) -> dict:
    """The response is an error envelope with this status and code; returns the error."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["success"] is False
    assert set(body) == {"success", "error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert "details" in error
    assert error["request_id"]
    assert response["X-Request-ID"] == error["request_id"]
    return error


def raw(api, method: str, path: str, body, content_type: str = "application/json", **extra):
    """Send a body as is, bypassing the client's JSON encoding."""
    return api.client.generic(
        method, api.url(path), body, content_type=content_type, HTTP_HOST=api.host, **extra
    )


# --- through the HTTP stack ---------------------------------------------------------------


def test_it_answers_a_success_with_the_envelope_in_json(alpha_api):
    response = alpha_api.register("new@example.com")

    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["success"] is True
    assert isinstance(body["message"], str) and body["message"]
    assert body["data"]["user"]["email"] == "new@example.com"
    assert response["X-Request-ID"]


def test_it_answers_an_unknown_route_under_the_base_path_with_the_envelope(alpha_api):
    error = assert_error(alpha_api.get("no/such/route"), 404, "NOT_FOUND")

    assert "/api/no/such/route" in error["message"]


def test_it_answers_a_get_on_a_post_only_route_with_method_not_allowed(alpha_api):
    assert_error(alpha_api.get("auth/login"), 405, "METHOD_NOT_ALLOWED")


def test_it_answers_a_delete_on_me_with_method_not_allowed(alpha_api, alice):
    token = alpha_api.token_for(alice.email)

    response = alpha_api.client.delete(
        alpha_api.url("auth/me"), HTTP_HOST=alpha_api.host, HTTP_AUTHORIZATION=f"Bearer {token}"
    )

    assert_error(response, 405, "METHOD_NOT_ALLOWED")


def test_it_answers_an_invalid_json_body_with_a_validation_error(alpha_api):
    response = alpha_api.client.post(
        alpha_api.url("auth/login"), data="{bad", content_type="application/json", HTTP_HOST=alpha_api.host
    )

    assert_error(response, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("body", ['["alice@example.com"]', '"alice@example.com"', "42"])
def test_it_answers_a_json_body_that_is_not_an_object_with_a_validation_error(alpha_api, body):
    assert_error(raw(alpha_api, "POST", "auth/register", body), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_it_refuses_nan_and_infinity_literals_in_json(alpha_api, literal):
    body = '{"email": "a@example.com", "password": %s, "name": "A"}' % literal  # noqa: UP031

    assert_error(raw(alpha_api, "POST", "auth/register", body), 400, "VALIDATION_ERROR")


def test_it_refuses_a_body_over_the_size_limit(alpha_api, settings):
    settings.SOGOMS_MAX_BODY_BYTES = 100

    response = alpha_api.register("big@example.com", name="x" * 500)

    error = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert "100" in error["message"]


def test_it_accepts_a_body_just_under_the_size_limit(alpha_api, settings):
    settings.SOGOMS_MAX_BODY_BYTES = 200
    body = json.dumps({"email": "small@example.com", "password": PASSWORD, "name": "S"})
    assert len(body) <= 200

    assert raw(alpha_api, "POST", "auth/register", body).status_code == 201


def test_its_parser_refuses_an_oversize_stream_without_a_content_length(settings):
    settings.SOGOMS_MAX_BODY_BYTES = 10

    with pytest.raises(errors.PayloadTooLarge):
        BoundedJSONParser().parse(io.BytesIO(b'{"name": "far too long"}'))


def test_its_parser_reads_an_empty_body_as_an_empty_object():
    assert BoundedJSONParser().parse(io.BytesIO(b"  ")) == {}


def test_it_answers_a_form_encoded_body_with_unsupported_media_type(alpha_api):
    response = raw(
        alpha_api,
        "POST",
        "auth/login",
        "email=alice%40example.com&password=x",
        content_type="application/x-www-form-urlencoded",
    )

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_it_answers_a_non_numeric_content_length_with_a_validation_error(alpha_api):
    response = raw(alpha_api, "POST", "auth/login", "{}", CONTENT_LENGTH="lots")

    assert_error(response, 400, "VALIDATION_ERROR")


def test_it_hides_an_unhandled_exception_and_logs_it_with_the_request_id(alpha_api, alice, monkeypatch):
    token = alpha_api.token_for(alice.email)

    def explode(**kwargs):
        raise RuntimeError("secret detail SELECT * FROM users")

    monkeypatch.setattr("tenants.auth.services.user_current", explode)
    response = alpha_api.get("auth/me", token=token)

    error = assert_error(response, 500, "INTERNAL_ERROR")
    text = response.content.decode()
    for leak in FORBIDDEN_IN_500:
        assert leak not in text
    request_id = error["request_id"]

    path = log_path("alpha", "error", datetime.now(UTC).date())
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    matching = [e for e in entries if e["request_id"] == request_id]
    assert len(matching) == 1
    entry = matching[0]
    assert entry["event"] == "unhandled_exception"
    assert entry["app"] == "alpha"
    assert entry["type"] == "error"
    assert entry["details"]["exception"] == "RuntimeError"
    assert "Traceback" in entry["details"]["traceback"]
    assert "secret detail" in entry["details"]["traceback"]
    assert entry["details"]["path"] == "/api/auth/me"
    assert entry["details"]["method"] == "GET"


def test_it_echoes_a_sane_incoming_request_id(alpha_api):
    response = alpha_api.get("no/such/route", HTTP_X_REQUEST_ID="client-req.0001_ab")

    assert response["X-Request-ID"] == "client-req.0001_ab"
    assert response.json()["error"]["request_id"] == "client-req.0001_ab"


@pytest.mark.parametrize("incoming", ["x y<>", "short", "a" * 65, "id\r\nSet-Cookie: x=1"])
def test_it_replaces_an_insane_incoming_request_id(alpha_api, incoming):
    response = alpha_api.get("no/such/route", HTTP_X_REQUEST_ID=incoming)

    request_id = response["X-Request-ID"]
    assert request_id != incoming
    assert len(request_id) == 32 and all(c in "0123456789abcdef" for c in request_id)
    assert response.json()["error"]["request_id"] == request_id


def test_it_gives_every_request_its_own_request_id(alpha_api):
    first = alpha_api.get("no/such/route")["X-Request-ID"]
    second = alpha_api.get("no/such/route")["X-Request-ID"]

    assert first != second


# --- the contract classes -----------------------------------------------------------------

CONTRACT = [
    (errors.ValidationFailed, 400, "VALIDATION_ERROR"),
    (errors.Unauthorized, 401, "UNAUTHORIZED"),
    (errors.TokenExpired, 401, "TOKEN_EXPIRED"),
    (errors.InvalidCredentials, 401, "INVALID_CREDENTIALS"),
    (errors.Forbidden, 403, "FORBIDDEN"),
    (errors.NotFound, 404, "NOT_FOUND"),
    (errors.TenantNotFound, 404, "TENANT_NOT_FOUND"),
    (errors.MethodNotAllowed, 405, "METHOD_NOT_ALLOWED"),
    (errors.Conflict, 409, "CONFLICT"),
    (errors.PayloadTooLarge, 413, "PAYLOAD_TOO_LARGE"),
    (errors.UnsupportedMediaType, 415, "UNSUPPORTED_MEDIA_TYPE"),
    (errors.RateLimited, 429, "RATE_LIMITED"),
    (errors.InternalError, 500, "INTERNAL_ERROR"),
]


@pytest.mark.parametrize(("cls", "status", "code"), CONTRACT, ids=[c[2] for c in CONTRACT])
def test_each_contract_error_has_its_status_and_code(cls, status, code):
    error = cls()

    assert isinstance(error, errors.ApiError)
    assert error.status_code == status
    assert error.code == code
    assert error.message
    assert error.details == {}


@pytest.mark.parametrize(("cls", "status", "code"), CONTRACT, ids=[c[2] for c in CONTRACT])
def test_each_contract_error_leaves_as_an_envelope_with_its_status(cls, status, code):
    response = api_exception_handler(cls("Custom message.", details={"field": ["bad"]}), {})

    assert response.status_code == status
    assert body(response)["success"] is False
    assert body(response)["error"]["code"] == code
    assert body(response)["error"]["message"] == "Custom message."
    assert body(response)["error"]["details"] == {"field": ["bad"]}


def test_it_passes_a_contract_error_through_translate_unchanged():
    error = errors.Conflict("Taken.")

    assert translate(error) is error


FRAMEWORK = [
    (drf.ValidationError({"email": ["bad"]}), 400, "VALIDATION_ERROR"),
    (drf.ParseError("Expecting value"), 400, "VALIDATION_ERROR"),
    (drf.NotAuthenticated(), 401, "UNAUTHORIZED"),
    (drf.AuthenticationFailed("bad token"), 401, "UNAUTHORIZED"),
    (drf.PermissionDenied(), 403, "FORBIDDEN"),
    (drf.NotFound(), 404, "NOT_FOUND"),
    (drf.MethodNotAllowed("DELETE"), 405, "METHOD_NOT_ALLOWED"),
    (drf.UnsupportedMediaType("text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE"),
    (drf.Throttled(wait=30), 429, "RATE_LIMITED"),
    (Http404(), 404, "NOT_FOUND"),
    (DjangoPermissionDenied(), 403, "FORBIDDEN"),
    (RequestDataTooBig(), 413, "PAYLOAD_TOO_LARGE"),
]
FRAMEWORK_IDS = [f"{type(exc).__module__}.{type(exc).__name__}" for exc, _, _ in FRAMEWORK]


@pytest.mark.parametrize(("exc", "status", "code"), FRAMEWORK, ids=FRAMEWORK_IDS)
def test_it_translates_a_framework_exception_to_its_contract_code(exc, status, code):
    error = translate(exc)

    assert error is not None
    assert error.status_code == status
    assert error.code == code


@pytest.mark.parametrize(("exc", "status", "code"), FRAMEWORK, ids=FRAMEWORK_IDS)
def test_its_exception_handler_answers_a_framework_exception_with_the_envelope(exc, status, code):
    response = api_exception_handler(exc, {})

    assert response is not None
    assert response.status_code == status
    assert body(response)["success"] is False
    assert body(response)["error"]["code"] == code
    assert isinstance(body(response)["error"]["message"], str)


def test_it_leaves_an_unknown_exception_to_the_middleware():
    assert translate(RuntimeError("boom")) is None
    assert api_exception_handler(RuntimeError("boom"), {}) is None


def test_it_tells_a_throttled_client_when_to_retry():
    response = api_exception_handler(drf.Throttled(wait=30), {})

    assert response.status_code == 429
    assert response["Retry-After"] == "30"


def test_it_asks_an_unauthorized_client_for_a_bearer_token():
    response = api_exception_handler(drf.NotAuthenticated(), {})

    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_flattens_validation_details_into_strings_by_field():
    exc = drf.ValidationError({"email": ["Enter a valid e-mail."], "non_field_errors": ["Bad body."]})

    details = body(api_exception_handler(exc, {}))["error"]["details"]

    assert details == {"email": ["Enter a valid e-mail."], "_body": ["Bad body."]}
    assert all(type(item) is str for items in details.values() for item in items)


def test_redis_unreachable_is_a_503_to_try_again_not_an_internal_error():
    import redis

    error = translate(redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379."))
    assert error is not None
    assert (error.status_code, error.code, error.headers) == (503, "TENANT_UNAVAILABLE", {"Retry-After": "1"})
    assert "6379" not in error.message  # nothing of the infrastructure is shown


def test_bodies_are_encoded_with_rfc_3339_times_and_django_types():
    import datetime
    import decimal

    from sogoms_site.api.envelope import render_json

    moment = datetime.datetime(2026, 12, 2, 14, 37, 6, 123456, tzinfo=datetime.UTC)
    body = {"at": moment, "on": moment.date(), "price": decimal.Decimal("9.90"), 7: "seven", "name": "Zoë"}

    assert (
        render_json(body)
        == (
            '{"at":"2026-12-02T14:37:06.123456Z","on":"2026-12-02","price":"9.90","7":"seven","name":"Zoë"}'
        ).encode()
    )


@pytest.mark.parametrize(
    "number", ["18446744073709551616", "-9223372036854775809", "123456789012345678901234567890"]
)
def test_an_integer_beyond_64_bits_in_a_body_is_read_exactly(number):
    import io

    from sogoms_site.api.parsers import BoundedJSONParser

    body = f'{{"big": {number}, "nan_like": "NaN", "deep": [[1]]}}'.encode()
    assert BoundedJSONParser().parse(io.BytesIO(body)) == {
        "big": int(number),
        "nan_like": "NaN",
        "deep": [[1]],
    }
