"""An e-mail API provider through django-anymail, with its test backend standing in for the
provider's servers (the one part that cannot run here)."""

from __future__ import annotations

import pytest
import requests
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError
from django.core import mail as django_mail

from mail import services
from mail.models import Status
from tests.mail.conftest import deliver_due, tenant_with

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def provider_alpha(alpha, monkeypatch, tmp_path):
    (tmp_path / "api_key").write_text("key-for-tests")
    django_mail.outbox = []
    block = {"provider": "test", "from": "hello@alpha.test", "from_name": "Alpha", "api_key_file": "api_key"}
    return tenant_with(alpha, monkeypatch, tmp_path, email=block)


def test_it_sends_through_the_provider_and_keeps_its_message_id(provider_alpha):
    message = services.mail_send(
        tenant=provider_alpha, to="p@example.com", subject="Via API", body="b", body_html="<b>b</b>"
    )
    assert deliver_due().sent == 1
    [sent] = django_mail.outbox
    assert sent.anymail_test_params["from"].address == "Alpha <hello@alpha.test>"
    assert sent.subject == "Via API"
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.provider_message_id == "0"  # the test provider numbers its messages


@pytest.mark.parametrize(
    ("status_code", "expected"), [(503, Status.FAILED), (429, Status.FAILED), (400, Status.DEAD)]
)
def test_provider_errors_retry_or_die_by_their_status(provider_alpha, monkeypatch, status_code, expected):
    answer = requests.Response()
    answer.status_code, answer.reason, answer._content = status_code, "Refused", b'{"message": "no"}'

    def refuse(self, payload, message):
        raise AnymailAPIError("provider says no", status_code=status_code, response=answer)

    monkeypatch.setattr(AnymailTestBackend, "post_to_esp", refuse)
    message = services.mail_send(tenant=provider_alpha, to="p@example.com", subject="S", body="b")
    deliver_due()
    message.refresh_from_db()
    assert message.status == expected
    assert str(status_code) in message.last_error
