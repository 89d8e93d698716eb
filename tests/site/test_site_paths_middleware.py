"""Sessions, CSRF, the admin's user and messages run on the site's paths, not the API's.

`sogoms_site.middleware.SitePathsMiddleware` skips them for a tenant request (token
authentication, no cookies); the operators' admin still signs in with its session and
refuses a form posted without the CSRF token.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.test import Client

from ..conftest import data_of

pytestmark = pytest.mark.django_db(databases="__all__")

HOST = "admin.example"  # an operator host of the test settings
GOOD = "operator pass 123"


@pytest.fixture
def calls(monkeypatch) -> list[str]:
    """The browser middleware that ran, by name, in order."""
    seen: list[str] = []
    for cls, method in (
        (SessionMiddleware, "process_request"),
        (CsrfViewMiddleware, "process_view"),
        (MessageMiddleware, "process_request"),
        (CommonMiddleware, "process_request"),
    ):
        original = getattr(cls, method)

        def spy(self, *args, _original=original, _name=cls.__name__):
            seen.append(_name)
            return _original(self, *args)

        monkeypatch.setattr(cls, method, spy)
    return seen


def test_an_api_request_runs_no_session_csrf_or_messages_middleware(alpha_api, alice, calls):
    token = alpha_api.token_for(alice.email)
    calls.clear()

    response = alpha_api.get("auth/me", token=token)

    assert data_of(response)["user"]["email"] == alice.email
    assert calls == []
    assert "sessionid" not in response.cookies
    assert "Cookie" not in response.get("Vary", "")


def test_an_api_write_needs_no_csrf_token_and_sets_no_cookie(alpha_api, alice, calls):
    token = alpha_api.token_for(alice.email)
    calls.clear()

    response = alpha_api.post("projects", {"name": "Inbox"}, token=token)

    assert data_of(response, 201)["name"] == "Inbox"
    assert calls == []
    assert not response.cookies


def test_the_admin_signs_in_with_its_session_and_the_middleware_runs(calls):
    get_user_model().objects.create_superuser("root", "root@example.com", GOOD)
    client = Client(enforce_csrf_checks=True)
    form = client.get("/admin/login/", HTTP_HOST=HOST)
    token = form.cookies["csrftoken"].value

    signed_in = client.post(
        "/admin/login/",
        {"username": "root", "password": GOOD, "csrfmiddlewaretoken": token},
        HTTP_HOST=HOST,
    )

    assert form.status_code == 200
    assert signed_in.status_code == 302
    assert "sessionid" in signed_in.cookies
    assert client.get("/admin/", HTTP_HOST=HOST).status_code == 200
    assert {"SessionMiddleware", "CsrfViewMiddleware", "MessageMiddleware"} <= set(calls)


def test_an_admin_form_without_the_csrf_token_is_refused():
    get_user_model().objects.create_superuser("root", "root@example.com", GOOD)
    client = Client(enforce_csrf_checks=True)

    refused = client.post("/admin/login/", {"username": "root", "password": GOOD}, HTTP_HOST=HOST)

    assert refused.status_code == 403
    assert "sessionid" not in refused.cookies


def test_every_tenant_answer_is_sized_without_djangos_common_middleware(alpha_api, alice, calls):
    token = alpha_api.token_for(alice.email)
    answers = [
        alpha_api.get("auth/me", token=token),  # an envelope
        alpha_api.get("projects/999999", token=token),  # an error envelope from a view
        alpha_api.get("no/such/route/here", token=token),  # Django's 404 handler
        alpha_api.call("options", "projects", token=token),  # DRF's own answer
        alpha_api.get("_openapi"),  # a JsonResponse
    ]
    assert "CommonMiddleware" not in calls
    for response in answers:
        assert int(response["Content-Length"]) == len(response.content), response
