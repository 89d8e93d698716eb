"""Adopting a Go-era app: its bcrypt hashes kept in the Go original's format.

Tenant beta is the Go-era tenant (`auth.password_hash: bcrypt`); alpha keeps Django's
hashers.
"""

from __future__ import annotations

import hashlib
import textwrap
from datetime import timedelta

import bcrypt
import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from tenants.auth import passwords
from tenants.auth.services import user_password_reset_by_operator
from tenants.config import LoadResult, load_config
from tenants.config.loader import LoadOptions
from tenants.models import PasswordResetToken
from tenants.usermodel import user_model
from tests.conftest import PASSWORD, create_user, data_of, error_of

pytestmark = pytest.mark.django_db(databases="__all__")


def stored_password(tenant, user) -> str:
    return user_model(tenant).objects.get(pk=user.pk).password


def go_check(password: str, stored: str) -> bool:
    """What the Go system's bcrypt.CompareHashAndPassword answers (any `$2?$` minor)."""
    return bcrypt.checkpw(password.encode(), ("$2b$" + stored[4:]).encode())


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
    token = "reset-token-of-charlie"
    PasswordResetToken.objects.create(
        app="beta",
        user_id=charlie.id,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        expires_at=timezone.now() + timedelta(hours=1),
    )
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

    token = "reset-token-of-charlie"
    PasswordResetToken.objects.create(
        app="beta",
        user_id=charlie.id,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        expires_at=timezone.now() + timedelta(hours=1),
    )
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
    result = load_auth(tmp_path, "password_hash: bcrypt\nbcrypt_cost: 12\n")
    go = result.registry.get("go")
    assert (go.password_hash, go.bcrypt_cost) == ("bcrypt", 12)


@pytest.mark.django_db(databases=[])
def test_the_defaults_keep_django_hashes(tmp_path):
    go = load_auth(tmp_path, "").registry.get("go")
    assert (go.password_hash, go.bcrypt_cost) == ("django", 10)


@pytest.mark.django_db(databases=[])
@pytest.mark.parametrize(
    "auth,path",
    [
        ("password_hash: md5\n", "auth.password_hash"),
        ("bcrypt_cost: 3\n", "auth.bcrypt_cost"),
        ("bcrypt_cost: 17\n", "auth.bcrypt_cost"),
    ],
)
def test_bad_values_are_config_problems(tmp_path, auth, path):
    result = load_auth(tmp_path, auth)
    assert result.registry is None
    assert [problem.path for problem in result.problems] == [path]
