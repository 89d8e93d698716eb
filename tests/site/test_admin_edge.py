"""The operators' admin at the edge: sign-ins throttled, new passwords never in a cookie."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from sogoms_site.tenant_admin import open_tenant
from tenants.auth.passwords import verify_password
from tenants.usermodel import user_model

pytestmark = pytest.mark.django_db(databases="__all__")

HOST = "admin.example"
LOGIN = "/admin/login/"
GOOD = "operator pass 123"


@pytest.fixture
def root():
    return get_user_model().objects.create_superuser("root", "root@example.com", GOOD)


def sign_in(client, username: str, password: str, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, HTTP_HOST=HOST, **extra)


def test_failed_sign_ins_are_limited_per_ip(client, root, settings):
    settings.SOGOMS_ADMIN_LOGIN_ATTEMPTS = 3
    for i in range(3):
        assert sign_in(client, f"nobody{i}", "wrong").status_code == 200  # the form again

    limited = sign_in(client, "root", GOOD)

    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= settings.SOGOMS_ADMIN_LOGIN_WINDOW_SECONDS
    assert "sessionid" not in limited.cookies
    assert sign_in(client, "root", GOOD, REMOTE_ADDR="10.1.2.3").status_code == 302  # elsewhere


def test_failed_sign_ins_are_limited_per_username_from_any_ip(client, root, settings):
    settings.SOGOMS_ADMIN_LOGIN_ATTEMPTS = 3
    for i in range(3):
        assert sign_in(client, "root", "wrong", REMOTE_ADDR=f"10.0.0.{i}").status_code == 200

    assert sign_in(client, "Root", GOOD, REMOTE_ADDR="10.0.0.99").status_code == 429


def test_successful_sign_ins_do_not_count(client, root, settings):
    settings.SOGOMS_ADMIN_LOGIN_ATTEMPTS = 2
    for _ in range(4):
        assert sign_in(client, "root", GOOD).status_code == 302
        client.logout()


def test_the_sign_in_form_still_opens(client):
    response = client.get(LOGIN, HTTP_HOST=HOST)

    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_a_reset_password_is_shown_on_the_page_and_kept_in_no_cookie(operator, alpha, alice):
    open_tenant(alpha)  # its admin entries exist once it is opened there
    url = reverse("admin:tenants_user_alpha_changelist")

    response = operator.post(
        url, {"action": "reset_password", "_selected_action": [alice.id]}, HTTP_HOST=HOST
    )

    assert response.status_code == 200
    page = response.content.decode()
    password = re.search(r"new password ([A-Za-z0-9_-]+)", page)[1]
    assert verify_password(password, user_model(alpha).objects.get(pk=alice.pk).password)[0]
    assert "no-store" in response["Cache-Control"]
    assert all(password not in morsel.value for morsel in response.cookies.values())
    assert "messages" not in response.cookies
    # nothing carries it to the next page either
    assert password not in operator.get(url, HTTP_HOST=HOST).content.decode()
