"""Adopting a Go-era app: the Go original's tokens until a date, its bcrypt hashes kept.

Tenant beta is the Go-era tenant (`auth.legacy_tokens_until: 2099-12-31`,
`auth.password_hash: bcrypt`); alpha has neither key. Both share one JWT secret, so a
token refused by alpha or carrying the wrong `app` is refused on its claims, not its
signature. The Go tokens are minted here as the Go system minted them.
"""

from __future__ import annotations

import textwrap
import time
from datetime import UTC, date, datetime, timedelta

import bcrypt
import jwt
import pytest
from django.contrib.auth.hashers import make_password

from sogoms_site.errors import InvalidToken
from tenants.auth import current, passwords
from tenants.auth.authentication import principal_from_token
from tenants.auth.services import (
    user_logout_everywhere,
    user_password_reset_by_operator,
    user_set_active,
)
from tenants.auth.tokens import TenantAccessToken
from tenants.config import LoadResult, load_config
from tenants.config.loader import LoadOptions, legacy_tokens_end
from tenants.models import PasswordResetToken
from tenants.usermodel import user_model
from tests.conftest import DROP, PASSWORD, create_user, data_of, error_of, go_token, reset_code_for

pytestmark = pytest.mark.django_db(databases="__all__")


def stored_password(tenant, user) -> str:
    return user_model(tenant).objects.get(pk=user.pk).password


def go_check(password: str, stored: str) -> bool:
    """What the Go system's bcrypt.CompareHashAndPassword answers (any `$2?$` minor)."""
    return bcrypt.checkpw(password.encode(), ("$2b$" + stored[4:]).encode())


# --- Go-era tokens ------------------------------------------------------------------------


def test_a_go_token_works_on_me_and_on_a_resource_list(beta_api, beta, charlie):
    token = go_token(beta, charlie)

    assert data_of(beta_api.get("auth/me", token=token))["user"]["email"] == "charlie@example.com"
    assert data_of(beta_api.get("projects", token=token)) == []


def test_a_go_token_with_its_subject_as_a_string_of_digits_works(beta_api, beta, charlie):
    assert beta_api.get("auth/me", token=go_token(beta, charlie, sub=str(charlie.id))).status_code == 200
    for subject in (f"{charlie.id}.0", f" {charlie.id}", True, 1.0 * charlie.id):
        response = beta_api.get("auth/me", token=go_token(beta, charlie, sub=subject))
        error_of(response, 401, "UNAUTHORIZED")


def test_the_principal_of_a_go_token_has_the_role_of_the_user_row(beta, charlie):
    user_model(beta).objects.filter(pk=charlie.pk).update(role="admin")
    principal = principal_from_token(go_token(beta, charlie, role="default"), beta)

    assert (principal.id, principal.role, principal.is_admin) == (charlie.id, "admin", True)
    assert (principal.email, principal.app, principal.session_id) == ("charlie@example.com", "beta", "")


def test_a_go_token_is_refused_after_the_date(beta_api, beta, charlie, reconfigure):
    token = go_token(beta, charlie)
    assert beta_api.get("auth/me", token=token).status_code == 200

    reconfigure("beta", legacy_tokens_until=datetime.now(UTC) - timedelta(seconds=1))
    error_of(beta_api.get("auth/me", token=token), 401, "UNAUTHORIZED")
    error_of(beta_api.get("projects", token=token), 401, "UNAUTHORIZED")


def test_the_date_means_until_the_end_of_that_day_utc(beta_api, beta, charlie, reconfigure):
    token = go_token(beta, charlie)
    reconfigure("beta", legacy_tokens_until=legacy_tokens_end(datetime.now(UTC).date()))
    assert beta_api.get("auth/me", token=token).status_code == 200

    reconfigure("beta", legacy_tokens_until=legacy_tokens_end(datetime.now(UTC).date() - timedelta(days=1)))
    error_of(beta_api.get("auth/me", token=token), 401, "UNAUTHORIZED")


def test_without_the_key_a_go_token_is_refused_like_any_invalid_token(
    alpha_api, alpha, beta_api, beta, alice, charlie
):
    assert beta_api.get("auth/me", token=go_token(beta, charlie)).status_code == 200

    refused = error_of(alpha_api.get("auth/me", token=go_token(alpha, alice)), 401, "UNAUTHORIZED")
    forged = error_of(
        alpha_api.get("auth/me", token=go_token(alpha, alice, secret="x" * 40)), 401, "UNAUTHORIZED"
    )
    assert refused["message"] == forged["message"]


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param({"app": "alpha"}, id="another app"),
        pytest.param({"app": DROP}, id="no app"),
        pytest.param({"secret": "another secret of at least thirty-two bytes"}, id="wrong secret"),
        pytest.param({"algorithm": "HS512"}, id="another algorithm"),
        pytest.param({"iat": DROP}, id="no iat"),
        pytest.param({"exp": DROP}, id="no exp"),
        pytest.param({"sub": DROP}, id="no sub"),
        pytest.param({"sub": 999999}, id="no such user"),
        pytest.param({"jti": "abc"}, id="a jti (a SOGOMS token)"),
        pytest.param({"type": "access"}, id="a type (a SOGOMS token)"),
        pytest.param({"token_type": "access"}, id="a token_type"),
        pytest.param({"sid": "0" * 32}, id="a session"),
    ],
)
def test_a_spoiled_go_token_is_refused(beta_api, beta, charlie, spoil):
    assert beta_api.get("auth/me", token=go_token(beta, charlie)).status_code == 200
    response = beta_api.get("auth/me", token=go_token(beta, charlie, **spoil))
    error_of(response, 401, "UNAUTHORIZED")


def test_an_unsigned_go_token_is_refused(beta_api, beta, charlie):
    assert beta_api.get("auth/me", token=go_token(beta, charlie)).status_code == 200
    unsigned = go_token(beta, charlie, secret="", algorithm="none")
    error_of(beta_api.get("auth/me", token=unsigned), 401, "UNAUTHORIZED")


def test_an_expired_go_token_is_refused(beta_api, beta, charlie):
    assert beta_api.get("auth/me", token=go_token(beta, charlie)).status_code == 200
    past = int(time.time()) - 10
    error_of(
        beta_api.get("auth/me", token=go_token(beta, charlie, iat=past - 60, exp=past)), 401, "TOKEN_EXPIRED"
    )


def test_a_go_token_checked_once_still_expires_on_time(beta_api, beta, charlie, monkeypatch):
    token = go_token(beta, charlie, exp=int(time.time()) + 60)
    assert beta_api.get("auth/me", token=token).status_code == 200
    monkeypatch.setattr(
        time, "time", lambda: jwt.decode(token, options={"verify_signature": False})["exp"] + 1
    )
    error_of(beta_api.get("auth/me", token=token), 401, "TOKEN_EXPIRED")


def test_sogoms_tokens_are_never_read_as_go_tokens(alpha_api, alpha, beta_api, beta, alice, charlie):
    assert beta_api.get("auth/me", token=go_token(beta, charlie)).status_code == 200
    refresh = beta_api.login("charlie@example.com").json()["data"]["refresh_token"]
    error_of(beta_api.get("auth/me", token=refresh), 401, "UNAUTHORIZED")

    for tenant, api, user in ((beta, beta_api, charlie), (alpha, alpha_api, alice)):
        access = TenantAccessToken(tenant=tenant)
        access["sub"] = user.id
        access["sid"] = "0" * 32
        del access["jti"]  # a SOGOMS access token without its jti, legacy mode or not
        error_of(api.get("auth/me", token=str(access)), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("how", ["deactivated", "password reset", "logged out everywhere"])
def test_a_go_token_ends_with_the_users_tokens(beta_api, beta, charlie, how):
    token = go_token(beta, charlie, iat=int(time.time()) - 3600)
    assert beta_api.get("auth/me", token=token).status_code == 200  # now remembered for a second

    if how == "deactivated":
        user_set_active(tenant=beta, email="charlie@example.com", active=False)
    elif how == "password reset":
        user_password_reset_by_operator(tenant=beta, user=charlie)
    else:
        user_logout_everywhere(tenant=beta, email="charlie@example.com")

    error_of(beta_api.get("auth/me", token=token), 401, "UNAUTHORIZED")
    error_of(beta_api.get("projects", token=token), 401, "UNAUTHORIZED")
    if how == "deactivated":  # enabled again: the token stays over, like every older token
        user_set_active(tenant=beta, email="charlie@example.com", active=True)
        error_of(beta_api.get("auth/me", token=token), 401, "UNAUTHORIZED")


def test_a_go_token_cannot_be_refreshed_and_has_no_session(beta_api, beta, charlie):
    token = go_token(beta, charlie)
    assert beta_api.get("auth/me", token=token).status_code == 200

    error_of(beta_api.post("auth/refresh", {"refresh_token": token}), 401, "UNAUTHORIZED")
    session = beta_api.login("charlie@example.com").json()["data"]
    listed = data_of(beta_api.get("auth/sessions", token=token))
    assert [row["current"] for row in listed] == [False]
    error_of(beta_api.call("delete", "auth/sessions/go", token=token), 404, "NOT_FOUND")
    assert beta_api.get("auth/me", token=token).status_code == 200
    assert beta_api.get("auth/me", token=session["token"]).status_code == 200


def test_logging_out_with_a_go_token_ends_it_and_every_session(beta_api, beta, charlie):
    token = go_token(beta, charlie, iat=int(time.time()) - 60)
    other = beta_api.token_for("charlie@example.com")

    answer = beta_api.post("auth/logout", {}, token=token)
    assert data_of(answer) is None and answer.json()["message"] == "Logged out everywhere"

    error_of(beta_api.get("auth/me", token=token), 401, "UNAUTHORIZED")
    error_of(beta_api.get("auth/me", token=other), 401, "UNAUTHORIZED")


def test_the_socket_takes_a_go_token_and_rechecks_it(beta, charlie):
    from realtime.auth import authenticate

    principal = authenticate(go_token(beta, charlie, iat=int(time.time()) - 60), beta)
    assert principal.id == charlie.id and principal.is_legacy
    assert current.refreshed(principal, beta).id == charlie.id

    user_set_active(tenant=beta, email="charlie@example.com", active=False)
    with pytest.raises(InvalidToken, match="signed out everywhere"):
        current.refreshed(principal, beta)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_socket_opens_with_a_go_token(beta, charlie):
    from channels.layers import channel_layers

    from tests.realtime.conftest import communicator, empty_tenant_tables, frame, run

    async def scenario():
        socket_ = communicator("beta.test", token=go_token(beta, charlie), path="/v1/ws")
        connected, subprotocol = await socket_.connect(timeout=3)
        await socket_.send_to(text_data='{"type":"ping"}')
        answer = await frame(socket_)
        await socket_.disconnect()
        return connected, subprotocol, answer

    channel_layers.backends.clear()
    try:
        assert run(scenario()) == (True, "bearer", {"type": "pong"})
    finally:
        channel_layers.backends.clear()
        empty_tenant_tables()


# --- bcrypt in the Go format ----------------------------------------------------------------


def test_register_stores_a_go_bcrypt_hash(beta_api, beta):
    data_of(beta_api.register("dave@example.com"), 201)
    user = user_model(beta).objects.get(email="dave@example.com")

    assert user.password.startswith("$2y$10$") and len(user.password) == 60
    assert go_check(PASSWORD, user.password)
    assert beta_api.login("dave@example.com").status_code == 200
    assert stored_password(beta, user) == user.password


@pytest.mark.parametrize("prefix,cost", [("$2a$", 10), ("$2y$", 4), ("$2b$", 12)])
def test_login_keeps_a_go_hash_byte_for_byte(beta_api, beta, charlie, prefix, cost):
    legacy = prefix + bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=cost)).decode()[4:]
    user_model(beta).objects.filter(pk=charlie.pk).update(password=legacy)

    assert beta_api.login("charlie@example.com").status_code == 200
    assert stored_password(beta, charlie) == legacy


def test_a_django_hash_becomes_bcrypt_at_login_in_bcrypt_mode(beta_api, beta, charlie):
    user_model(beta).objects.filter(pk=charlie.pk).update(
        password=make_password(PASSWORD, hasher="pbkdf2_sha256")
    )

    assert beta_api.login("charlie@example.com", "not the password").status_code == 401
    assert stored_password(beta, charlie).startswith("pbkdf2_sha256$")
    assert beta_api.login("charlie@example.com").status_code == 200
    assert stored_password(beta, charlie).startswith("$2y$10$")
    assert go_check(PASSWORD, stored_password(beta, charlie))


def test_the_same_go_hash_is_upgraded_in_django_mode_and_kept_in_bcrypt_mode(
    alpha_api, alpha, beta_api, beta
):
    legacy = "$2y$" + bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()[4:]
    for tenant in (alpha, beta):
        user = create_user(tenant, "legacy@example.com")
        user_model(tenant).objects.filter(pk=user.pk).update(password=legacy)

    assert alpha_api.login("legacy@example.com").status_code == 200
    assert beta_api.login("legacy@example.com").status_code == 200
    assert not user_model(alpha).objects.get(email="legacy@example.com").password.startswith("$2")
    assert user_model(beta).objects.get(email="legacy@example.com").password == legacy


def test_a_password_reset_stores_a_go_bcrypt_hash(beta_api, beta, charlie):
    token = reset_code_for(beta, charlie, "reset-token-of-charlie")
    new = "a brand new passphrase"
    data_of(beta_api.post("auth/password/reset", {"token": token, "password": new}))

    assert stored_password(beta, charlie).startswith("$2y$10$")
    assert go_check(new, stored_password(beta, charlie))


def test_the_operators_reset_and_the_test_users_store_go_bcrypt_hashes(beta, charlie):
    assert stored_password(beta, charlie).startswith("$2y$10$")
    password = user_password_reset_by_operator(tenant=beta, user=charlie)
    assert stored_password(beta, charlie).startswith("$2y$10$")
    assert go_check(password, stored_password(beta, charlie))


def test_a_new_password_over_72_bytes_is_refused_in_bcrypt_mode(alpha_api, beta_api, beta, charlie):
    long_ascii, long_accented = "x" * 73, "é" * 37  # 73 bytes; 37 characters but 74 bytes
    for password in (long_ascii, long_accented):
        error = error_of(beta_api.register("eve@example.com", password), 400, "VALIDATION_ERROR")
        assert "password" in error["details"] and "72 bytes" in error["message"]
    assert not user_model(beta).objects.filter(email="eve@example.com").exists()
    data_of(beta_api.register("eve@example.com", "y" * 72), 201)
    data_of(alpha_api.register("eve@example.com", long_ascii), 201)  # Django's hashers take it

    token = reset_code_for(beta, charlie, "reset-token-of-charlie")
    response = beta_api.post("auth/password/reset", {"token": token, "password": long_ascii})
    assert "password" in error_of(response, 400, "VALIDATION_ERROR")["details"]
    assert PasswordResetToken.objects.get(app="beta", user_id=charlie.id).used_at is None  # not spent


def test_a_long_password_never_logs_in_against_a_bcrypt_hash(beta_api, beta, charlie):
    # bcrypt would read only the first 72 bytes: a longer password must not match them.
    stored = passwords.hash_password("x" * 72, beta)
    assert stored.startswith("$2y$10$")
    user_model(beta).objects.filter(pk=charlie.pk).update(password=stored)
    assert beta_api.login("charlie@example.com", "x" * 72).status_code == 200
    error_of(beta_api.login("charlie@example.com", "x" * 73), 401, "INVALID_CREDENTIALS")
    assert stored_password(beta, charlie) == stored


def test_a_django_hash_of_a_password_too_long_for_bcrypt_stays(beta_api, beta, charlie):
    for password, moved in (("z" * 80, False), ("z" * 72, True)):
        user_model(beta).objects.filter(pk=charlie.pk).update(password=make_password(password))
        assert beta_api.login("charlie@example.com", password).status_code == 200
        assert stored_password(beta, charlie).startswith("$2y$") is moved


def test_an_unknown_email_costs_a_bcrypt_check_of_the_tenants_cost(alpha, beta, monkeypatch):
    checked: list[bytes] = []
    real = passwords.bcrypt.checkpw
    monkeypatch.setattr(
        passwords.bcrypt, "checkpw", lambda raw, hashed: checked.append(hashed) or real(raw, hashed)
    )

    passwords.spend_hashing_time(PASSWORD, beta)
    passwords.spend_hashing_time("x" * 100, beta)
    passwords.spend_hashing_time(PASSWORD, alpha)

    assert [hashed[:7] for hashed in checked] == [b"$2b$10$", b"$2b$10$"]


# --- the keys in the config ---------------------------------------------------------------


def load_auth(tmp_path, auth: str) -> LoadResult:
    (tmp_path / "routes").mkdir()
    (tmp_path / "jwt").write_text("s" * 40)
    text = "app: go\nhosts: [go.example]\nauth:\n  jwt_secret_file: jwt\n" + textwrap.indent(auth, "  ")
    (tmp_path / "routes" / "go.yaml").write_text(text)
    return load_config(LoadOptions(config_dir=tmp_path, base_dir=tmp_path, var_dir=tmp_path / "var"))


@pytest.mark.django_db(databases=[])
def test_the_keys_are_read_from_the_routes_file(tmp_path):
    result = load_auth(tmp_path, "legacy_tokens_until: 2026-12-31\npassword_hash: bcrypt\nbcrypt_cost: 12\n")
    go = result.registry.get("go")
    assert go.legacy_tokens_until == datetime(2027, 1, 1, tzinfo=UTC)
    assert (go.password_hash, go.bcrypt_cost) == ("bcrypt", 12)

    assert legacy_tokens_end(datetime(2026, 12, 31, 18, 30)) == datetime(2026, 12, 31, 18, 30, tzinfo=UTC)
    assert legacy_tokens_end(date(2026, 12, 31)) == datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.django_db(databases=[])
def test_the_defaults_keep_django_hashes_and_refuse_go_tokens(tmp_path):
    go = load_auth(tmp_path, "").registry.get("go")
    assert (go.legacy_tokens_until, go.password_hash, go.bcrypt_cost) == (None, "django", 10)


@pytest.mark.django_db(databases=[])
@pytest.mark.parametrize(
    "auth,path",
    [
        ("legacy_tokens_until: soon\n", "auth.legacy_tokens_until"),
        ("legacy_tokens_until: 20261231\n", "auth.legacy_tokens_until"),
        ("password_hash: md5\n", "auth.password_hash"),
        ("bcrypt_cost: 3\n", "auth.bcrypt_cost"),
        ("bcrypt_cost: 17\n", "auth.bcrypt_cost"),
    ],
)
def test_bad_values_are_config_problems(tmp_path, auth, path):
    result = load_auth(tmp_path, auth)
    assert result.registry is None
    assert [problem.path for problem in result.problems] == [path]
