"""TLS switches: secure cookies, HSTS and the proxy's https header, each behind its variable."""

from __future__ import annotations

import importlib

import pytest

pytestmark = pytest.mark.django_db(databases="__all__")

SWITCHES = {
    "SOGOMS_TRUST_X_FORWARDED_PROTO": "1",
    "SOGOMS_SECURE_COOKIES": "1",
    "SOGOMS_HSTS_SECONDS": "31536000",
    "SOGOMS_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SOGOMS_HSTS_PRELOAD": "1",
    "SOGOMS_SSL_REDIRECT": "1",
}


def site_settings(monkeypatch, **env: str):
    """The site's settings module as it reads the environment `env`."""
    import sogoms_site.settings as module

    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        return vars(importlib.reload(module)).copy()
    finally:
        monkeypatch.undo()
        importlib.reload(module)


def test_everything_is_off_by_default_so_plain_http_on_loopback_works(monkeypatch):
    values = site_settings(monkeypatch)

    assert "SECURE_PROXY_SSL_HEADER" not in values
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SECURE_SSL_REDIRECT"] is False


def test_each_variable_turns_its_protection_on(monkeypatch):
    values = site_settings(monkeypatch, **SWITCHES)

    assert values["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["SECURE_SSL_REDIRECT"] is True


def test_behind_the_proxy_an_https_request_gets_hsts_and_secure_cookies(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    settings.CSRF_COOKIE_SECURE = True

    response = client.get("/admin/login/", HTTP_HOST="admin.example", HTTP_X_FORWARDED_PROTO="https")

    assert response["Strict-Transport-Security"] == "max-age=3600"
    assert response.cookies["csrftoken"]["secure"] is True
    plain = client.get("/admin/login/", HTTP_HOST="admin.example")
    assert "Strict-Transport-Security" not in plain


def test_the_redirect_to_https_spares_the_probes(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/health", HTTP_HOST="admin.example").status_code == 200
    redirected = client.get("/admin/login/", HTTP_HOST="admin.example")
    assert redirected.status_code == 301
    assert redirected["Location"].startswith("https://")
