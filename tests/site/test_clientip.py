"""The client's address behind proxies: the right-most hop that is not a trusted proxy."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from sogoms_site.clientip import client_ip, parse_trusted_proxies
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(databases="__all__")


def ip(remote: str, forwarded: str | None = None) -> str:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))


def test_without_proxies_the_header_is_ignored(settings):
    settings.SOGOMS_TRUSTED_PROXIES = ""

    assert ip("203.0.113.9", "1.2.3.4") == "203.0.113.9"


def test_one_proxy_gives_the_hop_it_appended_not_the_clients_own_claim(settings):
    settings.SOGOMS_TRUSTED_PROXIES = "1"

    # The client sent "X-Forwarded-For: 1.2.3.4"; nginx appended the real peer.
    assert ip("127.0.0.1", "1.2.3.4, 198.51.100.7") == "198.51.100.7"
    assert ip("127.0.0.1", "198.51.100.7") == "198.51.100.7"


def test_two_proxies_skip_two_hops(settings):
    settings.SOGOMS_TRUSTED_PROXIES = "2"

    assert ip("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.1") == "198.51.100.7"


def test_a_short_header_gives_the_left_most_hop_there_is(settings):
    settings.SOGOMS_TRUSTED_PROXIES = "2"

    assert ip("10.0.0.2", "198.51.100.7") == "198.51.100.7"
    assert ip("10.0.0.2") == "10.0.0.2"


def test_networks_skip_every_trusted_hop_from_the_right(settings):
    settings.SOGOMS_TRUSTED_PROXIES = "10.0.0.0/8, 127.0.0.1"

    assert ip("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.1.2.3") == "198.51.100.7"
    # A peer outside the networks is the client, whatever it claims.
    assert ip("203.0.113.9", "1.2.3.4") == "203.0.113.9"
    assert ip("127.0.0.1", "10.0.0.5") == "10.0.0.5"  # all trusted: the left-most


def test_a_hop_that_is_not_an_address_is_not_taken(settings):
    settings.SOGOMS_TRUSTED_PROXIES = "1"

    assert ip("127.0.0.1", "1.2.3.4, not-an-ip") == "127.0.0.1"


def test_the_older_switch_means_one_proxy(monkeypatch):
    import importlib

    import sogoms_site.settings as site_settings

    monkeypatch.setenv("SOGOMS_TRUST_X_FORWARDED_FOR", "1")
    monkeypatch.delenv("SOGOMS_TRUSTED_PROXIES", raising=False)
    try:
        assert importlib.reload(site_settings).SOGOMS_TRUSTED_PROXIES == "1"
    finally:
        monkeypatch.undo()
        importlib.reload(site_settings)


@pytest.mark.parametrize("value", ["1.2.3", "ten", "10.0.0.0/33"])
def test_a_malformed_list_is_refused(value):
    with pytest.raises(ValueError, match="neither a proxy count"):
        parse_trusted_proxies(value)


def test_a_spoofed_header_does_not_dodge_the_login_limit(alpha_api, alice, settings):
    settings.SOGOMS_TRUSTED_PROXIES = "1"
    for i in range(6):
        response = alpha_api.post(
            "auth/login",
            {"email": f"x{i}@example.com", "password": "wrong password!"},
            HTTP_X_FORWARDED_FOR=f"9.9.9.{i}, 198.51.100.7",
        )
        assert response.status_code == 401

    limited = alpha_api.post(
        "auth/login",
        {"email": "alice@example.com", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="9.9.9.99, 198.51.100.7",
    )

    assert limited.status_code == 429
