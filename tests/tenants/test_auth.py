"""Auth under a tenant's base path: register, login, me, logout, refresh, tokens, roles.

alice and bob are users of alpha; charlie is a user of beta, an outsider to alpha.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import bcrypt
import jwt
import pytest
from django.contrib.auth.hashers import BasePasswordHasher, MD5PasswordHasher

from tenants.auth.passwords import verify_password
from tenants.usermodel import user_model

from ..conftest import PASSWORD, create_user

pytestmark = pytest.mark.django_db(databases="__all__")


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def error_code(response) -> str:
    body = response.json()
    assert body["success"] is False
    return body["error"]["code"]


def signed(tenant, **payload) -> str:
    now = int(time.time())
    base = {"type": "access", "jti": "j" * 32, "app": tenant.app, "sub": 1, "iat": now, "exp": now + 600}
    return jwt.encode({**base, **payload}, tenant.jwt_secret, algorithm="HS256")


# --- register -------------------------------------------------------------------------


def test_it_registers_a_user_and_returns_a_session(alpha_api, alpha):
    response = alpha_api.register("new@example.com", name="Newcomer")

    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True and body["message"]
    data = body["data"]
    assert set(data) >= {"token", "refresh_token", "user"}
    assert data["user"]["email"] == "new@example.com"
    assert data["user"]["name"] == "Newcomer"
    assert data["user"]["role"] == "default"
    assert "password" not in data["user"]
    stored = user_model(alpha).objects.get(email="new@example.com")
    assert stored.password != PASSWORD and verify_password(PASSWORD, stored.password)[0]


def test_it_stores_the_email_in_lower_case(alpha_api, alpha):
    alpha_api.register("Mixed.Case@Example.COM")
    assert user_model(alpha).objects.filter(email="mixed.case@example.com").exists()


def test_it_refuses_a_duplicate_email_with_conflict(alpha_api, alice):
    response = alpha_api.register("ALICE@example.com")
    assert response.status_code == 409
    assert error_code(response) == "CONFLICT"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD, "name": "X"}, "email"),
        ({"email": "x@example.com", "password": "short", "name": "X"}, "password"),
        ({"email": "x@example.com", "password": "password123", "name": "X"}, "password"),
        ({"email": "x@example.com", "password": "12345678901", "name": "X"}, "password"),
        ({"email": "x@example.com", "password": PASSWORD}, "name"),
        ({"password": PASSWORD, "name": "X"}, "email"),
    ],
)
def test_it_refuses_invalid_registrations_per_field(alpha_api, alpha, payload, field):
    response = alpha_api.post("auth/register", payload)

    assert response.status_code == 400
    assert error_code(response) == "VALIDATION_ERROR"
    assert field in response.json()["error"]["details"]
    assert not user_model(alpha).objects.exists()


def test_a_client_cannot_choose_its_own_role(alpha_api, alpha):
    response = alpha_api.post(
        "auth/register", {"email": "x@example.com", "password": PASSWORD, "name": "X", "role": "admin"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"role": ["unknown field"]}
    assert not user_model(alpha).objects.exists()


# --- login ----------------------------------------------------------------------------


def test_it_logs_in_with_the_right_password(alpha_api, alice):
    response = alpha_api.login("alice@example.com")

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["user"]["id"] == alice.id
    assert claims(data["token"])["sub"] == alice.id


def test_wrong_password_and_unknown_email_get_the_same_answer(alpha_api, alice):
    wrong = alpha_api.login("alice@example.com", "not the password at all")
    unknown = alpha_api.login("nobody@example.com", "not the password at all")

    assert wrong.status_code == unknown.status_code == 401
    assert error_code(wrong) == error_code(unknown) == "INVALID_CREDENTIALS"
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


class CountingHasher(MD5PasswordHasher):
    verifications = 0

    def verify(self, password, encoded):
        CountingHasher.verifications += 1
        return super().verify(password, encoded)


def test_an_unknown_email_still_costs_a_password_hash(alpha_api, settings, alice):
    """Same work whether the e-mail exists or not, so timing does not tell."""
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    from tenants.auth import passwords

    passwords._dummy_hash.cache_clear()
    CountingHasher.verifications = 0
    alpha_api.login("nobody@example.com", "whatever password")
    assert CountingHasher.verifications == 1
    passwords._dummy_hash.cache_clear()


def test_a_disabled_user_cannot_log_in(alpha_api, alpha):
    create_user(alpha, "gone@example.com", is_active=False)
    response = alpha_api.login("gone@example.com")
    assert response.status_code == 401
    assert error_code(response) == "INVALID_CREDENTIALS"


def test_a_user_of_another_tenant_cannot_log_in_here(alpha_api, charlie):
    response = alpha_api.login("charlie@example.com")
    assert error_code(response) == "INVALID_CREDENTIALS"


# --- rate limits (alpha: 3 failures per e-mail per 15 min, 6 attempts per IP per min) --


def test_it_rate_limits_failed_logins_per_email(alpha_api, alice):
    for _ in range(3):
        assert alpha_api.login("alice@example.com", "wrong password!").status_code == 401

    limited = alpha_api.login("alice@example.com")  # even the right password now waits

    assert limited.status_code == 429
    assert error_code(limited) == "RATE_LIMITED"
    assert 0 < int(limited["Retry-After"]) <= 15 * 60


def test_the_email_limit_is_per_tenant(alpha_api, beta_api, alice, beta):
    create_user(beta, "alice@example.com")
    for _ in range(3):
        alpha_api.login("alice@example.com", "wrong password!")
    assert beta_api.login("alice@example.com").status_code == 200


def test_it_rate_limits_login_attempts_per_client_ip(alpha_api, alice):
    statuses = [alpha_api.login(f"user{i}@example.com", "wrong password!").status_code for i in range(6)]
    assert statuses == [401] * 6

    limited = alpha_api.login("alice@example.com")

    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 60
    other_ip = alpha_api.post(
        "auth/login", {"email": "alice@example.com", "password": PASSWORD}, REMOTE_ADDR="10.9.8.7"
    )
    assert other_ip.status_code == 200


# --- tokens ---------------------------------------------------------------------------


def test_the_access_token_carries_the_seed_claims(alpha_api, alpha, alice):
    token = alpha_api.token_for("alice@example.com")
    payload = claims(token)

    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert payload["sub"] == alice.id
    assert payload["email"] == "alice@example.com"
    assert payload["name"] == "Alice"
    assert payload["app"] == "alpha"
    assert payload["role"] == "default"
    assert payload["type"] == "access"
    assert len(payload["jti"]) >= 32
    assert payload["exp"] - payload["iat"] == int(alpha.jwt_expiry.total_seconds()) == 3600


def test_token_lifetime_follows_the_tenant_config(beta_api, charlie):
    payload = claims(beta_api.token_for("charlie@example.com"))
    assert payload["exp"] - payload["iat"] == 15 * 60


def test_me_returns_the_caller_and_not_someone_else(alpha_api, alice, bob):
    token = alpha_api.token_for("bob@example.com")
    response = alpha_api.get("auth/me", token=token)

    assert response.status_code == 200
    assert response.json()["data"]["user"]["email"] == "bob@example.com"


def test_a_token_of_another_tenant_is_refused_even_with_the_same_secret(alpha_api, beta_api, charlie):
    assert alpha_api.tenant.jwt_secret == beta_api.tenant.jwt_secret  # the test config's point
    token = beta_api.token_for("charlie@example.com")

    response = alpha_api.get("auth/me", token=token)

    assert response.status_code == 401
    assert error_code(response) == "UNAUTHORIZED"


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Token abc", "Basic dXNlcjpwYXNz", "Bearer a b", "Bearer not.a.jwt"],
)
def test_a_missing_or_malformed_authorization_header_is_unauthorized(alpha_api, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = alpha_api.get("auth/me", **extra)
    assert response.status_code == 401
    assert error_code(response) == "UNAUTHORIZED"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_unsigned_token_is_refused(alpha_api, alpha, alice):
    token = jwt.encode(
        {"type": "access", "jti": "x" * 32, "app": "alpha", "sub": alice.id, "iat": 0, "exp": 2**31},
        key=None,
        algorithm="none",
    )
    assert error_code(alpha_api.get("auth/me", token=token)) == "UNAUTHORIZED"


def test_a_tampered_token_is_refused(alpha_api, alice, bob):
    token = alpha_api.token_for("alice@example.com")
    header, _payload, signature = token.split(".")
    forged = jwt.encode(
        {**claims(token), "sub": bob.id}, "another secret of enough length!!", algorithm="HS256"
    )
    tampered = ".".join([header, forged.split(".")[1], signature])

    response = alpha_api.get("auth/me", token=tampered)

    assert response.status_code == 401
    assert error_code(response) == "UNAUTHORIZED"


def test_an_expired_token_says_so(alpha_api, alpha, alice):
    past = int(time.time()) - 10
    token = signed(alpha, sub=alice.id, iat=past - 3600, exp=past)

    response = alpha_api.get("auth/me", token=token)

    assert response.status_code == 401
    assert error_code(response) == "TOKEN_EXPIRED"


def test_a_token_without_required_claims_is_refused(alpha_api, alpha, alice):
    now = int(time.time())
    token = jwt.encode({"sub": alice.id, "exp": now + 60}, alpha.jwt_secret, algorithm="HS256")
    assert error_code(alpha_api.get("auth/me", token=token)) == "UNAUTHORIZED"


def test_a_refresh_token_is_not_an_access_token(alpha_api, alice):
    refresh = alpha_api.login("alice@example.com").json()["data"]["refresh_token"]
    assert error_code(alpha_api.get("auth/me", token=refresh)) == "UNAUTHORIZED"


def test_a_token_of_a_deleted_user_no_longer_reads_me(alpha_api, alpha, alice):
    token = alpha_api.token_for("alice@example.com")
    user_model(alpha).objects.filter(pk=alice.pk).delete()
    assert error_code(alpha_api.get("auth/me", token=token)) == "UNAUTHORIZED"


# --- logout and refresh ---------------------------------------------------------------


def test_logout_revokes_the_token_until_it_expires(alpha_api, alice):
    token = alpha_api.token_for("alice@example.com")
    other = alpha_api.token_for("alice@example.com")

    assert alpha_api.post("auth/logout", token=token).status_code == 200

    assert error_code(alpha_api.get("auth/me", token=token)) == "UNAUTHORIZED"
    assert alpha_api.get("auth/me", token=other).status_code == 200  # other sessions live on


def test_logout_also_ends_the_refresh_token_of_that_session(alpha_api, alice):
    data = alpha_api.login("alice@example.com").json()["data"]
    alpha_api.post("auth/logout", token=data["token"])

    response = alpha_api.post("auth/refresh", {"refresh_token": data["refresh_token"]})

    assert response.status_code == 401


def test_logout_needs_a_token(alpha_api):
    assert error_code(alpha_api.post("auth/logout")) == "UNAUTHORIZED"


def test_refresh_rotates_the_pair(alpha_api, alice):
    first = alpha_api.login("alice@example.com").json()["data"]

    response = alpha_api.post("auth/refresh", {"refresh_token": first["refresh_token"]})

    assert response.status_code == 200
    second = response.json()["data"]
    assert second["refresh_token"] != first["refresh_token"]
    assert claims(second["token"])["sub"] == alice.id
    assert alpha_api.get("auth/me", token=second["token"]).status_code == 200


def test_a_spent_refresh_token_is_refused_and_ends_its_family(alpha_api, alice):
    first = alpha_api.login("alice@example.com").json()["data"]
    second = alpha_api.post("auth/refresh", {"refresh_token": first["refresh_token"]}).json()["data"]

    reuse = alpha_api.post("auth/refresh", {"refresh_token": first["refresh_token"]})

    assert reuse.status_code == 401
    assert error_code(reuse) == "UNAUTHORIZED"
    # a replayed token means it leaked: the live descendant is revoked too
    assert alpha_api.post("auth/refresh", {"refresh_token": second["refresh_token"]}).status_code == 401


def test_refresh_refuses_an_access_token_a_foreign_token_and_garbage(alpha_api, beta_api, alice, charlie):
    access = alpha_api.token_for("alice@example.com")
    foreign = beta_api.login("charlie@example.com").json()["data"]["refresh_token"]
    for candidate in (access, foreign, "garbage"):
        response = alpha_api.post("auth/refresh", {"refresh_token": candidate})
        assert response.status_code == 401, candidate
    assert error_code(alpha_api.post("auth/refresh", {})) == "VALIDATION_ERROR"


def test_an_expired_refresh_token_says_so(alpha_api, alpha, alice):
    past = int(time.time()) - 10
    token = signed(alpha, type="refresh", sub=alice.id, iat=past - 60, exp=past)
    response = alpha_api.post("auth/refresh", {"refresh_token": token})
    assert error_code(response) == "TOKEN_EXPIRED"


def test_a_validly_signed_but_never_issued_refresh_token_is_refused(alpha_api, alpha, alice):
    token = signed(alpha, type="refresh", sub=alice.id)
    assert alpha_api.post("auth/refresh", {"refresh_token": token}).status_code == 401


# --- Go-era bcrypt hashes -------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["$2a$", "$2b$", "$2y$"])
def test_go_bcrypt_hashes_verify_and_are_upgraded_on_login(alpha_api, alpha, prefix):
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    legacy = prefix + hashed[4:]
    user = create_user(alpha, "legacy@example.com")
    user_model(alpha).objects.filter(pk=user.pk).update(password=legacy)

    assert alpha_api.login("legacy@example.com", "wrong password!").status_code == 401
    assert user_model(alpha).objects.get(pk=user.pk).password == legacy  # no upgrade on failure

    assert alpha_api.login("legacy@example.com").status_code == 200
    upgraded = user_model(alpha).objects.get(pk=user.pk).password
    assert not upgraded.startswith(("$2a$", "$2b$", "$2y$"))
    assert verify_password(PASSWORD, upgraded) == (True, False)
    assert alpha_api.login("legacy@example.com").status_code == 200


def test_a_malformed_legacy_hash_fails_closed():
    assert verify_password(PASSWORD, "$2a$10$broken") == (False, False)


class LegacyHasher(BasePasswordHasher):
    """Stands for an older Django hasher that should be replaced on login."""

    algorithm = "legacy_md5"

    def encode(self, password, salt):
        return MD5PasswordHasher().encode(password, salt).replace("md5$", "legacy_md5$", 1)

    def verify(self, password, encoded):
        return MD5PasswordHasher().verify(password, encoded.replace("legacy_md5$", "md5$", 1))

    def decode(self, encoded):
        return {"algorithm": self.algorithm, "hash": encoded, "salt": ""}

    def safe_summary(self, encoded):
        return {}


def test_django_hashes_of_an_old_hasher_are_upgraded_too(settings, alpha_api, alpha):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        f"{__name__}.LegacyHasher",
    ]
    user = create_user(alpha, "old@example.com")
    old = LegacyHasher().encode(PASSWORD, "salt")
    user_model(alpha).objects.filter(pk=user.pk).update(password=old)

    assert alpha_api.login("old@example.com").status_code == 200
    assert user_model(alpha).objects.get(pk=user.pk).password.startswith("md5$")


# --- roles ----------------------------------------------------------------------------


def test_the_role_set_by_an_operator_reaches_the_token(alpha_api, alpha, alice):
    from tenants.auth.services import user_set_role

    user_set_role(tenant=alpha, email="alice@example.com", role="admin")

    payload = claims(alpha_api.token_for("alice@example.com"))
    assert payload["role"] == "admin"
    assert (
        alpha_api.get("auth/me", token=alpha_api.token_for("alice@example.com")).json()["data"]["user"][
            "role"
        ]
        == "admin"
    )


def test_refresh_picks_up_a_changed_role(alpha_api, alpha, alice):
    from tenants.auth.services import user_set_role

    refresh = alpha_api.login("alice@example.com").json()["data"]["refresh_token"]
    user_set_role(tenant=alpha, email="alice@example.com", role="admin")

    token = alpha_api.post("auth/refresh", {"refresh_token": refresh}).json()["data"]["token"]
    assert claims(token)["role"] == "admin"


def test_revocation_rows_expire_with_their_tokens(alpha_api, alice):
    from tenants.auth.revocation import purge_expired
    from tenants.models import RevokedAccessToken

    token = alpha_api.token_for("alice@example.com")
    alpha_api.post("auth/logout", token=token)
    assert RevokedAccessToken.objects.count() == 1

    assert purge_expired(datetime.now(UTC)) == (0, 0)
    assert purge_expired(datetime.now(UTC) + timedelta(days=365))[0] == 1


def test_a_token_checked_once_still_expires_on_time(alpha_api, alice, monkeypatch):
    token = alpha_api.token_for("alice@example.com")
    assert alpha_api.get("auth/me", token=token).status_code == 200  # now remembered as valid

    expires = claims(token)["exp"]
    monkeypatch.setattr(time, "time", lambda: expires + 1)

    assert error_code(alpha_api.get("auth/me", token=token)) == "TOKEN_EXPIRED"


def test_a_token_checked_once_is_still_refused_after_logout(alpha_api, alice):
    token = alpha_api.token_for("alice@example.com")
    assert alpha_api.get("auth/me", token=token).status_code == 200
    alpha_api.post("auth/logout", token=token)
    assert error_code(alpha_api.get("auth/me", token=token)) == "UNAUTHORIZED"
