"""Scheduled jobs moved from the mail app to cron: a control database made before the move
(mail's 0002, as every deployment before it has) keeps its tables and rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from cron.models import CronJob, JobRun

BEFORE_THE_MOVE = [("mail", "0002_cronjob_jobrun"), ("cron", None)]


def migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)  # a fresh loader sees what is applied now


@pytest.mark.django_db(transaction=True)
def test_jobs_and_runs_written_before_the_move_are_read_by_the_cron_app():
    executor = migrate(BEFORE_THE_MOVE)
    try:
        old = executor.loader.project_state([BEFORE_THE_MOVE[0]]).apps
        assert old.get_model("mail", "JobRun")._meta.db_table == "mail_jobrun"
        old.get_model("mail", "CronJob").objects.create(
            app="alpha",
            name="greet",
            schedule="0 7 * * *",
            timezone="UTC",
            kind="service",
            synced_at=datetime(2026, 12, 1, tzinfo=UTC),
        )
        minute = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
        old.get_model("mail", "JobRun").objects.create(
            app="alpha",
            job="greet",
            trigger="schedule",
            scheduled_for=minute,
            status="succeeded",
            output="ok",
        )
    finally:
        executor = migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert not executor.migration_plan(executor.loader.graph.leaf_nodes())  # fully migrated
    job = CronJob.objects.get(app="alpha", name="greet")
    run = JobRun.objects.get(app="alpha", job="greet")
    assert (job.schedule, run.scheduled_for, run.status, run.output) == (
        "0 7 * * *",
        minute,
        "succeeded",
        "ok",
    )
    # The one-run-per-minute constraint came along with the table.
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        JobRun.objects.create(app="alpha", job="greet", trigger="schedule", scheduled_for=minute)


def test_the_cron_models_keep_the_tables_the_mail_app_created():
    assert (CronJob._meta.app_label, CronJob._meta.db_table) == ("cron", "mail_cronjob")
    assert (JobRun._meta.app_label, JobRun._meta.db_table) == ("cron", "mail_jobrun")
