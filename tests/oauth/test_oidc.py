"""Sign-in with a real OpenID provider: a new user, the same user again, and every refusal."""

from __future__ import annotations

import dataclasses

import pytest

from tenants.auth.openapi import auth_paths
from tenants.models import Identity, OAuthCode, OAuthState
from tenants.usermodel import user_model
from tests.conftest import error_of

from .conftest import CLIENT_PAGE, at_provider, exchange, get, query_of, sign_in, start

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_first_sign_in_creates_a_verified_user_and_the_exchange_answers_like_a_login(api, oauth_alpha):
    back = sign_in(api, account="ann", email="ann@example.com", name="Ann")

    response = exchange(api, back["code"])

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert {"token", "refresh_token", "token_type", "expires_in", "user", "projects", "tasks"} <= set(data)
    assert data["user"]["email"] == "ann@example.com"
    assert data["user"]["name"] == "Ann"
    user = user_model(oauth_alpha).objects.get(email="ann@example.com")
    assert user.email_verified
    assert user.password.startswith("!")  # unusable: no password sign-in until one is set
    identity = Identity.objects.get(app="alpha", provider="local")
    assert (identity.subject, identity.user_id) == ("ann", user.id)
    me = api.get("auth/me", token=data["token"])
    assert me.json()["data"]["user"]["id"] == user.id


def test_signing_in_again_is_the_same_user(api, oauth_alpha):
    first = exchange(api, sign_in(api, account="ben", email="ben@example.com")["code"]).json()["data"]
    again = exchange(api, sign_in(api, account="ben", email="ben@example.com")["code"]).json()["data"]

    assert first["user"]["id"] == again["user"]["id"]
    assert user_model(oauth_alpha).objects.filter(email="ben@example.com").count() == 1
    assert Identity.objects.filter(app="alpha").count() == 1


def test_the_authorization_request_carries_state_nonce_and_an_s256_challenge(api):
    url = start(api, "local")
    query = query_of(url)

    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["state"] and query["nonce"]
    assert query["redirect_uri"] == "http://alpha.test/api/auth/oauth/local/callback"
    pending = OAuthState.objects.get(app="alpha")
    assert pending.nonce == query["nonce"]
    assert pending.state_hash != query["state"]  # kept hashed
    assert pending.redirect_uri == CLIENT_PAGE


def test_a_tampered_pkce_verifier_is_refused_by_the_provider(api):
    callback = at_provider(start(api, "local"), account="cat")
    OAuthState.objects.update(code_verifier="x" * 60)

    back = get(api, callback)

    assert back.status_code == 302
    query = query_of(back["Location"])
    assert query["error"] == "OAUTH_FAILED"
    assert "invalid_grant" in query["error_description"]
    assert not Identity.objects.exists()


def test_a_nonce_that_does_not_match_the_id_token_is_refused(api):
    callback = at_provider(start(api, "local"), account="dan")
    OAuthState.objects.update(nonce="another-nonce")

    back = get(api, callback)

    query = query_of(back["Location"])
    assert query["error"] == "OAUTH_FAILED"
    assert "nonce" in query["error_description"]
    assert not Identity.objects.exists()


def test_an_unknown_state_is_refused_without_a_redirect(api):
    callback = at_provider(start(api, "local"), account="eve")
    forged = callback.replace("state=", "state=forged")

    error = error_of(get(api, forged), 400, "OAUTH_STATE_INVALID")

    assert error["details"] == {"state": ["unknown"]}


def test_a_missing_state_is_refused(api):
    error_of(get(api, "/api/auth/oauth/local/callback?code=abc"), 400, "OAUTH_STATE_INVALID")


def test_a_state_is_used_once(api):
    callback = at_provider(start(api, "local"), account="fay")
    assert get(api, callback).status_code == 302

    error = error_of(get(api, callback), 400, "OAUTH_STATE_INVALID")

    assert error["details"] == {"state": ["already used"]}


def test_an_expired_state_is_refused(api):
    from datetime import timedelta

    from django.utils import timezone

    callback = at_provider(start(api, "local"), account="gus")
    OAuthState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    error = error_of(get(api, callback), 400, "OAUTH_STATE_INVALID")

    assert error["details"] == {"state": ["expired"]}


def test_a_state_of_another_provider_is_refused(api):
    callback = at_provider(start(api, "local"), account="hal")

    error_of(get(api, callback.replace("/local/", "/discord/")), 400, "OAUTH_STATE_INVALID")


def test_a_redirect_uri_off_the_allow_list_is_refused_without_a_redirect(api):
    for uri in ("https://evil.example/cb", "https://app.example.com/oauth/done/x", ""):
        response = get(api, f"/api/auth/oauth/local/start?redirect_uri={uri}")

        error = error_of(response, 400, "VALIDATION_ERROR")
        assert error["details"] == {"redirect_uri": ["not allowed"]}
    assert not OAuthState.objects.exists()


def test_an_unknown_provider_is_not_found(api):
    error_of(get(api, "/api/auth/oauth/nobody/start?redirect_uri=" + CLIENT_PAGE), 404, "NOT_FOUND")
    error_of(get(api, "/api/auth/oauth/nobody/callback?state=x&code=y"), 404, "NOT_FOUND")


def test_the_provider_refusing_goes_back_to_the_client_as_an_error(api):
    url = start(api, "local")
    state = query_of(url)["state"]

    back = get(api, f"/api/auth/oauth/local/callback?error=access_denied&state={state}")

    query = query_of(back["Location"])
    assert back["Location"].startswith(CLIENT_PAGE)
    assert query["error"] == "OAUTH_FAILED"
    assert "access_denied" in query["error_description"]


def test_the_exchange_code_is_single_use(api):
    code = sign_in(api, account="ivy")["code"]
    assert exchange(api, code).status_code == 200

    error = error_of(exchange(api, code), 400, "OAUTH_CODE_INVALID")

    assert error["details"] == {"code": ["already used"]}


def test_the_exchange_code_expires(api):
    from datetime import timedelta

    from django.utils import timezone

    code = sign_in(api, account="jon")["code"]
    row = OAuthCode.objects.get()
    assert row.expires_at - row.created_at == timedelta(seconds=60)
    assert row.code_hash != code
    OAuthCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    error_of(exchange(api, code), 400, "OAUTH_CODE_INVALID")


def test_bad_exchange_bodies_are_validation_errors(api):
    for body in ({}, {"code": ""}, {"code": "x" * 300}, {"code": "a", "more": 1}):
        error_of(api.post("auth/oauth/exchange", body), 400, "VALIDATION_ERROR")
    error_of(exchange(api, "never-issued"), 400, "OAUTH_CODE_INVALID")


def test_a_disabled_user_cannot_sign_in_with_the_provider(api, oauth_alpha):
    code = sign_in(api, account="kim", email="kim@example.com")["code"]
    assert exchange(api, code).status_code == 200
    user_model(oauth_alpha).objects.filter(email="kim@example.com").update(is_active=False)

    back = get(api, at_provider(start(api, "local"), account="kim", email="kim@example.com"))

    assert query_of(back["Location"])["error"] == "FORBIDDEN"


def test_expired_states_and_codes_are_purged_a_day_after_expiry(api):
    from datetime import timedelta

    from django.utils import timezone

    from tenants.retention import run_purgers

    sign_in(api, account="old")  # a used state and an unused code
    start(api, "local")  # a pending state
    assert (OAuthState.objects.count(), OAuthCode.objects.count()) == (2, 1)

    assert run_purgers(timezone.now())["oauth_states"] == 0
    counts = run_purgers(timezone.now() + timedelta(days=1, minutes=11))

    assert (counts["oauth_states"], counts["oauth_codes"]) == (2, 1)
    assert not OAuthState.objects.exists() and not OAuthCode.objects.exists()


def test_operators_see_identities_read_only(api, operator):
    exchange(api, sign_in(api, account="adm", email="adm@example.com")["code"])
    identity = Identity.objects.get()

    listing = operator.get("/admin/tenants/identity/", HTTP_HOST="localhost")
    page = operator.get(f"/admin/tenants/identity/{identity.pk}/change/", HTTP_HOST="localhost")

    assert listing.status_code == 200 and b"adm@example.com" in listing.content
    assert page.status_code == 200 and b'name="_save"' not in page.content
    deleted = operator.post(
        f"/admin/tenants/identity/{identity.pk}/delete/", {"post": "yes"}, HTTP_HOST="localhost"
    )
    assert deleted.status_code == 403
    assert Identity.objects.exists()


def test_a_callback_naming_another_issuer_is_refused(api):
    callback = at_provider(start(api, "local"), account="mix")
    assert "iss=" in callback  # oidc-provider names itself (RFC 9207)

    back = get(api, callback.replace("iss=", "iss=https%3A%2F%2Fevil.example&was="))

    assert query_of(back["Location"])["error"] == "OAUTH_FAILED"
    assert not Identity.objects.exists()


def test_a_new_account_gets_the_welcome_email(api):
    from mail.models import OutboxMessage
    from tests.mail.conftest import deliver_due

    sign_in(api, account="wel", email="wel@example.com", name="Wel")

    assert deliver_due().sent == 1
    message = OutboxMessage.objects.get()
    assert (message.template, message.to_email) == ("welcome", "wel@example.com")


def test_starting_sign_ins_is_limited_per_client_ip(api, oauth_alpha):
    limit = oauth_alpha.login_rate_per_ip.limit
    for _ in range(limit):
        start(api, "local")

    response = get(api, f"/api/auth/oauth/local/start?redirect_uri={CLIENT_PAGE}")

    error_of(response, 429, "RATE_LIMITED")
    assert OAuthState.objects.count() == limit


def test_the_openapi_document_describes_provider_sign_in_only_where_configured(api, oauth_alpha):
    paths = api.get("_openapi").json()["paths"]
    provider = paths["/auth/oauth/{provider}/start"]["get"]["parameters"][0]
    assert provider["schema"]["enum"] == ["discord", "local", "spotify"]
    assert "/auth/me/identities" in paths
    without = auth_paths(dataclasses.replace(oauth_alpha, oauth=None)).paths
    assert "/auth/login" in without
    assert not [path for path in without if "oauth" in path or "identities" in path]
