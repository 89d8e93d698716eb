"""Safe linking: a provider account takes over an account with its e-mail only when both the
provider and the account vouch for the address; linking from a signed-in account; unlinking."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tenants.models import Identity
from tests.conftest import PASSWORD, create_user, error_of

from .conftest import CLIENT_PAGE, at_provider, exchange, get, query_of, sign_in

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_verified_provider_email_links_to_a_verified_account(api, oauth_alpha):
    user = create_user(oauth_alpha, "vera@example.com", email_verified_at=timezone.now())

    data = exchange(api, sign_in(api, account="vera-sub", email="vera@example.com")["code"]).json()["data"]

    assert data["user"]["id"] == user.id
    assert Identity.objects.get(app="alpha", provider="local").user_id == user.id


def test_an_unverified_local_account_is_not_taken_over(api, oauth_alpha):
    # The pre-account hijack: an attacker registered the victim's address first, unverified.
    squatter = create_user(oauth_alpha, "victim@example.com")

    back = sign_in(api, account="victim-sub", email="victim@example.com")

    assert back["error"] == "ACCOUNT_EXISTS"
    assert "code" not in back
    assert not Identity.objects.exists()
    squatter.refresh_from_db()
    assert squatter.email_verified_at is None


def test_an_unverified_provider_email_does_not_take_a_verified_account(api, oauth_alpha):
    create_user(oauth_alpha, "wes@example.com", email_verified_at=timezone.now())

    back = sign_in(api, account="wes-sub", email="wes@example.com", email_verified=False)

    assert back["error"] == "ACCOUNT_EXISTS"
    assert not Identity.objects.exists()


def _link(api, token: str, provider: str = "local", redirect_uri: str = CLIENT_PAGE):
    return api.post(f"auth/oauth/{provider}/link", {"redirect_uri": redirect_uri}, token=token)


def test_a_signed_in_user_links_a_provider_account_and_signs_in_with_it(api, oauth_alpha):
    create_user(oauth_alpha, "lin@example.com")  # unverified: linking from the account is proof enough
    token = api.token_for("lin@example.com")

    response = _link(api, token)
    assert response.status_code == 200, response.content
    back = get(
        api, at_provider(response.json()["data"]["authorize_url"], account="lin-sub", email="other@x.org")
    )

    assert query_of(back["Location"]) == {"linked": "local"}
    listed = api.get("auth/me/identities", token=token).json()["data"]
    assert [(i["provider"], i["email"], i["email_verified"]) for i in listed] == [
        ("local", "other@x.org", True)
    ]
    data = exchange(api, sign_in(api, account="lin-sub", email="other@x.org")["code"]).json()["data"]
    assert data["user"]["email"] == "lin@example.com"


def test_linking_needs_a_token_and_an_allowed_redirect_uri(api, oauth_alpha):
    create_user(oauth_alpha, "tok@example.com")
    token = api.token_for("tok@example.com")

    error_of(_link(api, ""), 401, "UNAUTHORIZED")
    error = error_of(_link(api, token, redirect_uri="https://evil.example/"), 400, "VALIDATION_ERROR")
    assert error["details"] == {"redirect_uri": ["not allowed"]}
    error_of(_link(api, token, provider="nobody"), 404, "NOT_FOUND")


def test_a_provider_account_of_another_user_is_not_linked(api, oauth_alpha):
    exchange(api, sign_in(api, account="taken", email="first@example.com")["code"])
    create_user(oauth_alpha, "second@example.com")
    token = api.token_for("second@example.com")

    url = _link(api, token).json()["data"]["authorize_url"]
    back = get(api, at_provider(url, account="taken", email="first@example.com"))

    assert query_of(back["Location"])["error"] == "IDENTITY_IN_USE"
    assert (
        Identity.objects.get(app="alpha", subject="taken").user_id
        != api.get("auth/me", token=token).json()["data"]["user"]["id"]
    )


def test_unlinking_with_a_password_left_works(api, oauth_alpha):
    create_user(oauth_alpha, "unl@example.com")
    token = api.token_for("unl@example.com")
    get(api, at_provider(_link(api, token).json()["data"]["authorize_url"], account="unl-sub"))
    assert Identity.objects.filter(app="alpha").count() == 1

    response = api.call("delete", "auth/me/identities/local", token=token)

    assert response.status_code == 200, response.content
    assert not Identity.objects.exists()
    error_of(api.call("delete", "auth/me/identities/local", token=token), 404, "NOT_FOUND")
    assert api.login("unl@example.com", PASSWORD).status_code == 200


def test_the_last_way_to_sign_in_cannot_be_unlinked(api, oauth_alpha, fakes):
    token = exchange(api, sign_in(api, account="only", email="only@example.com")["code"]).json()["data"][
        "token"
    ]

    error = error_of(api.call("delete", "auth/me/identities/local", token=token), 409, "CONFLICT")

    assert error["details"] == {"provider": ["last way to sign in"]}
    assert Identity.objects.count() == 1
    # With a second provider linked, the first may go.
    fakes.profiles["discord"] = {
        "id": "only-d",
        "username": "o",
        "email": "only@example.com",
        "verified": True,
    }
    url = _link(api, token, provider="discord").json()["data"]["authorize_url"]
    assert query_of(get(api, at_provider(url))["Location"]) == {"linked": "discord"}
    assert api.call("delete", "auth/me/identities/local", token=token).status_code == 200
    error_of(api.call("delete", "auth/me/identities/discord", token=token), 409, "CONFLICT")
