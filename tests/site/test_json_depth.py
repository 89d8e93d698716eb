"""JSON bodies nested without end: refused with the envelope, never a RecursionError."""

from __future__ import annotations

import json

import pytest

from sogoms_site.api.parsers import nesting_depth
from tests.conftest import error_of

pytestmark = pytest.mark.django_db(databases="__all__")


def post_raw(alpha_api, path: str, body: str):
    return alpha_api.client.generic(
        "POST", alpha_api.url(path), body, content_type="application/json", HTTP_HOST=alpha_api.host
    )


def test_it_refuses_an_array_nested_50000_deep_without_authentication(alpha_api):
    response = post_raw(alpha_api, "auth/register", "[" * 50_000 + "]" * 50_000)

    error = error_of(response, 400, "VALIDATION_ERROR")
    assert "64" in error["message"]
    assert "Traceback" not in response.content.decode()


def test_it_refuses_an_unclosed_deep_object_too(alpha_api):
    response = post_raw(alpha_api, "auth/login", '{"a":' * 10_000)

    error_of(response, 400, "VALIDATION_ERROR")


def test_it_refuses_one_level_past_the_setting(alpha_api, settings):
    settings.SOGOMS_MAX_JSON_DEPTH = 3

    error_of(post_raw(alpha_api, "auth/login", '{"a": [{"b": [1]}]}'), 400, "VALIDATION_ERROR")
    # three levels is the limit itself: the body reaches the view, which checks its fields
    response = post_raw(alpha_api, "auth/login", '{"email": [{"b": 1}]}')
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "email" in response.json()["error"]["details"]


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"a": "[[[[{{{{", "b": ['"]]]', {"c": "\\"}]})

    assert nesting_depth(text) == 3


@pytest.mark.parametrize(("text", "depth"), [("", 0), ("1", 0), ("[]", 1), ("[[],[[]]]", 3), ('"\\', 0)])
def test_it_measures_the_depth(text, depth):
    assert nesting_depth(text) == depth
