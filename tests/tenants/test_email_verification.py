"""E-mail verification (`auth.verify_email`): codes on register, resend and a new address,
`auth/verify`, login per mode, `PATCH auth/me`, and the operator's ways to mark addresses.

The codes are read from the text sealed for delivery (the outbox's columns only show
`[redacted]`). Each mode is a copy of alpha swapped into the registry for one test.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from mail.hooks import flush_pending
from mail.models import OutboxMessage
from mail.sealing import unseal
from sogoms_site.tenant_admin import open_tenant
from tenants import registry as registry_module
from tenants.models import AuthSession, EmailVerificationCode
from tenants.retention import purge_reset_tokens
from tenants.usermodel import user_model
from tests.conftest import PASSWORD, data_of, error_of
from tests.mail.conftest import deliver_due
from tests.tenants.test_config import Site, only_problem

pytestmark = pytest.mark.django_db(databases="__all__")
NEW = "newbie@example.com"


def codes_sent_to(email: str) -> list[str]:
    """The verification codes e-mailed to `email` so far, oldest first: the text sealed for
    delivery (the outbox's own columns only show `[redacted]`)."""
    flush_pending(registry_module.registry().get("alpha"))
    rows = OutboxMessage.objects.filter(template="verify_email", to_email=email).order_by("id")
    return [re.findall(r"Verify: (\S+) \(", unseal(row.sealed).body)[0] for row in rows]


def code_for(email: str) -> str:
    codes = codes_sent_to(email)
    assert codes, f"no verification code was sent to {email}"
    return codes[-1]


def verify(api, code: str):
    return api.post("auth/verify", {"token": code})


def resend(api, email: str, **extra):
    return api.post("auth/verify/resend", {"email": email}, **extra)


def me(api, token: str) -> dict:
    return data_of(api.get("auth/me", token=token))["user"]


def patch_me(api, token: str, body: dict):
    return api.call("patch", "auth/me", body, token)


def events(name: str) -> list[dict]:
    found = []
    for path in sorted(settings.SOGOMS_LOG_DIR.glob("alpha-*-event.log")):
        found += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [entry for entry in found if entry.get("event") == name]


# --- optional (alpha's default) ------------------------------------------------------------------


def test_optional_a_new_user_signs_in_unverified_then_verifies_with_the_mailed_code(alpha_api):
    registered = data_of(alpha_api.register(NEW), 201)
    assert registered["token"] and registered["user"]["email_verified"] is False
    login = data_of(alpha_api.login(NEW))
    assert login["user"]["email_verified"] is False
    assert me(alpha_api, login["token"])["email_verified"] is False

    verified = data_of(verify(alpha_api, code_for(NEW)))

    assert verified["user"]["email"] == NEW and verified["user"]["email_verified"] is True
    assert me(alpha_api, login["token"])["email_verified"] is True
    assert data_of(alpha_api.login(NEW))["user"]["email_verified"] is True
    assert user_model(alpha_api.tenant).objects.get(email=NEW).email_verified_at is not None


def test_the_code_is_stored_as_its_sha256_only_and_the_outbox_shows_it_redacted(alpha_api):
    data_of(alpha_api.register(NEW), 201)
    code = code_for(NEW)

    row = EmailVerificationCode.objects.get()
    assert row.token_hash == hashlib.sha256(code.encode()).hexdigest()
    assert code not in json.dumps(list(EmailVerificationCode.objects.values()), default=str)
    message = OutboxMessage.objects.get(template="verify_email")
    assert (message.to_email, message.body_text) == (NEW, "Verify: [redacted] (1440 minutes).")
    assert timedelta(hours=23, minutes=59) < row.expires_at - timezone.now() <= timedelta(hours=24)


def test_the_mail_links_to_the_tenants_page_and_the_expiry_is_the_tenants(alpha_api, reconfigure):
    reconfigure(
        "alpha",
        verify_email_url="https://alpha.test/verify?code={token}",
        verify_email_expiry=timedelta(minutes=30),
    )
    data_of(alpha_api.register(NEW), 201)
    code = code_for(NEW)
    message = OutboxMessage.objects.get(template="verify_email")
    body = unseal(message.sealed).body
    assert body == f"Verify: {code} (30 minutes). Link: https://alpha.test/verify?code={code}"
    assert message.body_text == "Verify: [redacted] (30 minutes). Link: [redacted]"
    deliver_due()  # and it reaches the user
    written = "".join(p.read_text() for p in (settings.VAR_DIR / "mail" / "alpha").glob("*.log"))
    assert body in written


def test_a_code_works_once(alpha_api):
    data_of(alpha_api.register(NEW), 201)
    code = code_for(NEW)
    data_of(verify(alpha_api, code))

    error = error_of(verify(alpha_api, code), 400, "VALIDATION_ERROR")

    assert error["details"] == {"token": ["invalid, used or expired"]}


def test_an_expired_unknown_or_foreign_code_is_refused(alpha_api, beta_api, reconfigure):
    data_of(alpha_api.register(NEW), 201)
    code = code_for(NEW)
    reconfigure("beta", verify_email="optional")  # beta has no template: not set up at all
    error_of(verify(beta_api, code), 404, "NOT_FOUND")
    error = error_of(verify(alpha_api, "not a code anybody got"), 400, "VALIDATION_ERROR")
    assert error["details"] == {"token": ["invalid, used or expired"]}
    EmailVerificationCode.objects.update(expires_at=timezone.now())

    error = error_of(verify(alpha_api, code), 400, "VALIDATION_ERROR")

    assert error["details"] == {"token": ["invalid, used or expired"]}
    assert user_model(alpha_api.tenant).objects.get(email=NEW).email_verified_at is None


# --- required ------------------------------------------------------------------------------------


def test_required_register_answers_the_user_without_tokens(alpha_api, reconfigure):
    reconfigure("alpha", verify_email="required")

    response = alpha_api.register(NEW)

    data = data_of(response, 201)
    assert set(data) == {"user"} and data["user"]["email_verified"] is False
    assert "verify" in response.json()["message"]
    assert not AuthSession.objects.exists()  # no session until the address is verified
    assert code_for(NEW)


def test_required_login_is_refused_after_the_right_password_only(alpha_api, reconfigure):
    reconfigure("alpha", verify_email="required")
    data_of(alpha_api.register(NEW), 201)

    error_of(alpha_api.login(NEW, "a wrong password"), 401, "INVALID_CREDENTIALS")
    error_of(alpha_api.login("ghost@example.com"), 401, "INVALID_CREDENTIALS")
    error = error_of(alpha_api.login(NEW), 403, "EMAIL_NOT_VERIFIED")
    assert error["details"] == {}

    data_of(verify(alpha_api, code_for(NEW)))
    login = data_of(alpha_api.login(NEW))
    assert login["token"] and login["user"]["email_verified"] is True


def test_required_holds_for_users_from_before_until_an_operator_marks_them(alpha_api, alice, reconfigure):
    reconfigure("alpha", verify_email="required")
    error_of(alpha_api.login(alice.email), 403, "EMAIL_NOT_VERIFIED")

    out = StringIO()
    call_command("sogoms", "users", "verify", "alpha", "--all", stdout=out)

    assert "1 address(es) marked verified" in out.getvalue()
    assert data_of(alpha_api.login(alice.email))["user"]["email_verified"] is True


# --- off -----------------------------------------------------------------------------------------


def test_off_sends_no_code_and_the_endpoints_are_not_found(alpha_api, reconfigure):
    reconfigure("alpha", verify_email="off")

    registered = data_of(alpha_api.register(NEW), 201)

    assert registered["token"] and registered["user"]["email_verified"] is False
    assert codes_sent_to(NEW) == []
    assert list(OutboxMessage.objects.values_list("template", flat=True)) == ["welcome"]
    assert not EmailVerificationCode.objects.exists()
    error_of(verify(alpha_api, "any code"), 404, "NOT_FOUND")
    error_of(resend(alpha_api, NEW), 404, "NOT_FOUND")
    data_of(alpha_api.login(NEW))


def test_an_unquoted_off_in_yaml_is_the_mode_off_and_the_defaults_are_optional_and_24h(tmp_path):
    site = Site(tmp_path)
    site.tenant("prokov")
    site.tenant("quiet", auth="verify_email: off\n")
    site.tenant(
        "strict",
        auth="verify_email: required\nverify_email_expiry: 2h\nverify_email_url: https://x.example/v?t={token}\n",
    )
    result = site.load()
    assert result.ok, [str(p) for p in result.problems]
    prokov, quiet, strict = (result.registry.get(app) for app in ("prokov", "quiet", "strict"))
    assert (prokov.verify_email, prokov.verify_email_expiry, prokov.verify_email_url) == (
        "optional",
        timedelta(hours=24),
        "",
    )
    assert quiet.verify_email == "off"
    assert (strict.verify_email, strict.verify_email_expiry) == ("required", timedelta(hours=2))
    assert strict.verify_email_url == "https://x.example/v?t={token}"

    site.tenant("quiet", auth="verify_email: sometimes\n")
    assert "auth.verify_email" in str(only_problem(site.load()))


# --- resend --------------------------------------------------------------------------------------


def test_resend_answers_the_same_for_unknown_verified_and_unverified_addresses(alpha_api, alice, bob):
    user_model(alpha_api.tenant).objects.filter(pk=bob.pk).update(email_verified_at=timezone.now())

    answers = [resend(alpha_api, email) for email in ("ghost@example.com", bob.email, alice.email)]

    assert {a.status_code for a in answers} == {200}
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert codes_sent_to(bob.email) == [] and len(codes_sent_to(alice.email)) == 1
    assert list(OutboxMessage.objects.values_list("to_email", flat=True)) == [alice.email]


def test_a_resent_code_verifies_and_spends_the_older_ones(alpha_api):
    data_of(alpha_api.register(NEW), 201)
    first = code_for(NEW)
    data_of(resend(alpha_api, NEW))
    second = code_for(NEW)
    assert first != second

    data_of(verify(alpha_api, second))

    error_of(verify(alpha_api, first), 400, "VALIDATION_ERROR")
    data_of(resend(alpha_api, NEW))  # verified now: the same answer, and no more mail
    assert codes_sent_to(NEW) == [first, second]


def test_resend_is_limited_per_client_ip_with_retry_after(alpha_api, alpha):
    for n in range(alpha.login_rate_per_ip.limit):
        data_of(resend(alpha_api, f"someone{n}@example.com"))

    response = resend(alpha_api, "one-more@example.com")

    error_of(response, 429, "RATE_LIMITED")
    assert int(response["Retry-After"]) >= 1
    data_of(resend(alpha_api, "one-more@example.com", REMOTE_ADDR="10.1.2.3"))  # another client


def test_resend_mails_are_capped_per_address_without_saying_so(alpha_api, alpha, alice):
    answers = [resend(alpha_api, alice.email, REMOTE_ADDR=f"10.0.0.{n}") for n in range(6)]

    assert {a.status_code for a in answers} == {200}
    assert len(codes_sent_to(alice.email)) == alpha.login_rate_per_email.limit


# --- a new address (PATCH auth/me) -----------------------------------------------------------------


def test_changing_the_email_needs_the_current_password(alpha_api, alice):
    token = alpha_api.token_for(alice.email)

    missing = error_of(patch_me(alpha_api, token, {"email": "a2@example.com"}), 400, "VALIDATION_ERROR")
    wrong = error_of(
        patch_me(alpha_api, token, {"email": "a2@example.com", "current_password": "nope nope"}),
        400,
        "VALIDATION_ERROR",
    )

    assert set(missing["details"]) == set(wrong["details"]) == {"current_password"}
    assert me(alpha_api, token)["email"] == alice.email


def test_a_changed_email_is_unverified_gets_a_new_code_and_sessions_go_on(alpha_api, alice):
    user_model(alpha_api.tenant).objects.filter(pk=alice.pk).update(email_verified_at=timezone.now())
    token = alpha_api.token_for(alice.email)
    assert me(alpha_api, token)["email_verified"] is True

    changed = data_of(
        patch_me(alpha_api, token, {"email": "Alice2@Example.com", "current_password": PASSWORD})
    )["user"]

    assert (changed["email"], changed["email_verified"]) == ("alice2@example.com", False)
    assert me(alpha_api, token)["email"] == "alice2@example.com"  # the session goes on
    error_of(alpha_api.login(alice.email), 401, "INVALID_CREDENTIALS")
    data_of(verify(alpha_api, code_for("alice2@example.com")))
    assert me(alpha_api, token)["email_verified"] is True
    [event] = events("email_changed")
    assert event["details"] == {"from": alice.email, "to": "alice2@example.com"}


def test_a_code_sent_to_the_old_address_no_longer_verifies(alpha_api):
    token = data_of(alpha_api.register(NEW), 201)["token"]
    old_code = code_for(NEW)
    data_of(patch_me(alpha_api, token, {"email": "moved@example.com", "current_password": PASSWORD}))

    error_of(verify(alpha_api, old_code), 400, "VALIDATION_ERROR")
    data_of(verify(alpha_api, code_for("moved@example.com")))


def test_a_taken_email_is_a_conflict(alpha_api, alice, bob):
    token = alpha_api.token_for(alice.email)

    error = error_of(
        patch_me(alpha_api, token, {"email": bob.email, "current_password": PASSWORD}), 409, "CONFLICT"
    )

    assert error["details"] == {"email": ["already registered"]}


def test_the_name_alone_needs_no_password(alpha_api, alice):
    token = alpha_api.token_for(alice.email)

    user = data_of(patch_me(alpha_api, token, {"name": "Alice B."}))["user"]

    assert (user["name"], user["email"]) == ("Alice B.", alice.email)
    error_of(patch_me(alpha_api, token, {}), 400, "VALIDATION_ERROR")
    error_of(patch_me(alpha_api, token, {"role": "admin"}), 400, "VALIDATION_ERROR")


def test_off_changes_the_email_without_sending_a_code(alpha_api, alice, reconfigure):
    reconfigure("alpha", verify_email="off")
    token = alpha_api.token_for(alice.email)

    data_of(patch_me(alpha_api, token, {"email": "a3@example.com", "current_password": PASSWORD}))

    assert codes_sent_to("a3@example.com") == [] and not EmailVerificationCode.objects.exists()
    data_of(alpha_api.login("a3@example.com"))


# --- operators -------------------------------------------------------------------------------------


def test_the_cli_marks_one_user_verified(alpha_api, alice, bob):
    out = StringIO()
    call_command("sogoms", "users", "verify", "alpha", "Alice@Example.com", stdout=out)

    assert "1 address(es) marked verified" in out.getvalue()
    users = user_model(alpha_api.tenant).objects
    assert users.get(pk=alice.pk).email_verified and not users.get(pk=bob.pk).email_verified


def test_the_admin_shows_and_marks_verified(operator, alpha, alice, bob):
    open_tenant(alpha)  # its admin entries exist once it is opened there
    url = reverse("admin:tenants_user_alpha_changelist")
    page = operator.get(url, HTTP_HOST="admin.example")
    assert "e-mail verified" in page.content.decode().lower()

    operator.post(url, {"action": "mark_verified", "_selected_action": [alice.pk]}, HTTP_HOST="admin.example")

    users = user_model(alpha).objects
    assert users.get(pk=alice.pk).email_verified and not users.get(pk=bob.pk).email_verified


def test_old_codes_are_purged_with_the_reset_tokens(alpha, alice, settings):
    settings.SOGOMS_RETENTION_RESET_TOKENS_DAYS = 7
    now = timezone.now()
    for days, name in ((8, "a"), (1, "b")):
        EmailVerificationCode.objects.create(
            app="alpha",
            user_id=alice.id,
            token_hash=name.ljust(64, "0"),
            expires_at=now - timedelta(days=days),
        )

    assert purge_reset_tokens(now)["verification_codes"] == 1
    assert list(EmailVerificationCode.objects.values_list("token_hash", flat=True)) == ["b".ljust(64, "0")]


def test_the_openapi_document_lists_the_verify_paths(alpha_api, reconfigure):
    document = alpha_api.get("_openapi").json()
    assert {"/auth/verify", "/auth/verify/resend"} <= set(document["paths"])
    assert "patch" in document["paths"]["/auth/me"]
    assert "email_verified" in document["components"]["schemas"]["User"]["required"]
    assert "summary" in document["paths"]["/auth/verify"]["post"]
    reconfigure("alpha", verify_email="required")
    login = alpha_api.get("_openapi").json()["paths"]["/auth/login"]["post"]
    assert "EMAIL_NOT_VERIFIED" in login["responses"]["403"]["description"]
