"""Blank strings are values too: they must pass the field's pattern and formats."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_blank_value_cannot_slip_past_a_pattern(alpha_api, alice):
    token = alpha_api.token_for("alice@example.com")
    response = alpha_api.post("tags", {"name": "x", "color": ""}, token=token)
    assert response.status_code == 400
    assert "color" in response.json()["error"]["details"]


@pytest.mark.parametrize("field", ["contact", "homepage"])
def test_a_blank_email_or_url_is_refused_and_null_is_the_empty_value(alpha_api, alice, field):
    token = alpha_api.token_for("alice@example.com")
    assert alpha_api.post("specimens", {"code": "AB-1", field: ""}, token=token).status_code == 400
    created = alpha_api.post("specimens", {"code": "AB-2", field: None}, token=token)
    assert created.status_code == 201
    assert created.json()["data"][field] is None


def test_a_blank_free_text_stays_allowed(alpha_api, alice):
    token = alpha_api.token_for("alice@example.com")
    created = alpha_api.post("projects", {"name": "P", "description": ""}, token=token)
    assert created.status_code == 201
    assert created.json()["data"]["description"] == ""
