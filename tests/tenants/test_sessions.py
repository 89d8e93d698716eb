"""Sessions that really end: a token opens the door only while its session and user allow it.

alice and bob are users of alpha; charlie is a user of beta, an outsider to alpha.
"""

from __future__ import annotations

import io
import time
from datetime import timedelta

import jwt
import pytest
from django.core.management import call_command
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sogoms_site.tenant_admin import open_tenant
from tenants.auth import current
from tenants.models import AuthSession
from tenants.registry import registry
from tenants.usermodel import user_model

from ..conftest import PASSWORD, create_user, data_of, error_of, reset_code_for

pytestmark = pytest.mark.django_db(databases="__all__")
NEW_PASSWORD = "a brand new passphrase 42"


@pytest.fixture(autouse=True)
def _fresh_content_types():
    """The admin logs changes against content types created in rolled-back transactions."""
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def sogoms(*args: str) -> str:
    out = io.StringIO()
    call_command("sogoms", *args, stdout=out)
    return out.getvalue()


def session_of(api, email: str, **headers) -> dict:
    return data_of(api.post("auth/login", {"email": email, "password": PASSWORD}, **headers))


# --- every token belongs to a session -------------------------------------------------


def test_login_opens_a_session_that_both_tokens_name(alpha_api, alice):
    data = session_of(alpha_api, alice.email, HTTP_USER_AGENT="Firefox on a phone")
    sid = claims(data["token"])["sid"]

    assert claims(data["refresh_token"])["sid"] == sid
    row = AuthSession.objects.get(pk=sid)
    assert (row.app, row.user_id, row.user_agent, row.ended_at) == (
        "alpha",
        alice.id,
        "Firefox on a phone",
        None,
    )
    assert row.ip == "127.0.0.1"


def test_register_opens_a_session(alpha_api):
    data = data_of(alpha_api.register("new@example.com"), 201)
    assert AuthSession.objects.filter(pk=claims(data["token"])["sid"], ended_at__isnull=True).exists()


def test_refresh_keeps_the_session(alpha_api, alice):
    first = session_of(alpha_api, alice.email)
    second = data_of(alpha_api.post("auth/refresh", {"refresh_token": first["refresh_token"]}))

    assert claims(second["token"])["sid"] == claims(first["token"])["sid"]
    assert claims(second["refresh_token"])["sid"] == claims(first["token"])["sid"]
    assert AuthSession.objects.count() == 1


def test_a_reused_refresh_token_ends_the_session_and_its_access_token(alpha_api, alice):
    first = session_of(alpha_api, alice.email)
    second = data_of(alpha_api.post("auth/refresh", {"refresh_token": first["refresh_token"]}))
    assert alpha_api.get("auth/me", token=second["token"]).status_code == 200

    error_of(alpha_api.post("auth/refresh", {"refresh_token": first["refresh_token"]}), 401, "UNAUTHORIZED")

    error_of(alpha_api.get("auth/me", token=second["token"]), 401, "UNAUTHORIZED")
    assert AuthSession.objects.get(pk=claims(first["token"])["sid"]).end_reason == "refresh_reused"


def test_a_signed_token_without_a_session_is_refused(alpha_api, alpha, alice):
    now = int(time.time())
    claims_ = {
        "type": "access",
        "jti": "j" * 32,
        "app": "alpha",
        "sub": alice.id,
        "iat": now,
        "exp": now + 600,
    }
    token = jwt.encode(claims_, alpha.jwt_secret, algorithm="HS256")
    error_of(alpha_api.get("auth/me", token=token), 401, "UNAUTHORIZED")
    forged_sid = jwt.encode({**claims_, "sid": "no-such-session"}, alpha.jwt_secret, algorithm="HS256")
    error_of(alpha_api.get("auth/me", token=forged_sid), 401, "UNAUTHORIZED")


def test_a_session_of_another_user_does_not_open_the_door(alpha_api, alpha, alice, bob):
    """A token naming bob's session but alice as subject (a secret leaked, say) is refused."""
    bob_sid = claims(alpha_api.token_for(bob.email))["sid"]
    now = int(time.time())
    token = jwt.encode(
        {
            "type": "access",
            "jti": "k" * 32,
            "app": "alpha",
            "sub": alice.id,
            "sid": bob_sid,
            "iat": now,
            "exp": now + 600,
        },
        alpha.jwt_secret,
        algorithm="HS256",
    )
    error_of(alpha_api.get("auth/me", token=token), 401, "UNAUTHORIZED")


# --- the role and the active flag are read now, not from the token -------------------


def test_a_demoted_admins_old_token_is_forbidden_at_once(alpha_api, alpha):
    create_user(alpha, "root@example.com", role="admin")
    token = alpha_api.token_for("root@example.com")
    assert alpha_api.get("_mail/templates", token=token).status_code == 200

    sogoms("users", "role", "alpha", "root@example.com", "default")

    error_of(alpha_api.get("_mail/templates", token=token), 403, "FORBIDDEN")
    assert data_of(alpha_api.get("auth/me", token=token))["user"]["role"] == "default"


def test_a_promoted_users_old_token_is_admin_at_once(alpha_api, alice):
    token = alpha_api.token_for(alice.email)
    error_of(alpha_api.get("_mail/templates", token=token), 403, "FORBIDDEN")

    sogoms("users", "role", "alpha", alice.email, "admin")

    assert claims(token)["role"] == "default"  # the claim says one thing, the user another
    assert alpha_api.get("_mail/templates", token=token).status_code == 200


def test_a_demotion_in_the_operators_admin_holds_at_once(operator, alpha_api, alpha):
    root = create_user(alpha, "root@example.com", role="admin", name="Root")
    token = alpha_api.token_for("root@example.com")
    assert alpha_api.get("_mail/templates", token=token).status_code == 200

    form = {"name": "Root", "role": "default", "is_active": "on", "_save": "Save"}
    open_tenant(registry().get("alpha"))  # its admin entries exist once it is opened there
    url = reverse("admin:tenants_user_alpha_change", args=[root.pk])
    assert operator.post(url, form, HTTP_HOST="admin.example").status_code == 302

    error_of(alpha_api.get("_mail/templates", token=token), 403, "FORBIDDEN")


def test_a_deactivated_users_token_no_longer_reaches_crud(alpha_api, alice):
    token = alpha_api.token_for(alice.email)
    assert alpha_api.get("projects", token=token).status_code == 200

    sogoms("users", "disable", "alpha", alice.email)

    error_of(alpha_api.get("projects", token=token), 401, "UNAUTHORIZED")
    error_of(alpha_api.post("projects", {"name": "X"}, token=token), 401, "UNAUTHORIZED")
    error_of(alpha_api.login(alice.email), 401, "INVALID_CREDENTIALS")


def test_a_deactivation_in_the_operators_admin_ends_the_sessions(operator, alpha_api, alice):
    token = alpha_api.token_for(alice.email)
    form = {"name": "Alice", "role": "default", "_save": "Save"}  # is_active unchecked
    open_tenant(registry().get("alpha"))  # its admin entries exist once it is opened there
    url = reverse("admin:tenants_user_alpha_change", args=[alice.pk])
    assert operator.post(url, form, HTTP_HOST="admin.example").status_code == 302

    error_of(alpha_api.get("projects", token=token), 401, "UNAUTHORIZED")
    assert AuthSession.objects.get(pk=claims(token)["sid"]).end_reason == "deactivated"


def test_deleting_a_user_in_the_operators_admin_ends_their_sessions(operator, alpha_api, alice):
    token = alpha_api.token_for(alice.email)
    open_tenant(registry().get("alpha"))  # its admin entries exist once it is opened there
    url = reverse("admin:tenants_user_alpha_delete", args=[alice.pk])
    assert operator.post(url, {"post": "yes"}, HTTP_HOST="admin.example").status_code == 302

    error_of(alpha_api.get("auth/me", token=token), 401, "UNAUTHORIZED")
    assert AuthSession.objects.get(pk=claims(token)["sid"]).end_reason == "deleted"


@pytest.mark.parametrize("action", ["disable", "enable", "logout"])
def test_the_user_commands_refuse_an_unknown_email(alice, action):
    from django.core.management import CommandError

    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("sogoms", "users", action, "alpha", "ghost@example.com", stdout=out)
    assert "No user 'ghost@example.com' in alpha." in out.getvalue()


def test_re_enabling_a_user_does_not_bring_old_tokens_back(alpha_api, alice):
    token = alpha_api.token_for(alice.email)
    sogoms("users", "disable", "alpha", alice.email)
    sogoms("users", "enable", "alpha", alice.email)

    error_of(alpha_api.get("auth/me", token=token), 401, "UNAUTHORIZED")
    assert alpha_api.get("auth/me", token=alpha_api.token_for(alice.email)).status_code == 200


# --- passwords ------------------------------------------------------------------------


def test_after_a_password_reset_the_old_access_token_is_refused(alpha_api, alpha, alice):
    token = alpha_api.token_for(alice.email)
    code = reset_code_for(alpha, alice, "a reset code the e-mail carried")

    data_of(alpha_api.post("auth/password/reset", {"token": code, "password": NEW_PASSWORD}))

    error_of(alpha_api.get("auth/me", token=token), 401, "UNAUTHORIZED")
    fresh = data_of(alpha_api.login(alice.email, NEW_PASSWORD))["token"]
    assert alpha_api.get("auth/me", token=fresh).status_code == 200


def test_after_an_operator_reset_the_old_access_token_is_refused(alpha_api, alpha, alice):
    from tenants.auth.services import user_password_reset_by_operator

    token = alpha_api.token_for(alice.email)
    user_password_reset_by_operator(tenant=alpha, user=user_model(alpha).objects.get(pk=alice.pk))

    error_of(alpha_api.get("auth/me", token=token), 401, "UNAUTHORIZED")


# --- logout, log out everywhere, the list of sessions -----------------------------------


def test_plain_logout_ends_only_the_current_session(alpha_api, alice):
    phone, laptop = session_of(alpha_api, alice.email), session_of(alpha_api, alice.email)

    data_of(alpha_api.post("auth/logout", token=phone["token"]))

    error_of(alpha_api.get("auth/me", token=phone["token"]), 401, "UNAUTHORIZED")
    assert alpha_api.get("auth/me", token=laptop["token"]).status_code == 200


def test_logout_all_ends_every_session_of_the_caller_and_nobody_elses(alpha_api, alice, bob):
    phone, laptop = session_of(alpha_api, alice.email), session_of(alpha_api, alice.email)
    bobs = alpha_api.token_for(bob.email)

    data_of(alpha_api.post("auth/logout", {"all": True}, token=phone["token"]))

    for token in (phone["token"], laptop["token"]):
        error_of(alpha_api.get("auth/me", token=token), 401, "UNAUTHORIZED")
    error_of(alpha_api.post("auth/refresh", {"refresh_token": laptop["refresh_token"]}), 401, "UNAUTHORIZED")
    assert alpha_api.get("auth/me", token=bobs).status_code == 200


@pytest.mark.parametrize("body", [{"all": "banana"}, {"everywhere": True}, {"all": True, "x": 1}])
def test_logout_refuses_a_body_it_does_not_know(alpha_api, alice, body):
    token = alpha_api.token_for(alice.email)
    error_of(alpha_api.post("auth/logout", body, token=token), 400, "VALIDATION_ERROR")
    assert alpha_api.get("auth/me", token=token).status_code == 200


def test_the_sessions_list_shows_the_callers_sessions_only(alpha_api, alice, bob):
    phone = session_of(alpha_api, alice.email, HTTP_USER_AGENT="phone")
    laptop = session_of(alpha_api, alice.email, HTTP_USER_AGENT="laptop")
    alpha_api.token_for(bob.email)

    rows = data_of(alpha_api.get("auth/sessions", token=laptop["token"]))

    assert {row["id"] for row in rows} == {claims(phone["token"])["sid"], claims(laptop["token"])["sid"]}
    assert {row["user_agent"]: row["current"] for row in rows} == {"phone": False, "laptop": True}
    assert set(rows[0]) == {"id", "created_at", "last_used_at", "ip", "user_agent", "current"}


def test_the_sessions_list_leaves_out_ended_sessions(alpha_api, alice):
    phone, laptop = session_of(alpha_api, alice.email), session_of(alpha_api, alice.email)
    alpha_api.post("auth/logout", token=phone["token"])

    rows = data_of(alpha_api.get("auth/sessions", token=laptop["token"]))
    assert [row["id"] for row in rows] == [claims(laptop["token"])["sid"]]


def test_a_user_ends_one_of_their_sessions(alpha_api, alice):
    phone, laptop = session_of(alpha_api, alice.email), session_of(alpha_api, alice.email)

    data_of(alpha_api.call("delete", f"auth/sessions/{claims(phone['token'])['sid']}", token=laptop["token"]))

    error_of(alpha_api.get("auth/me", token=phone["token"]), 401, "UNAUTHORIZED")
    error_of(alpha_api.post("auth/refresh", {"refresh_token": phone["refresh_token"]}), 401, "UNAUTHORIZED")
    assert alpha_api.get("auth/me", token=laptop["token"]).status_code == 200


def test_another_users_session_is_not_found(alpha_api, beta_api, alice, bob, charlie):
    alices = alpha_api.token_for(alice.email)
    bobs = alpha_api.token_for(bob.email)
    charlies = beta_api.token_for(charlie.email)

    for victim in (bobs, charlies):
        sid = claims(victim)["sid"]
        error_of(alpha_api.call("delete", f"auth/sessions/{sid}", token=alices), 404, "NOT_FOUND")

    assert alpha_api.get("auth/me", token=bobs).status_code == 200
    assert beta_api.get("auth/me", token=charlies).status_code == 200


@pytest.mark.parametrize("sid", ["x" * 300, "nope", "%00", "..", "' OR 1=1 --"])
def test_an_unknown_or_hostile_session_id_is_not_found(alpha_api, alice, sid):
    token = alpha_api.token_for(alice.email)
    error_of(alpha_api.call("delete", f"auth/sessions/{sid}", token=token), 404, "NOT_FOUND")


def test_the_sessions_endpoints_need_a_token(alpha_api):
    error_of(alpha_api.get("auth/sessions"), 401, "UNAUTHORIZED")
    error_of(alpha_api.call("delete", "auth/sessions/abc"), 401, "UNAUTHORIZED")


def test_log_out_everywhere_from_the_command_line(alpha_api, alice):
    token = alpha_api.token_for(alice.email)
    assert "1 session(s) ended" in sogoms("users", "logout", "alpha", alice.email)
    error_of(alpha_api.get("auth/me", token=token), 401, "UNAUTHORIZED")


# --- the cost: a cache per process, last_used_at at most once a minute -----------------


def _session_writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and "tenants_authsession" in q["sql"]]


def test_requests_do_not_write_last_used_at_more_than_once_a_minute(alpha_api, alice):
    token = alpha_api.token_for(alice.email)
    sid = claims(token)["sid"]

    with CaptureQueriesContext(connections["default"]) as queries:
        for _ in range(3):
            current.forget_all()  # even with nothing cached, no write within the minute
            assert alpha_api.get("auth/me", token=token).status_code == 200
    assert _session_writes(queries) == []

    an_hour_ago = timezone.now() - timedelta(hours=1)
    AuthSession.objects.filter(pk=sid).update(last_used_at=an_hour_ago)
    current.forget_all()
    with CaptureQueriesContext(connections["default"]) as queries:
        for _ in range(3):
            assert alpha_api.get("auth/me", token=token).status_code == 200
    assert len(_session_writes(queries)) == 1
    assert AuthSession.objects.get(pk=sid).last_used_at > an_hour_ago


def test_a_burst_of_requests_reads_the_session_and_the_user_once(alpha_api, alpha, alice):
    token = alpha_api.token_for(alice.email)
    alpha_api.get("projects", token=token)

    with (
        CaptureQueriesContext(connections["default"]) as control,
        CaptureQueriesContext(connections[alpha.db_alias]) as tenant,
    ):
        for _ in range(5):
            assert alpha_api.get("projects", token=token).status_code == 200
    assert not [q for q in control.captured_queries if "tenants_authsession" in q["sql"]]
    assert not [q for q in tenant.captured_queries if "users" in q["sql"] and "is_active" in q["sql"]]


def test_a_change_heard_from_another_process_is_forgotten_here(alpha_api, alice):
    """What the Redis listener does with a message: the next request reads the user anew."""
    token = alpha_api.token_for(alice.email)
    assert alpha_api.get("_mail/templates", token=token).status_code == 403
    user_model(alpha_api.tenant).objects.filter(pk=alice.pk).update(role="admin")  # by another process
    assert alpha_api.get("_mail/templates", token=token).status_code == 403  # still cached

    current._received({"app": "alpha", "user_id": alice.id, "session_id": None})

    assert alpha_api.get("_mail/templates", token=token).status_code == 200


def test_the_daily_purge_drops_expired_sessions_and_keeps_live_and_recently_ended_ones():
    from tenants.auth.revocation import purge_expired
    from tenants.auth.sessions import session_create

    now = timezone.now()
    expired = session_create(app="alpha", user_id=1, expires_at=now - timedelta(minutes=1))
    live = session_create(app="alpha", user_id=1, expires_at=now + timedelta(days=1))
    ended = session_create(app="alpha", user_id=2, expires_at=now + timedelta(days=1))
    AuthSession.objects.filter(pk=ended.pk).update(ended_at=now)

    purge_expired()

    assert set(AuthSession.objects.values_list("id", flat=True)) == {live.id, ended.id}
    assert not AuthSession.objects.filter(pk=expired.pk).exists()
