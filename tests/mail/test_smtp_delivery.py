"""Delivery through a real SMTP server: TLS, AUTH, retries, dead letters, no double sends."""

from __future__ import annotations

import re
import threading
import time

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mail import delivery, services
from mail.models import OutboxMessage, Status
from tests.conftest import run_concurrently
from tests.mail.conftest import deliver_due, statuses, tenant_with
from tests.mail.smtpserver import SmtpServer

pytestmark = pytest.mark.django_db(databases="__all__")


def greet(tenant, to="carol@example.com", **variables):
    return services.mail_send_template(
        tenant=tenant,
        template="greeting",
        to=to,
        to_name="Carol",
        variables={"Name": "Carol", "code": "42", **variables},
    )


def test_it_delivers_over_starttls_with_auth(smtp_alpha, smtp_server):
    message = greet(smtp_alpha)
    outcome = deliver_due()
    assert outcome.sent == 1
    [received] = smtp_server.received
    assert received.rcpt_tos == ["carol@example.com"]
    assert received.message["Subject"] == "Hi Carol"
    assert received.message["From"] == "Alpha <noreply@alpha.test>"
    assert smtp_server.handler.logins == [True]
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.attempts == 1
    assert message.provider_message_id == received.message_id
    assert message.sent_at is not None


def test_it_delivers_over_implicit_tls(alpha, smtps_server, monkeypatch, tmp_path):
    tenant = tenant_with(alpha, monkeypatch, tmp_path, smtp=smtps_server.block(password_file="smtp_password"))
    greet(tenant)
    assert deliver_due().sent == 1
    assert len(smtps_server.received) == 1


def test_text_and_html_parts_are_rendered_and_only_html_is_escaped(smtp_alpha, smtp_server):
    services.mail_send_template(
        tenant=smtp_alpha,
        template="greeting",
        to="carol@example.com",
        variables={"Name": "A&B <x>", "code": "1"},
    )
    deliver_due()
    message = smtp_server.received[0].message
    assert message.get_boundary().startswith("=_sogoms_")  # set before the generator ran
    text, html = (part.get_payload(decode=True).decode() for part in message.get_payload())
    assert text.startswith("Hi A&B <x>, your code is 1.")
    assert "Hi A&amp;B &lt;x&gt;" in html


def test_a_wrong_password_fails_and_retries_until_dead(
    alpha, smtp_server, monkeypatch, tmp_path, fast_retries, settings
):
    settings.SOGOMS_MAIL_MAX_ATTEMPTS = 2
    (tmp_path / "wrong").write_text("not-the-password")
    tenant = tenant_with(alpha, monkeypatch, tmp_path, smtp=smtp_server.block(password_file="wrong"))
    message = greet(tenant)
    first = deliver_due()
    message.refresh_from_db()
    assert (first.failed, message.status, message.attempts) == (1, Status.FAILED, 1)
    assert "authentication failed" in message.last_error
    second = deliver_due()
    message.refresh_from_db()
    assert (second.dead, message.status, message.attempts) == (1, Status.DEAD, 2)
    assert smtp_server.received == []


def test_a_busy_server_gets_the_message_on_a_later_attempt(smtp_alpha, smtp_server, fast_retries):
    smtp_server.handler.busy = 1
    message = greet(smtp_alpha)
    assert deliver_due().failed == 1
    message.refresh_from_db()
    assert message.status == Status.FAILED and "451" in message.last_error
    assert deliver_due().sent == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SENT, 2)
    assert len(smtp_server.received) == 1


def test_back_off_grows_and_waits(smtp_alpha, smtp_server, settings):
    settings.SOGOMS_MAIL_RETRY_BASE_SECONDS = 30
    smtp_server.handler.busy = 5
    message = greet(smtp_alpha)
    before = timezone.now()
    deliver_due()
    message.refresh_from_db()
    assert 29 <= (message.next_attempt_at - before).total_seconds() <= 32
    assert deliver_due().sent == 0  # not due yet: nothing is tried early
    assert delivery.retry_delay(3).total_seconds() == 120
    settings.SOGOMS_MAIL_RETRY_MAX_SECONDS = 100
    assert delivery.retry_delay(10).total_seconds() == 100


def test_a_refused_recipient_is_dead_at_once_and_the_others_still_go(smtp_alpha, smtp_server):
    smtp_server.handler.refuse = {"nobody@example.com"}
    refused = greet(smtp_alpha, to="nobody@example.com")
    fine = greet(smtp_alpha, to="dave@example.com")
    outcome = deliver_due()
    assert (outcome.dead, outcome.sent) == (1, 1)
    refused.refresh_from_db()
    assert refused.status == Status.DEAD and "550" in refused.last_error
    assert [r.rcpt_tos for r in smtp_server.received] == [["dave@example.com"]]
    fine.refresh_from_db()
    assert fine.status == Status.SENT


def test_a_stopped_server_loses_nothing_and_the_sweep_sends_later(smtp_alpha, smtp_server, fast_retries):
    smtp_server.stop()
    messages = [greet(smtp_alpha, to=f"user{i}@example.com") for i in range(3)]
    assert deliver_due().failed == 3
    assert statuses() == [Status.FAILED] * 3
    smtp_server.start()
    assert deliver_due().sent == 3
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == [m.to_email for m in messages]


def bulk(tenant, count: int, prefix: str = "u") -> None:
    services.mail_send_bulk(
        tenant=tenant,
        template="greeting",
        recipients=[
            services.Recipient(f"{prefix}{i}@example.com", variables={"Name": f"{prefix.upper()}{i}"})
            for i in range(count)
        ],
        variables={"code": "7"},
    )


def test_one_connection_carries_a_whole_batch(smtp_alpha, smtp_server, settings):
    settings.SOGOMS_MAIL_CONNECTIONS = 1
    bulk(smtp_alpha, 30)
    assert deliver_due().sent == 30
    assert smtp_server.handler.logins == [True]  # one AUTH: one connection
    assert {r.message["Subject"] for r in smtp_server.received} == {f"Hi U{i}" for i in range(30)}
    assert smtp_server.handler.most_active == 1


def test_a_batch_goes_over_several_connections_at_once(smtp_alpha, smtp_server, settings):
    settings.SOGOMS_MAIL_CONNECTIONS = 3
    smtp_server.handler.delay = 0.02  # each reply waits: the connections' waits overlap
    bulk(smtp_alpha, 30)
    assert deliver_due().sent == 30
    assert smtp_server.handler.logins == [True] * 3  # one AUTH per connection
    assert smtp_server.handler.most_active >= 2
    message_ids = [r.message_id for r in smtp_server.received]
    assert len(message_ids) == len(set(message_ids)) == 30
    assert statuses() == [Status.SENT] * 30
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}


def test_no_more_connections_than_messages(smtp_alpha, smtp_server, settings):
    settings.SOGOMS_MAIL_CONNECTIONS = 8
    bulk(smtp_alpha, 2)
    assert deliver_due().sent == 2
    assert len(smtp_server.handler.logins) == 2


def test_one_connection_breaking_leaves_the_others_sending(smtp_alpha, smtp_server, settings, fast_retries):
    settings.SOGOMS_MAIL_CONNECTIONS = 3
    settings.SOGOMS_MAIL_HANDOVER_CHUNK = 10
    smtp_server.handler.delay = 0.005
    smtp_server.handler.drop_one_after = 5  # a server that closes one connection midway
    bulk(smtp_alpha, 30)
    outcome = deliver_due()
    # The dropped connection's message failed (421: it closes), and that connection took
    # no other; the two others carried every other message.
    assert (outcome.sent, outcome.failed, outcome.released) == (29, 1, 0)
    failed = OutboxMessage.objects.filter(status=Status.FAILED)
    assert failed.count() == outcome.failed
    assert all(m.attempts == 1 and m.handed_at is not None for m in failed)
    assert len(smtp_server.received) == outcome.sent
    assert deliver_due().sent == outcome.failed
    message_ids = [r.message_id for r in smtp_server.received]
    assert len(message_ids) == len(set(message_ids)) == 30  # none lost, none twice
    assert statuses() == [Status.SENT] * 30


def test_every_connection_breaking_gives_the_rest_back(smtp_alpha, smtp_server, settings, fast_retries):
    settings.SOGOMS_MAIL_CONNECTIONS = 3
    settings.SOGOMS_MAIL_HANDOVER_CHUNK = 10
    smtp_server.handler.hang_up_after = 4  # then every connection is answered 421 and closed
    bulk(smtp_alpha, 30)
    outcome = deliver_due()
    assert outcome.sent >= 4 and outcome.released > 0
    assert outcome.sent + outcome.failed + outcome.released == 30
    released = OutboxMessage.objects.filter(status=Status.FAILED, attempts=0)
    assert released.count() == outcome.released and not released.exclude(handed_at=None).exists()
    smtp_server.handler.hang_up_after = None
    assert deliver_due().sent == 30 - outcome.sent
    message_ids = [r.message_id for r in smtp_server.received]
    assert len(message_ids) == len(set(message_ids)) == 30


@pytest.mark.parametrize("count", [1, 2])
def test_a_bug_while_sending_is_raised_after_the_others_are_recorded(
    smtp_alpha, smtp_server, settings, monkeypatch, count
):
    settings.SOGOMS_MAIL_CONNECTIONS = count
    ids = [greet(smtp_alpha, to=f"k{i}@example.com").pk for i in range(6)]
    build = delivery._email_of

    def email_of(message):
        if message.to_email == "k3@example.com":
            raise RuntimeError("a bug")
        return build(message)

    monkeypatch.setattr(delivery, "_email_of", email_of)
    with pytest.raises(RuntimeError, match="a bug"):
        delivery.deliver(ids)
    rows = {
        to: (status, attempts)
        for to, status, attempts in OutboxMessage.objects.filter(pk__in=ids).values_list(
            "to_email", "status", "attempts"
        )
    }
    assert rows.pop("k3@example.com") == (Status.SENDING, 1)  # handed over: the sweep decides
    if count == 1:  # its only connection ended: what it had not taken is given back
        assert [rows.pop(f"k{i}@example.com") for i in (4, 5)] == [(Status.FAILED, 0)] * 2
    assert set(rows.values()) == {(Status.SENT, 1)}
    assert len(smtp_server.received) == 5 if count == 2 else 3


def test_a_connection_lost_mid_chunk_gives_back_what_it_had_not_sent(
    smtp_alpha, smtp_server, settings, fast_retries
):
    settings.SOGOMS_MAIL_CONNECTIONS = 1  # in order: several connections are tested below
    settings.SOGOMS_MAIL_HANDOVER_CHUNK = 10
    smtp_server.handler.hang_up_after = 3
    ids = [greet(smtp_alpha, to=f"c{i}@example.com").pk for i in range(10)]
    outcome = delivery.deliver(ids)
    rows = list(
        OutboxMessage.objects.filter(pk__in=ids).order_by("id").values_list("status", "attempts", "handed_at")
    )
    assert [status for status, _, _ in rows[:3]] == [Status.SENT] * 3
    tried = [row for row in rows[3:] if row[1] == 1]
    given_back = [row for row in rows[3:] if row[1] == 0]
    assert tried and given_back and len(tried) + len(given_back) == 7
    assert all(status == Status.FAILED for status, _, _ in rows[3:])
    assert all(handed is None for _, _, handed in given_back)  # never reached the server
    assert (outcome.sent, outcome.failed, outcome.released) == (3, len(tried), len(given_back))
    smtp_server.handler.hang_up_after = None
    assert deliver_due().sent == 7
    message_ids = [r.message_id for r in smtp_server.received]
    assert len(message_ids) == len(set(message_ids)) == 10


def test_a_chunk_is_one_hand_over_and_one_outcome_transaction(smtp_alpha, smtp_server, settings):
    settings.SOGOMS_MAIL_HANDOVER_CHUNK = 5
    ids = [greet(smtp_alpha, to=f"q{i}@example.com").pk for i in range(10)]
    with CaptureQueriesContext(connections["default"]) as queries:
        assert delivery.deliver(ids).sent == 10
    writes = [q["sql"] for q in queries.captured_queries if re.match(r"(\d+ times: )?UPDATE ", q["sql"])]
    # claim, then per chunk of 5: the hand-over, and the outcomes of all five in one statement
    assert len(writes) == 1 + 2 * 2, [w[:60] for w in writes]
    outcomes = [sql for sql in writes if "provider_message_id" in sql]
    assert len(outcomes) == 2 and not any(re.match(r"\d+ times: ", sql) for sql in outcomes)
    # one statement, yet each row keeps the id the server gave its own message
    given = {received.rcpt_tos[0]: received.message_id for received in smtp_server.received}
    kept = dict(OutboxMessage.objects.filter(pk__in=ids).values_list("to_email", "provider_message_id"))
    assert kept == given and len(set(given.values())) == 10


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_chunk_costs_one_commit_with_the_next_hand_over(smtp_alpha, smtp_server, settings, monkeypatch):
    settings.SOGOMS_MAIL_HANDOVER_CHUNK = 5
    ids = [greet(smtp_alpha, to=f"t{i}@example.com").pk for i in range(15)]
    connection = connections["default"]
    log: list[str] = []
    commit = connection.commit
    monkeypatch.setattr(connection, "commit", lambda: log.append("COMMIT") or commit())

    def note(execute, sql, params, many, context):
        changes = sql.split("WHERE")[0]
        if sql.startswith("UPDATE"):
            log.append(
                "outcomes"
                if "provider_message_id" in changes
                else "claim"
                if "claimed_until" in changes
                else "hand-over"
            )
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        assert delivery.deliver(ids).sent == 15
    # The first hand-over commits alone; then each chunk's outcomes with the next hand-over.
    assert log == [
        "claim",
        "hand-over",
        *["outcomes", "hand-over", "COMMIT"] * 2,
        "outcomes",
        "COMMIT",
    ]


def test_a_duplicated_task_sends_once(smtp_alpha, smtp_server):
    message = greet(smtp_alpha)
    first = delivery.deliver([message.pk])
    second = delivery.deliver([message.pk])
    assert (first.sent, second.sent, second.skipped) == (1, 0, 1)
    assert len(smtp_server.received) == 1


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_two_workers_racing_for_the_same_rows_send_each_once(smtp_alpha, smtp_server):
    smtp_server.handler.delay = 0.01
    ids = [greet(smtp_alpha, to=f"r{i}@example.com").pk for i in range(20)]
    outcomes, errors = run_concurrently(lambda: delivery.deliver(ids), 2)
    assert errors == []
    assert sum(o.sent for o in outcomes) == 20
    message_ids = [r.message_id for r in smtp_server.received]
    assert len(message_ids) == len(set(message_ids)) == 20


def test_a_worker_that_died_before_handing_over_is_recovered_and_sent_once(smtp_alpha, smtp_server):
    message = greet(smtp_alpha)
    _token, claimed = delivery.claim([message.pk])  # ...and then the worker died
    assert [m.pk for m in claimed] == [message.pk]
    assert delivery.deliver([message.pk]).skipped == 1  # still held by the dead worker
    OutboxMessage.objects.filter(pk=message.pk).update(claimed_until=timezone.now())
    assert deliver_due().sent == 1
    assert len(smtp_server.received) == 1


def test_a_worker_that_died_while_sending_never_causes_a_second_send(smtp_alpha, smtp_server):
    message = greet(smtp_alpha)
    delivery.claim([message.pk])
    OutboxMessage.objects.filter(pk=message.pk).update(handed_at=timezone.now(), claimed_until=timezone.now())
    assert deliver_due().sent == 0
    message.refresh_from_db()
    assert message.status == Status.DEAD
    assert "may or may not have been sent" in message.last_error
    assert smtp_server.received == []
    services.message_requeue(message=message)  # the operator's call
    assert deliver_due().sent == 1


def test_out_of_attempts_is_dead_with_the_last_error(smtp_alpha, smtp_server, fast_retries, settings):
    settings.SOGOMS_MAIL_MAX_ATTEMPTS = 3
    smtp_server.handler.busy = 10
    message = greet(smtp_alpha)
    for _ in range(3):
        deliver_due()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.DEAD, 3)
    assert "attempt 3 of 3" in message.last_error


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_stopping_the_server_during_a_bulk_send_loses_none_and_sends_none_twice(
    alpha, tmp_path, monkeypatch, fast_retries, settings
):
    settings.SOGOMS_MAIL_BATCH_SIZE = 25
    server = SmtpServer(tmp_path).start()
    try:
        tenant = tenant_with(alpha, monkeypatch, tmp_path, smtp=server.block(password_file="smtp_password"))
        server.handler.delay = 0.01
        total = 100
        services.mail_send_bulk(
            tenant=tenant,
            template="greeting",
            recipients=[
                services.Recipient(f"b{i}@example.com", variables={"Name": f"B{i}"}) for i in range(total)
            ],
            variables={"code": "1"},
        )
        sending = threading.Thread(target=deliver_due)
        sending.start()
        deadline = time.monotonic() + 20
        while len(server.received) < 30 and time.monotonic() < deadline:
            time.sleep(0.005)
        server.handler.shutting_down = True  # a server going down answers 421...
        server.stop()  # ...then is gone
        sending.join()
        assert 30 <= len(server.received) < total
        assert OutboxMessage.objects.exclude(status=Status.SENT).count() == total - len(server.received)
        assert not OutboxMessage.objects.filter(status=Status.DEAD).exists()

        server.handler.shutting_down = False
        server.start()
        for _ in range(5):
            if deliver_due().sent == 0 and not OutboxMessage.objects.exclude(status=Status.SENT).exists():
                break
        message_ids = [r.message_id for r in server.received]
        assert len(message_ids) == total
        assert len(set(message_ids)) == total  # none twice
        assert statuses() == [Status.SENT] * total
    finally:
        server.stop()
