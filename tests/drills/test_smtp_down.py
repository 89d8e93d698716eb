"""Drill: the SMTP server is down while mail is queued, then comes back on the same port.

What it does: a real `celery worker` process runs with a back-off of 1 s (at most 2 s;
SOGOMS_MAIL_RETRY_BASE_SECONDS / _MAX_SECONDS in its environment, 30 s / 1 h by default)
while the test plays beat (a `mail.sweep` about every second). The SMTP server is stopped;
40 messages are queued in one bulk send and 10 one by one. Once every one of them has
failed twice (connection refused: each attempt counted, the row `failed` with its next
attempt after the back-off), the server is started again on the same port.

What is lost: nothing. Every message arrives exactly once, and every row ends `sent`.
"""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
from django.conf import settings

from mail import services
from mail.models import OutboxMessage, Status
from mail.services import Recipient
from sogoms_site.celery import app as celery_app
from tests.drills.support import (
    forget_unacked,
    require_services,
    smtp_config,
    sweep_until_settled,
    wait_until,
    worker_env,
    worker_process,
)
from tests.mail.smtpserver import SmtpServer

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True, databases="__all__")]

BULK, SINGLE = 40, 10
MESSAGE_ID = re.compile(r"<sogoms\.alpha\.(\d+)\.")


def test_mail_queued_while_the_smtp_server_is_down_arrives_once_when_it_is_back(alpha, tmp_path):
    require_services()
    celery_app.control.purge()
    server = SmtpServer(tmp_path).start()
    config = smtp_config(tmp_path, server)
    log = tmp_path / "worker.log"
    env = worker_env(config, SOGOMS_MAIL_RETRY_BASE_SECONDS="1", SOGOMS_MAIL_RETRY_MAX_SECONDS="2")
    started = time.monotonic()
    try:
        with worker_process(env, log):
            server.stop()
            recipients = [Recipient(f"down{n}@example.com", "", {"Name": f"Down {n}"}) for n in range(BULK)]
            services.mail_send_bulk(
                tenant=alpha, template="greeting", recipients=recipients, variables={"code": "1"}
            )
            for n in range(SINGLE):
                services.mail_send(tenant=alpha, to=f"single{n}@example.com", subject=f"Single {n}", body="b")
            ids = set(OutboxMessage.objects.values_list("pk", flat=True))
            assert len(ids) == BULK + SINGLE

            def all_failed_twice() -> bool:
                celery_app.send_task("mail.sweep")
                return wait_until(
                    lambda: (
                        OutboxMessage.objects.filter(status=Status.FAILED, attempts__gte=2).count()
                        == len(ids)
                    ),
                    1,
                    0.1,
                )

            assert wait_until(all_failed_twice, 30, 0), log.read_text()[-3000:]
            errors = set(OutboxMessage.objects.values_list("last_error", flat=True))
            server.start()  # the same port
            assert sweep_until_settled(40), log.read_text()[-3000:]
    finally:
        server.stop()
        celery_app.control.purge()
        forget_unacked(settings.CELERY_TASK_DEFAULT_QUEUE)

    with server.handler.lock:
        got = Counter(int(MESSAGE_ID.match(item.message_id).group(1)) for item in server.received)
    rows = list(OutboxMessage.objects.values_list("pk", "status", "attempts"))
    attempts = Counter(attempt for _, _, attempt in rows)
    print(
        f"\nSMTP down: {len(ids)} queued, all failed at least twice ({sorted(errors)[0][:80]}...); "
        f"back: {len(got)} received, {sum(1 for n in got.values() if n > 1)} twice, "
        f"{sum(1 for _, status, _ in rows if status == Status.SENT)} sent; "
        f"attempts per message {dict(sorted(attempts.items()))}; "
        f"{time.monotonic() - started:.1f} s"
    )
    assert set(got) == ids
    assert set(got.values()) == {1}
    assert {status for _, status, _ in rows} == {Status.SENT}
    assert all(attempt >= 3 for _, _, attempt in rows)
