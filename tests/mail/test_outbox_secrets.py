"""One-time secrets in mail (the reset code) are never readable from the outbox.

The row, the tenant API and the operators' admin show `[redacted]`; the real message is
sealed until delivery, sent intact, and the sealed text is gone once sent or dead.
"""

from __future__ import annotations

import json
import secrets

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from mail import sealing, services
from mail.models import OutboxMessage, Status
from mail.templates import REDACTED, Rendered, TemplateFile
from sogoms_site.errors import StateConflict
from tests.conftest import create_user, data_of, error_of
from tests.mail.conftest import deliver_due

pytestmark = pytest.mark.django_db(databases="__all__")
CODE = "KnownResetCode-0123456789abcdefghijklmnopqrstuv"
HOST = "admin.example"


@pytest.fixture
def known_code(monkeypatch):
    """The reset flow draws this code, so the tests can look for it everywhere."""
    monkeypatch.setattr(secrets, "token_urlsafe", lambda *args: CODE)
    return CODE


@pytest.fixture
def admin_token(alpha, alpha_api):
    create_user(alpha, "root@example.com", role="admin")
    return alpha_api.token_for("root@example.com")


def forgot(api, email: str) -> OutboxMessage:
    assert api.post("auth/password/forgot", {"email": email}).status_code == 202
    return OutboxMessage.objects.get(template="password_reset")


def row_text(message: OutboxMessage) -> str:
    message.refresh_from_db()
    return json.dumps({f.name: getattr(message, f.name) for f in OutboxMessage._meta.fields}, default=str)


MAIL_DIR = settings.VAR_DIR / "mail" / "alpha"


@pytest.fixture(autouse=True)
def _earlier_files():
    """The files transport's directory is shared by the session: what its files held before
    this test is not ours. Sizes, not names: Django's file backend names a file by the second
    and its own id(), so a backend of this test may append to a file an earlier one began."""
    _seen.clear()
    _seen.update((path, path.stat().st_size) for path in MAIL_DIR.glob("*.log"))


_seen: dict = {}


def delivered_files() -> str:
    """What the files transport wrote during this test."""
    written = []
    for path in MAIL_DIR.glob("*.log"):
        with path.open("rb") as file:
            file.seek(_seen.get(path, 0))
            written.append(file.read().decode())
    return "".join(written)


def test_the_reset_code_is_not_in_the_outbox_row(alpha_api, alice, known_code):
    message = forgot(alpha_api, alice.email)
    assert known_code not in row_text(message)
    assert message.body_text == f"Code: {REDACTED} (60 minutes)."
    assert message.redacted and message.sealed


def test_the_tenant_admin_api_shows_redacted_not_the_code(alpha_api, alice, admin_token, known_code):
    message = forgot(alpha_api, alice.email)
    detail = alpha_api.get(f"_mail/messages/{message.pk}", token=admin_token)
    assert known_code not in detail.content.decode()
    assert data_of(detail)["body_text"] == f"Code: {REDACTED} (60 minutes)."
    listing = alpha_api.get("_mail/messages", token=admin_token)
    assert known_code not in listing.content.decode()
    assert "sealed" not in data_of(detail)


def test_the_admin_page_shows_redacted_to_a_superuser(operator, alpha_api, alice, known_code):
    message = forgot(alpha_api, alice.email)
    for path in ("/admin/mail/outboxmessage/", f"/admin/mail/outboxmessage/{message.pk}/change/"):
        page = operator.get(path, HTTP_HOST=HOST)
        assert page.status_code == 200
        assert known_code not in page.content.decode()
        assert message.sealed not in page.content.decode()
    assert REDACTED in page.content.decode()


def test_staff_who_are_not_superusers_cannot_open_the_outbox(client, alpha_api, alice, known_code):
    message = forgot(alpha_api, alice.email)
    staff = get_user_model().objects.create_user(
        "staff", "staff@example.com", "staff pass 123", is_staff=True
    )
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="mail"))
    client.force_login(staff)
    for path in ("/admin/mail/outboxmessage/", f"/admin/mail/outboxmessage/{message.pk}/change/"):
        page = client.get(path, HTTP_HOST=HOST)
        assert page.status_code == 403
        assert known_code not in page.content.decode()
    index = client.get("/admin/", HTTP_HOST=HOST)
    assert "/admin/mail/outboxmessage/" not in index.content.decode()


def test_the_delivered_file_carries_the_code_and_storage_forgets_it(alpha_api, alice, known_code, caplog):
    message = forgot(alpha_api, alice.email)
    assert deliver_due().sent == 1
    assert f"Code: {known_code} (60 minutes)." in delivered_files()
    message.refresh_from_db()
    assert (message.status, message.sealed) == (Status.SENT, "")
    assert known_code not in row_text(message)
    logs = "".join(p.read_text() for p in settings.SOGOMS_LOG_DIR.rglob("*") if p.is_file())
    assert "password_forgot" in logs and known_code not in logs
    assert known_code not in caplog.text


def test_smtp_delivers_the_code_intact(smtp_alpha, smtp_server, alpha_api, alice, known_code):
    message = forgot(alpha_api, alice.email)
    assert deliver_due().sent == 1
    [received] = smtp_server.received
    assert received.message["Subject"] == "Reset your password"
    assert f"Code: {known_code} (60 minutes)." in received.message.as_string()
    message.refresh_from_db()
    assert (message.status, message.sealed) == (Status.SENT, "")


def test_a_dead_message_forgets_its_secret_and_cannot_be_requeued(smtp_alpha, smtp_server, alpha_api, alice):
    smtp_server.handler.refuse.add(alice.email)
    message = forgot(alpha_api, alice.email)
    assert deliver_due().dead == 1
    message.refresh_from_db()
    assert (message.status, message.sealed) == (Status.DEAD, "")
    with pytest.raises(StateConflict, match="one-time secret"):
        services.message_requeue(message=message)


def test_a_cancelled_message_forgets_its_secret(alpha_api, alice, admin_token):
    message = forgot(alpha_api, alice.email)
    data_of(alpha_api.post(f"_mail/messages/{message.pk}/cancel", token=admin_token))
    message.refresh_from_db()
    assert (message.status, message.sealed) == (Status.DEAD, "")
    error_of(alpha_api.post(f"_mail/messages/{message.pk}/requeue", token=admin_token), 409, "CONFLICT")


def test_a_message_sealed_under_another_key_dies_unsent(alpha_api, alice, known_code, settings):
    message = forgot(alpha_api, alice.email)
    settings.SECRET_KEY = "another key " * 5
    outcome = deliver_due()
    assert (outcome.sent, outcome.dead) == (0, 1)
    message.refresh_from_db()
    assert (message.status, message.sealed) == (Status.DEAD, "")
    assert "cannot be opened" in message.last_error
    assert known_code not in delivered_files()


def test_the_outbox_key_file_seals_instead_of_the_secret_key(alpha, tmp_path, monkeypatch, settings):
    key_file = tmp_path / "outbox_key"
    key_file.write_text("a key only for the outbox, from a file")
    monkeypatch.setenv("SOGOMS_OUTBOX_KEY_FILE", str(key_file))
    sealed = sealing.seal(Rendered(subject="s", body="b", body_html=""))
    settings.SECRET_KEY = "changed but unused " * 3
    assert sealing.unseal(sealed).body == "b"
    monkeypatch.delenv("SOGOMS_OUTBOX_KEY_FILE")
    with pytest.raises(sealing.SealError):
        sealing.unseal(sealed)


def test_a_template_secret_is_redacted_also_inside_other_variables(alpha_api, admin_token, known_code):
    # The test template declares `secret: [token]`; the link carries the code too.
    body = {
        "to": "x@example.com",
        "template": "password_reset",
        "variables": {
            "token": known_code,
            "expires_minutes": 5,
            "reset_url": f"https://a.test/r?t={known_code}",
        },
    }
    sent = data_of(alpha_api.post("_mail/send_template", body, token=admin_token), 202)
    message = OutboxMessage.objects.get(pk=sent["id"])
    assert message.body_text == f"Code: {REDACTED} (5 minutes). Link: https://a.test/r?t={REDACTED}"
    assert known_code not in row_text(message)
    assert deliver_due().sent == 1
    assert f"Link: https://a.test/r?t={known_code}" in delivered_files()


def test_a_message_without_secrets_is_stored_as_sent(alpha):
    message = services.mail_send_template(
        tenant=alpha, template="greeting", to="c@example.com", variables={"Name": "C", "code": "7"}
    )
    assert (message.body_text, message.redacted, message.sealed) == ("Hi C, your code is 7.", False, "")


def test_secret_names_in_a_template_file_must_be_variable_names():
    with pytest.raises(ValueError, match="'not a name': not variable names"):
        TemplateFile(subject="s", body="b", secret=["code", "not a name"])


def test_a_bulk_send_seals_each_recipients_secret(alpha):
    codes = {"a@example.com": "first-code-0123456789", "b@example.com": "second-code-0123456789"}
    recipients = [services.Recipient(email, variables={"token": code}) for email, code in codes.items()]
    bulk = services.mail_send_bulk(
        tenant=alpha, template="password_reset", recipients=recipients, variables={"expires_minutes": 5}
    )
    rows = list(OutboxMessage.objects.filter(batch=bulk.batch))
    assert [row.body_text for row in rows] == [f"Code: {REDACTED} (5 minutes)."] * 2
    assert all(row.redacted and row.sealed for row in rows)
    assert not any(code in row_text(row) for row in rows for code in codes.values())
    assert deliver_due().sent == 2
    written = delivered_files()
    assert all(f"Code: {code} (5 minutes)." in written for code in codes.values())
