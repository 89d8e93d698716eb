"""The mail actions: rendering, validation before anything is written, outbox upkeep."""

from __future__ import annotations

import pytest

from mail import services
from mail.models import OutboxMessage, Status
from sogoms_site.errors import InvalidInput, NotFoundError, StateConflict
from tests.mail.conftest import deliver_due

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_missing_variable_is_an_error_and_writes_nothing(alpha):
    with pytest.raises(InvalidInput) as caught:
        services.mail_send_template(
            tenant=alpha, template="greeting", to="a@example.com", variables={"Name": "A"}
        )
    assert caught.value.details == {"variables": ["missing variable 'code'"]}
    assert not OutboxMessage.objects.exists()


def test_an_optional_part_guarded_by_if_may_be_left_out(alpha):
    message = services.mail_send_template(
        tenant=alpha, template="greeting", to="a@example.com", variables={"Name": "A", "code": "1"}
    )
    assert message.body_text == "Hi A, your code is 1."
    with_note = services.mail_send_template(
        tenant=alpha,
        template="greeting",
        to="a@example.com",
        variables={"Name": "A", "code": "1", "note": "hi"},
    )
    assert with_note.body_text.endswith("Note: hi")


def test_go_style_and_django_variables_render_the_same(alpha):
    message = services.mail_send_template(
        tenant=alpha, template="greeting", to="a@example.com", variables={"Name": "Zoé", "code": "9"}
    )
    assert message.subject == "Hi Zoé"
    assert message.body_html == "<p>Hi Zoé, your code is <b>9</b>.</p>"


def test_a_subject_cannot_smuggle_headers(alpha):
    message = services.mail_send_template(
        tenant=alpha,
        template="greeting",
        to="a@example.com",
        variables={"Name": "A\r\nBcc: x@evil.test", "code": "1"},
    )
    assert "\n" not in message.subject and "\r" not in message.subject


def test_an_unknown_template_is_not_found(alpha):
    with pytest.raises(
        NotFoundError, match="templates: digest, greeting, password_reset, verify_email, welcome"
    ):
        services.mail_send_template(tenant=alpha, template="nope", to="a@example.com")


def test_a_bad_address_is_refused(alpha):
    with pytest.raises(InvalidInput) as caught:
        services.mail_send(tenant=alpha, to="not an address", subject="s", body="b")
    assert caught.value.details == {"to": ["not an e-mail address"]}


def test_send_needs_a_subject_and_a_body(alpha):
    with pytest.raises(InvalidInput):
        services.mail_send(tenant=alpha, to="a@example.com", subject=" ", body="b")
    with pytest.raises(InvalidInput):
        services.mail_send(tenant=alpha, to="a@example.com", subject="s")


def test_bulk_with_one_bad_recipient_queues_nothing(alpha):
    recipients = [
        services.Recipient("ok@example.com", variables={"Name": "Ok"}),
        services.Recipient("broken", variables={"Name": "B"}),
        services.Recipient("third@example.com"),  # no Name
    ]
    with pytest.raises(InvalidInput) as caught:
        services.mail_send_bulk(
            tenant=alpha, template="greeting", recipients=recipients, variables={"code": "1"}
        )
    assert caught.value.details == {
        "recipients[1].email": ["not an e-mail address"],
        "recipients[2]": ["missing variable 'Name'"],
    }
    assert not OutboxMessage.objects.exists()


def test_bulk_variables_are_shared_and_each_recipient_wins(alpha):
    bulk = services.mail_send_bulk(
        tenant=alpha,
        template="greeting",
        recipients=[
            services.Recipient("a@example.com", variables={"Name": "A"}),
            services.Recipient("b@example.com", variables={"Name": "B", "code": "own"}),
        ],
        variables={"code": "shared"},
    )
    bodies = dict(OutboxMessage.objects.filter(batch=bulk.batch).values_list("to_email", "body_text"))
    assert bodies == {
        "a@example.com": "Hi A, your code is shared.",
        "b@example.com": "Hi B, your code is own.",
    }


def test_bulk_has_a_ceiling(alpha, settings):
    settings.SOGOMS_MAIL_MAX_BULK = 2
    with pytest.raises(InvalidInput, match="at most 2"):
        services.mail_send_bulk(
            tenant=alpha,
            template="welcome",
            recipients=[services.Recipient(f"u{i}@example.com") for i in range(3)],
        )


def test_the_file_transport_of_the_embedded_default_writes_the_message(alpha, settings):
    services.mail_send(tenant=alpha, to="file@example.com", subject="On disk", body="hello")
    assert deliver_due().sent == 1
    files = list((settings.VAR_DIR / "mail" / "alpha").glob("*.log"))
    assert any("Subject: On disk" in path.read_text() for path in files)


def test_requeue_gives_fresh_attempts_and_cancel_stops_an_unsent_message(alpha):
    message = services.mail_send(tenant=alpha, to="a@example.com", subject="s", body="b")
    cancelled = services.message_cancel(message=message)
    assert (cancelled.status, cancelled.last_error) == (Status.DEAD, "cancelled by an operator")
    with pytest.raises(StateConflict):
        services.message_cancel(message=cancelled)
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=6)
    cancelled.refresh_from_db()
    requeued = services.message_requeue(message=cancelled)
    assert (requeued.status, requeued.attempts) == (Status.QUEUED, 0)
    assert deliver_due().sent == 1
    requeued.refresh_from_db()
    with pytest.raises(StateConflict, match="sent"):
        services.message_requeue(message=requeued)
