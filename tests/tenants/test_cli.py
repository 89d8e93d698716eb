"""`python manage.py sogoms ...`: the operator's command line, in-process and as a process.

A broken config must stop `sogoms check` and the ASGI entry point in a fresh process
(the test process has the valid test config loaded), so those run through subprocess.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from io import StringIO

import jwt
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from tenants.cli.devsecrets import ensure_development_secrets
from tenants.models import IssuedRefreshToken, RevokedAccessToken
from tenants.usermodel import user_model
from tests.conftest import create_user

# Without these the subprocess uses SQLite files in its own var dir.
STRIPPED_ENV = {"DATABASE_URL", "SOGOMS_TENANT_DATABASE_URL", "REDIS_URL"}


def sogoms(*args: str) -> str:
    out = StringIO()
    call_command("sogoms", *args, stdout=out)
    return out.getvalue()


def sogoms_failing(*args: str) -> tuple[CommandError, str]:
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("sogoms", *args, stdout=out)
    return caught.value, out.getvalue()


# --- check, and refusing to start on a broken config -----------------------------------------------


def test_check_prints_ok_with_every_tenant(alpha, beta):
    output = sogoms("check")

    assert f"{settings.SOGOMS_CONFIG_DIR}: OK, 3 tenant(s)" in output
    assert (
        f"  alpha: /api on alpha.test, www.alpha.test ({alpha.db_engine} database, tokens valid 1h)" in output
    )
    assert f"  beta: /v1 on beta.test ({beta.db_engine} database, tokens valid 15m)" in output


@pytest.fixture
def broken_site(tmp_path):
    """A config with two problems in two files, and the environment to run the site on it."""
    secret = tmp_path / "jwt_secret"
    secret.write_text("s" * 40)
    routes = tmp_path / "config" / "routes"
    routes.mkdir(parents=True)
    (routes / "one.yaml").write_text(
        textwrap.dedent(
            f"""\
            app: one
            hosts: [one.test]
            auth:
              jwt_secret_file: {secret}
              jwt_expiry: 24x
            """
        )
    )
    (routes / "two.yaml").write_text(
        textwrap.dedent(
            f"""\
            app: two
            hosts: [two.test]
            hostz: [three.test]
            auth:
              jwt_secret_file: {secret}
            """
        )
    )
    return site_env(tmp_path / "config", tmp_path / "var")


def site_env(config_dir, var_dir) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in STRIPPED_ENV and not key.startswith(("SOGOMS_", "PYTEST_", "DJANGO_"))
    }
    env.update(
        SOGOMS_CONFIG_DIR=str(config_dir),
        SOGOMS_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="sogoms_site.settings",
    )
    return env


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


BAD_DURATION = "routes/one.yaml: auth.jwt_expiry: '24x' is not a duration (examples: 30s, 15m, 24h, 7d)"
UNKNOWN_KEY = "routes/two.yaml: hostz: unknown key (did you mean 'hosts'?)"


def test_check_on_a_broken_config_fails_and_prints_every_problem(broken_site):
    result = run_python(["manage.py", "sogoms", "check"], broken_site)

    assert result.returncode == 1, result.stderr
    assert f"{broken_site['SOGOMS_CONFIG_DIR']}: 2 problem(s)" in result.stdout
    assert f"  {BAD_DURATION}" in result.stdout
    assert f"  {UNKNOWN_KEY}" in result.stdout
    assert "sogoms check failed" in result.stderr


def test_the_asgi_app_refuses_to_start_on_a_broken_config(broken_site):
    result = run_python(["-c", "import sogoms_site.asgi"], broken_site)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "has 2 problem(s)" in result.stderr
    assert BAD_DURATION in result.stderr
    assert UNKNOWN_KEY in result.stderr


def test_the_asgi_app_starts_on_a_valid_config(tmp_path):
    env = site_env(settings.BASE_DIR / "tests" / "config", tmp_path / "var")

    code = "import sogoms_site.asgi as a; print(a.application, a.http_application)"
    result = run_python(["-c", code], env)

    assert result.returncode == 0, result.stderr
    assert "ASGIHandler" in result.stdout  # HTTP; the socket is beside it (tests/realtime)


# --- users --------------------------------------------------------------------------------------------


@pytest.mark.django_db(databases="__all__")
def test_users_role_makes_a_user_admin_and_the_next_token_says_so(alice, alpha, alpha_api):
    output = sogoms("users", "role", "alpha", "alice@example.com", "admin")

    assert "alpha: alice@example.com is now admin" in output
    assert user_model(alpha).objects.get(email="alice@example.com").role == "admin"
    token = alpha_api.token_for("alice@example.com")
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["role"] == "admin"
    assert payload["app"] == "alpha"


@pytest.mark.django_db(databases="__all__")
def test_users_role_can_take_admin_rights_back(alpha, alpha_api):
    create_user(alpha, "dana@example.com", role="admin")

    sogoms("users", "role", "alpha", "dana@example.com", "default")

    assert user_model(alpha).objects.get(email="dana@example.com").role == "default"
    payload = jwt.decode(alpha_api.token_for("dana@example.com"), options={"verify_signature": False})
    assert payload["role"] == "default"


@pytest.mark.django_db(databases="__all__")
def test_users_role_for_an_unknown_email_fails(alice, alpha):
    error, output = sogoms_failing("users", "role", "alpha", "nobody@example.com", "admin")

    assert error.returncode == 1
    assert "nobody@example.com" in output
    assert user_model(alpha).objects.get(email="alice@example.com").role == "default"


@pytest.mark.django_db(databases="__all__")
def test_users_role_for_an_unknown_app_fails(alice, alpha):
    error, output = sogoms_failing("users", "role", "nope", "alice@example.com", "admin")

    assert error.returncode == 2
    assert "unknown tenant 'nope'" in output
    assert user_model(alpha).objects.get(email="alice@example.com").role == "default"


@pytest.mark.django_db(databases="__all__")
def test_users_role_refuses_a_role_that_does_not_exist(alice, alpha):
    _error, out = sogoms_failing("users", "role", "alpha", "alice@example.com", "root")

    assert "'root' is not a role of alpha (default, admin)" in out
    assert user_model(alpha).objects.get(email="alice@example.com").role == "default"


@pytest.mark.django_db(databases="__all__")
def test_users_list_prints_the_users_of_one_tenant(alpha, alice, bob, charlie):
    create_user(alpha, "carol@example.com", name="Carol", is_active=False)

    lines = sogoms("users", "list", "alpha").splitlines()

    assert lines == [
        f"{alice.id}\talice@example.com\tdefault\tAlice",
        f"{bob.id}\tbob@example.com\tdefault\tBob",
        f"{user_model(alpha).objects.get(email='carol@example.com').id}\tcarol@example.com\tdefault\tCarol"
        " (disabled)",
    ]


@pytest.mark.django_db(databases="__all__")
def test_users_list_of_an_unknown_app_fails():
    error, output = sogoms_failing("users", "list", "nope")

    assert error.returncode == 2
    assert "unknown tenant 'nope'" in output


# --- migrate ------------------------------------------------------------------------------------------


# Not in a test transaction: SQLite's schema editor refuses to run inside one.
@pytest.mark.django_db(databases="__all__", transaction=True)
def test_migrate_brings_up_the_control_database_and_every_tenant(alpha, beta):
    from tenants.models import TenantRecord

    output = sogoms("migrate")

    assert "control database: up to date" in output
    assert f"alpha ({alpha.db_engine}): up to date" in output
    assert f"beta ({beta.db_engine}): up to date" in output
    assert set(TenantRecord.objects.values_list("app", flat=True)) == {"alpha", "beta", "gamma"}


@pytest.mark.django_db(databases="__all__")
def test_migrate_of_an_unknown_app_fails():
    error, output = sogoms_failing("migrate", "alpha", "nope")

    assert error.returncode == 2
    assert "unknown tenant(s): nope" in output
    assert "control database" not in output


# --- logs purge ---------------------------------------------------------------------------------------


def test_logs_purge_removes_only_files_older_than_the_retention():
    log_dir = settings.SOGOMS_LOG_DIR
    log_dir.mkdir(parents=True)
    today = datetime.now(UTC).date()

    def log_file(app: str, days_ago: int, kind: str = "event"):
        path = log_dir / f"{app}-{today - timedelta(days=days_ago):%Y%m%d}-{kind}.log"
        path.write_text("{}\n")
        return path

    old = [log_file("alpha", 30), log_file("alpha", 8, "error")]
    kept = [
        log_file("alpha", 7),  # alpha keeps 7 days
        log_file("alpha", 0),
        log_file("beta", 10),  # beta keeps the default 30 days
        log_file("delta", 400),  # not a tenant of this config
    ]

    output = sogoms("logs", "purge")

    assert "alpha: removed 2 file(s) older than 7 days" in output
    assert "beta: removed 0 file(s) older than 30 days" in output
    assert not any(path.exists() for path in old)
    assert all(path.exists() for path in kept)


def test_logs_purge_of_one_app_leaves_the_others_alone():
    log_dir = settings.SOGOMS_LOG_DIR
    log_dir.mkdir(parents=True)
    day = datetime.now(UTC).date() - timedelta(days=100)
    alpha_old = log_dir / f"alpha-{day:%Y%m%d}-event.log"
    beta_old = log_dir / f"beta-{day:%Y%m%d}-event.log"
    for path in (alpha_old, beta_old):
        path.write_text("{}\n")

    output = sogoms("logs", "purge", "beta")

    assert "beta: removed 1 file(s)" in output
    assert "alpha" not in output
    assert alpha_old.exists()
    assert not beta_old.exists()


# --- tokens purge -------------------------------------------------------------------------------------


@pytest.mark.django_db(databases="__all__")
def test_tokens_purge_deletes_expired_rows_and_keeps_live_ones():
    now = timezone.now()
    RevokedAccessToken.objects.create(
        app="alpha", jti="access-expired", expires_at=now - timedelta(minutes=1)
    )
    RevokedAccessToken.objects.create(app="alpha", jti="access-live", expires_at=now + timedelta(hours=1))
    for jti, expires_at in (
        ("refresh-expired-1", now - timedelta(days=1)),
        ("refresh-expired-2", now - timedelta(seconds=5)),
        ("refresh-live", now + timedelta(days=7)),
    ):
        IssuedRefreshToken.objects.create(
            app="alpha", jti=jti, user_id=1, issued_at=now - timedelta(days=30), expires_at=expires_at
        )

    output = sogoms("tokens", "purge")

    assert "removed 1 revoked access token(s) and 2 refresh token(s) past expiry" in output
    assert list(RevokedAccessToken.objects.values_list("jti", flat=True)) == ["access-live"]
    assert list(IssuedRefreshToken.objects.values_list("jti", flat=True)) == ["refresh-live"]


# --- devsecrets ---------------------------------------------------------------------------------------


@pytest.fixture
def dev_site(tmp_path):
    base = tmp_path / "base"
    var = base / "var"
    outside = tmp_path / "outside" / "jwt_secret"
    routes = tmp_path / "config" / "routes"
    routes.mkdir(parents=True)
    (routes / "inside.yaml").write_text("app: inside\nauth:\n  jwt_secret_file: var/secrets/inside_jwt\n")
    (routes / "outside.yaml").write_text(f"app: outside\nauth:\n  jwt_secret_file: {outside}\n")
    (routes / "sneaky.yaml").write_text("app: sneaky\nauth:\n  jwt_secret_file: var/../sneaky_jwt\n")
    (routes / "broken.yaml").write_text("app: [broken\n")
    return tmp_path / "config", base, var, outside


def test_devsecrets_creates_a_missing_secret_under_var_only(dev_site):
    config, base, var, outside = dev_site

    created = ensure_development_secrets(config, base, var)

    inside = var / "secrets" / "inside_jwt"
    assert created == [inside]
    assert len(inside.read_text().strip()) >= 32
    assert stat.S_IMODE(inside.stat().st_mode) == 0o600
    assert not outside.exists()
    assert not (base / "sneaky_jwt").exists()


def test_devsecrets_never_replaces_an_existing_secret(dev_site):
    config, base, var, _ = dev_site
    inside = var / "secrets" / "inside_jwt"
    inside.parent.mkdir(parents=True)
    inside.write_text("the operator's own secret\n")

    created = ensure_development_secrets(config, base, var)

    assert created == []
    assert inside.read_text() == "the operator's own secret\n"


def test_the_devsecrets_command_reports_what_it_created(dev_site, settings):
    config, base, var, outside = dev_site
    settings.SOGOMS_CONFIG_DIR = config
    settings.SOGOMS_BASE_DIR = base
    settings.VAR_DIR = var

    output = sogoms("devsecrets")

    assert output.strip() == f"created development secret {var / 'secrets' / 'inside_jwt'}"
    assert not outside.exists()
