"""Scheduled jobs in the control database: the mirror of the declared jobs and their runs."""

from __future__ import annotations

from django.db import models


class CronJob(models.Model):
    """A mirror of one job of config/cron/<app>.yaml, so operators see it in the admin.

    The YAML is the truth: a sync writes the jobs it declares and deletes the others."""

    app = models.CharField(max_length=40)
    name = models.CharField(max_length=100)
    schedule = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64)
    kind = models.CharField(max_length=20)
    enabled = models.BooleanField(default=True)
    retries = models.PositiveIntegerField(default=0)
    synced_at = models.DateTimeField()

    class Meta:
        db_table = "mail_cronjob"  # created when jobs lived in the mail app; rows kept as they are
        ordering = ["app", "name"]
        verbose_name = "scheduled job"
        constraints = [models.UniqueConstraint(fields=["app", "name"], name="mail_cronjob_unique")]

    def __str__(self) -> str:
        return f"{self.app}/{self.name}"


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobRun(models.Model):
    """One run of one job: a tick of its schedule, a manual trigger, or a retry.

    A tick's run is unique by (app, job, scheduled_for): however many beats or workers
    see the same minute, one insert wins and only that run is executed."""

    app = models.CharField(max_length=40)
    job = models.CharField(max_length=100)
    trigger = models.CharField(max_length=10)  # schedule, manual, retry
    scheduled_for = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    output = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "mail_jobrun"
        ordering = ["-id"]
        verbose_name = "job run"
        constraints = [
            models.UniqueConstraint(fields=["app", "job", "scheduled_for"], name="mail_jobrun_one_per_tick")
        ]
        indexes = [models.Index(fields=["app", "job", "-id"], name="mail_jobrun_latest")]

    def __str__(self) -> str:
        return f"{self.app}/{self.job} #{self.pk} ({self.status})"
