"""Scheduled jobs in the operators' admin: the declared jobs (a mirror of the YAML) and their runs."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from typing_extensions import override

from cron import services
from cron.models import CronJob, JobRun
from cron.tasks import dispatch_run
from sogoms_site.admin_base import HistoryAdmin
from sogoms_site.errors import DomainError
from tenants.registry import registry


@admin.register(CronJob)
class CronJobAdmin(HistoryAdmin):
    """The jobs declared in config/cron/<app>.yaml (a mirror: edit the YAML), with their last run."""

    list_display = ("app", "name", "kind", "schedule", "timezone", "enabled", "retries", "last_run")
    list_filter = ("app", "kind", "enabled")
    search_fields = ("name",)
    actions = ("trigger",)
    readonly_fields = [field.name for field in CronJob._meta.fields]

    @override
    def get_queryset(self, request: HttpRequest) -> QuerySet[CronJob]:
        services.sync_jobs()  # what the admin shows is what the YAML says now
        return super().get_queryset(request)

    @admin.display(description="last run")
    def last_run(self, job: CronJob) -> str:
        run = JobRun.objects.filter(app=job.app, job=job.name).order_by("-id").first()
        return f"{run.status} at {run.started_at or run.created_at:%Y-%m-%d %H:%M}" if run else "never"

    @admin.action(description="Run the selected jobs now")
    def trigger(self, request: HttpRequest, queryset: QuerySet[CronJob]) -> None:
        for job in queryset:
            tenant = registry().get(job.app)
            if tenant is None:
                self.message_user(request, f"{job}: no tenant {job.app!r} is loaded.", messages.WARNING)
                continue
            try:
                run = services.trigger(tenant=tenant, name=job.name)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.WARNING)
                continue
            dispatch_run(run.pk)
            self.message_user(request, f"{job}: run #{run.pk} queued.", messages.SUCCESS)


@admin.register(JobRun)
class JobRunAdmin(HistoryAdmin):
    list_display = ("id", "app", "job", "trigger", "attempt", "status", "started_at", "duration_ms")
    list_filter = ("app", "status", "trigger", "job")
    search_fields = ("job", "error", "output")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in JobRun._meta.fields]
