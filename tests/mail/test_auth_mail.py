"""The auth flows that send mail: welcome on register, forgot and reset end to end."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.conf import settings
from django.utils import timezone

from mail import delivery
from mail.models import OutboxMessage
from tenants.models import PasswordResetToken
from tests.conftest import PASSWORD, data_of, error_of
from tests.mail.conftest import deliver_due

pytestmark = pytest.mark.django_db(databases="__all__")
NEW_PASSWORD = "a brand new passphrase"


def test_register_queues_the_welcome_email_and_it_is_delivered(alpha_api, settings):
    data_of(alpha_api.register("newbie@example.com", name="Newbie"), 201)
    # The sweep moves it (and the verification code's e-mail) from the tenant's pending table.
    assert deliver_due().sent == 2
    message = OutboxMessage.objects.get(template="welcome")
    assert (message.template, message.to_email, message.subject) == (
        "welcome",
        "newbie@example.com",
        "Welcome, Newbie",
    )
    assert "on alpha is ready" in message.body_text
    written = "".join(p.read_text() for p in (settings.VAR_DIR / "mail" / "alpha").glob("*.log"))
    assert "To: Newbie <newbie@example.com>" in written


def test_a_tenant_without_a_welcome_template_sends_none(beta_api):
    data_of(beta_api.register("quiet@example.com"), 201)
    assert not OutboxMessage.objects.exists()


def test_a_failed_registration_queues_nothing(alpha_api, alice):
    error_of(alpha_api.register(alice.email), 409, "CONFLICT")
    deliver_due()
    assert not OutboxMessage.objects.exists()


def forgot(api, email: str):
    return api.post("auth/password/forgot", {"email": email})


def reset_token() -> str:
    """The code as the user gets it: the outbox only shows [redacted], so deliver and read
    the message handed to the transport (not the newest file of var/mail/: the test
    processes share that directory, and two files of one second may have the same name)."""
    built: list = []
    build = delivery._email_of
    with mock.patch.object(delivery, "_email_of", lambda message: built.append(build(message)) or built[-1]):
        assert deliver_due().sent == 1
    [message] = built
    return re.findall(r"Code: (\S+) ", message.body)[-1]


def test_forgot_answers_the_same_whether_or_not_the_account_exists(alpha_api, alice):
    known, unknown = forgot(alpha_api, alice.email), forgot(alpha_api, "ghost@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert list(OutboxMessage.objects.values_list("to_email", flat=True)) == [alice.email]


def test_forgot_then_reset_changes_the_password_and_ends_every_session(alpha_api, alice):
    refresh = data_of(alpha_api.login(alice.email))["refresh_token"]
    forgot(alpha_api, alice.email)
    token = reset_token()
    assert PasswordResetToken.objects.get().token_hash != token  # only a digest is stored
    data_of(alpha_api.post("auth/password/reset", {"token": token, "password": NEW_PASSWORD}))
    error_of(alpha_api.login(alice.email), 401, "INVALID_CREDENTIALS")
    data_of(alpha_api.login(alice.email, NEW_PASSWORD))
    error_of(alpha_api.post("auth/refresh", {"refresh_token": refresh}), 401, "UNAUTHORIZED")


def test_a_reset_token_works_once(alpha_api, alice):
    forgot(alpha_api, alice.email)
    token = reset_token()
    data_of(alpha_api.post("auth/password/reset", {"token": token, "password": NEW_PASSWORD}))
    error = error_of(
        alpha_api.post("auth/password/reset", {"token": token, "password": PASSWORD}), 400, "VALIDATION_ERROR"
    )
    assert error["details"] == {"token": ["invalid, used or expired"]}


def test_an_expired_or_foreign_token_is_refused(alpha_api, beta_api, alice):
    forgot(alpha_api, alice.email)
    token = reset_token()
    error_of(
        beta_api.post("auth/password/reset", {"token": token, "password": NEW_PASSWORD}),
        400,
        "VALIDATION_ERROR",
    )
    PasswordResetToken.objects.update(expires_at=timezone.now())
    error_of(
        alpha_api.post("auth/password/reset", {"token": token, "password": NEW_PASSWORD}),
        400,
        "VALIDATION_ERROR",
    )
    data_of(alpha_api.login(alice.email))  # the old password still works


def test_a_weak_new_password_is_refused_and_the_token_kept(alpha_api, alice):
    forgot(alpha_api, alice.email)
    token = reset_token()
    error = error_of(
        alpha_api.post("auth/password/reset", {"token": token, "password": "123"}), 400, "VALIDATION_ERROR"
    )
    assert "password" in error["details"]
    data_of(alpha_api.post("auth/password/reset", {"token": token, "password": NEW_PASSWORD}))


def test_a_newer_reset_spends_the_older_tokens(alpha_api, alice):
    forgot(alpha_api, alice.email)
    first = reset_token()
    forgot(alpha_api, alice.email)
    second = reset_token()
    data_of(alpha_api.post("auth/password/reset", {"token": second, "password": NEW_PASSWORD}))
    error_of(
        alpha_api.post("auth/password/reset", {"token": first, "password": NEW_PASSWORD}),
        400,
        "VALIDATION_ERROR",
    )


def test_forgot_mails_are_limited_per_address_without_saying_so(alpha_api, alice, alpha):
    for _ in range(alpha.login_rate_per_email.limit + 2):
        assert forgot(alpha_api, alice.email).status_code in (202, 429)
    assert OutboxMessage.objects.count() == alpha.login_rate_per_email.limit


def test_a_tenant_without_a_reset_template_says_reset_is_not_set_up(beta_api, charlie):
    error_of(forgot(beta_api, charlie.email), 404, "NOT_FOUND")
    error = error_of(beta_api.post("auth/password/forgot", {"email": "nope"}), 400, "VALIDATION_ERROR")
    assert "email" in error["details"]


def test_the_reset_email_links_to_the_tenant_page_with_the_token(alpha_api, alpha, alice, monkeypatch):
    import dataclasses

    from tenants import registry as registry_module
    from tenants.config.loader import LoadResult
    from tenants.config.model import Registry

    linked = dataclasses.replace(alpha, password_reset_url="https://alpha.test/reset?token={token}")
    others = [t for t in registry_module.registry() if t.app != "alpha"]
    monkeypatch.setitem(registry_module._state, "result", LoadResult(Registry.of([linked, *others]), []))
    forgot(alpha_api, alice.email)
    token = reset_token()
    written = max(
        (settings.VAR_DIR / "mail" / "alpha").glob("*.log"), key=lambda path: path.stat().st_mtime_ns
    )
    assert f"Code: {token} (60 minutes). Link: https://alpha.test/reset?token={token}" in written.read_text()
    body = OutboxMessage.objects.get(template="password_reset").body_text
    assert body == "Code: [redacted] (60 minutes). Link: [redacted]"
