"""Data lifecycle: the built-in daily job (`logs.purge`) deletes rows past their retention.

Each app purges its own rows (mail its outbox, cron its runs, tenants its tokens); old rows
go, recent ones and those still waiting to be sent or run stay.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cron.models import JobRun, RunStatus
from mail.models import OutboxMessage, Status
from tenants import retention
from tenants.models import IssuedRefreshToken, PasswordResetToken, RevokedAccessToken
from tenants.tasks import purge_logs

pytestmark = pytest.mark.django_db(databases="__all__")

NOW = timezone.now()


def message(status: str, age_days: float, **fields) -> OutboxMessage:
    row = OutboxMessage.objects.create(
        app="alpha",
        to_email="alice@example.com",
        from_email="noreply@example.com",
        subject=f"{status} {age_days}",
        status=status,
        next_attempt_at=NOW,
        **fields,
    )
    when = NOW - timedelta(days=age_days)
    OutboxMessage.objects.filter(pk=row.pk).update(created_at=when, updated_at=when)
    return row


def run(status: str, age_days: float, job: str = "greet") -> JobRun:
    row = JobRun.objects.create(app="alpha", job=job, trigger="manual", status=status)
    JobRun.objects.filter(pk=row.pk).update(created_at=NOW - timedelta(days=age_days))
    return row


def remaining(model, rows) -> set[int]:
    return set(model.objects.filter(pk__in=[row.pk for row in rows]).values_list("pk", flat=True))


def test_old_sent_and_dead_mail_goes_and_waiting_or_recent_mail_stays(settings):
    settings.SOGOMS_RETENTION_OUTBOX_DAYS = 30
    old = [message(Status.SENT, 31), message(Status.DEAD, 45)]
    kept = [
        message(Status.SENT, 29),
        message(Status.DEAD, 1),
        message(Status.QUEUED, 90),  # still to send, however old
        message(Status.FAILED, 90),  # a retry is due
        message(Status.SENDING, 90),  # a worker holds it
    ]

    counts = purge_logs()

    assert counts["outbox_messages"] == 2
    assert remaining(OutboxMessage, old) == set()
    assert remaining(OutboxMessage, kept) == {row.pk for row in kept}


def test_old_finished_runs_go_but_each_jobs_latest_and_unfinished_ones_stay(settings):
    settings.SOGOMS_RETENTION_JOB_RUNS_DAYS = 30
    old = [run(RunStatus.SUCCEEDED, 40), run(RunStatus.FAILED, 35)]
    kept = [
        run(RunStatus.QUEUED, 60, job="stuck"),
        run(RunStatus.RUNNING, 60, job="long"),
        run(RunStatus.SUCCEEDED, 2),
        run(RunStatus.SUCCEEDED, 90, job="monthly"),  # its job's only (latest) run
    ]

    counts = purge_logs()

    assert counts["job_runs"] == 2
    assert remaining(JobRun, old) == set()
    assert remaining(JobRun, kept) == {row.pk for row in kept}


def test_old_reset_tokens_and_expired_token_rows_go_and_live_ones_stay(settings):
    settings.SOGOMS_RETENTION_RESET_TOKENS_DAYS = 7

    def reset(expired_days_ago: float, name: str) -> PasswordResetToken:
        return PasswordResetToken.objects.create(
            app="alpha",
            user_id=1,
            token_hash=name.ljust(64, "0"),
            expires_at=NOW - timedelta(days=expired_days_ago),
        )

    old_resets = [reset(8, "a"), reset(30, "b")]
    kept_resets = [reset(6, "c"), reset(-1, "d")]  # expired 6 days ago; still valid
    hour = timedelta(hours=1)
    old_access = RevokedAccessToken.objects.create(jti="old-access", app="alpha", expires_at=NOW - hour)
    live_access = RevokedAccessToken.objects.create(jti="live-access", app="alpha", expires_at=NOW + hour)
    old_refresh = IssuedRefreshToken.objects.create(
        jti="old-refresh", app="alpha", user_id=1, issued_at=NOW - 2 * hour, expires_at=NOW - hour
    )
    live_refresh = IssuedRefreshToken.objects.create(
        jti="live-refresh", app="alpha", user_id=1, issued_at=NOW, expires_at=NOW + hour
    )

    counts = purge_logs()

    assert counts["reset_tokens"] == 2
    assert remaining(PasswordResetToken, old_resets + kept_resets) == {row.pk for row in kept_resets}
    assert remaining(RevokedAccessToken, [old_access, live_access]) == {live_access.pk}
    assert remaining(IssuedRefreshToken, [old_refresh, live_refresh]) == {live_refresh.pk}


def test_a_retention_of_zero_keeps_rows_for_ever(settings):
    settings.SOGOMS_RETENTION_OUTBOX_DAYS = 0
    settings.SOGOMS_RETENTION_JOB_RUNS_DAYS = 0
    rows = [message(Status.SENT, 400)]
    runs = [run(RunStatus.SUCCEEDED, 400), run(RunStatus.SUCCEEDED, 1)]

    counts = purge_logs()

    assert counts["outbox_messages"] == 0 and counts["job_runs"] == 0
    assert remaining(OutboxMessage, rows) == {rows[0].pk}
    assert remaining(JobRun, runs) == {row.pk for row in runs}


def test_a_failing_purger_does_not_keep_the_others_from_running(settings, monkeypatch):
    settings.SOGOMS_RETENTION_OUTBOX_DAYS = 30

    def broken(_now):
        raise RuntimeError("boom")

    monkeypatch.setattr(retention, "purgers", [broken, *retention.purgers])
    old = message(Status.SENT, 31)

    counts = purge_logs()

    assert counts["failed_purgers"] == 1
    assert counts["outbox_messages"] == 1
    assert remaining(OutboxMessage, [old]) == set()


def test_deletes_go_in_batches(settings):
    settings.SOGOMS_RETENTION_OUTBOX_DAYS = 30
    old = [message(Status.SENT, 31) for _ in range(5)]

    deleted = retention.delete_in_batches(
        OutboxMessage.objects.filter(pk__in=[row.pk for row in old]), batch=2
    )

    assert deleted == 5
    assert remaining(OutboxMessage, old) == set()
