"""Content negotiation: the JSON envelope at once for the usual Accept headers, DRF's own
negotiation (and its refusal of anything but JSON) for the rest."""

from __future__ import annotations

import pytest
from rest_framework.negotiation import DefaultContentNegotiation

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def drf_negotiations(monkeypatch):
    calls: list[str] = []
    original = DefaultContentNegotiation.select_renderer

    def counting(self, request, renderers, format_suffix=None):
        calls.append(request.META.get("HTTP_ACCEPT", ""))
        return original(self, request, renderers, format_suffix)

    monkeypatch.setattr(DefaultContentNegotiation, "select_renderer", counting)
    return calls


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", " application/json "])
def test_the_usual_accept_headers_get_json_without_drf_negotiating(client, drf_negotiations, accept):
    headers = {"HTTP_ACCEPT": accept} if accept is not None else {}
    response = client.get("/api/auth/me", HTTP_HOST="alpha.test", **headers)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert drf_negotiations == []


def test_other_accept_headers_are_negotiated_by_drf(client, drf_negotiations):
    accepted = client.get(
        "/api/auth/me", HTTP_HOST="alpha.test", HTTP_ACCEPT="text/html, application/json;q=0.8"
    )
    refused = client.get("/api/auth/me", HTTP_HOST="alpha.test", HTTP_ACCEPT="text/html")

    assert accepted.status_code == 401 and accepted.json()["error"]["code"] == "UNAUTHORIZED"
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "The response can only be JSON."
    # (the refusal's own answer is negotiated once more, forced to JSON)
    assert drf_negotiations[:2] == ["text/html, application/json;q=0.8", "text/html"]


def test_a_format_override_is_negotiated_by_drf(client, drf_negotiations):
    client.get("/api/auth/me?format=json", HTTP_HOST="alpha.test")
    assert drf_negotiations == [""]
