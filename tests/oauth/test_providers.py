"""Discord and Spotify (fake, in their shapes): sign-in through user info, PKCE checked by the
provider, Spotify's e-mail never taken as verified, and the SSRF guard in front of them."""

from __future__ import annotations

import pytest

from tenants.models import Identity
from tenants.usermodel import user_model
from tests.conftest import create_user

from .conftest import at_provider, exchange, get, query_of, sign_in, start

pytestmark = pytest.mark.django_db(databases="__all__")


def test_discord_signs_in_with_its_user_info(api, oauth_alpha, fakes):
    fakes.profiles["discord"] = {
        "id": "80351110224678912",
        "username": "nelly",
        "global_name": "Nelly",
        "email": "Nelly@Example.com",
        "verified": True,
    }

    data = exchange(api, sign_in(api, "discord")["code"]).json()["data"]

    assert data["user"]["email"] == "nelly@example.com"
    assert data["user"]["name"] == "Nelly"
    assert user_model(oauth_alpha).objects.get(email="nelly@example.com").email_verified
    identity = Identity.objects.get(app="alpha", provider="discord")
    assert identity.subject == "80351110224678912"


def test_the_token_request_carries_the_pkce_verifier_and_the_client_credentials(api, fakes):
    fakes.profiles["discord"] = {"id": "1", "username": "pk", "email": "pk@example.com", "verified": True}
    fakes.token_requests.clear()

    sign_in(api, "discord")

    (sent,) = fakes.token_requests
    assert len(sent["code_verifier"]) >= 43
    assert sent["authorization"].startswith("Basic ")
    assert sent["redirect_uri"] == "http://alpha.test/api/auth/oauth/discord/callback"
    assert fakes.authorize_requests[-1]["scope"] == "identify email"


def test_an_unverified_discord_email_creates_an_unverified_user(api, oauth_alpha, fakes):
    fakes.profiles["discord"] = {"id": "2", "username": "uv", "email": "uv@example.com", "verified": False}

    exchange(api, sign_in(api, "discord")["code"])

    assert not user_model(oauth_alpha).objects.get(email="uv@example.com").email_verified


def test_spotify_signs_in_and_its_email_is_not_taken_as_verified(api, oauth_alpha, fakes):
    fakes.profiles["spotify"] = {"id": "wizzler", "display_name": "Wizzler", "email": "wiz@example.com"}

    data = exchange(api, sign_in(api, "spotify")["code"]).json()["data"]

    assert data["user"]["name"] == "Wizzler"
    assert not user_model(oauth_alpha).objects.get(email="wiz@example.com").email_verified
    assert fakes.authorize_requests[-1]["scope"] == "user-read-email"


def test_spotify_cannot_claim_a_verified_local_account(api, oauth_alpha, fakes):
    from django.utils import timezone

    create_user(oauth_alpha, "owner@example.com", email_verified_at=timezone.now())
    fakes.profiles["spotify"] = {"id": "spy", "display_name": "Spy", "email": "owner@example.com"}

    back = sign_in(api, "spotify")

    assert back["error"] == "ACCOUNT_EXISTS"
    assert not Identity.objects.exists()


def test_a_provider_without_an_email_cannot_create_an_account(api, fakes):
    fakes.profiles["discord"] = {"id": "3", "username": "noemail"}

    back = sign_in(api, "discord")

    assert back["error"] == "OAUTH_FAILED"


def test_loopback_providers_are_refused_unless_the_setting_allows_them(api, fakes, settings):
    fakes.profiles["discord"] = {"id": "4", "username": "x", "email": "x@example.com", "verified": True}
    callback = at_provider(start(api, "discord"))
    settings.SOGOMS_OAUTH_ALLOW_PRIVATE_NETWORK = False

    back = get(api, callback)

    query = query_of(back["Location"])
    assert query["error"] == "OAUTH_FAILED"
    assert "refused" in query["error_description"]
    assert not Identity.objects.exists()


def test_an_unverified_provider_address_must_be_verified_where_the_app_requires_it(
    api, oauth_alpha, fakes, reconfigure
):
    """Spotify vouches for no address: the new account gets a code, and in `required` mode
    the exchange is refused like a login, until the address is verified."""
    from tenants.models import EmailVerificationCode
    from tests.conftest import error_of

    reconfigure("alpha", verify_email="required", roles=("member", "admin"))
    fakes.profiles["spotify"] = {"id": "unproven", "display_name": "Un", "email": "un@example.com"}

    refused = exchange(api, sign_in(api, "spotify")["code"])

    error_of(refused, 403, "EMAIL_NOT_VERIFIED")
    user = user_model(oauth_alpha).objects.get(email="un@example.com")
    assert user.role == "member"  # the tenant's first role, as at register
    assert EmailVerificationCode.objects.filter(app="alpha", user_id=user.id).count() == 1
