"""The outbox in the operators' admin: what was sent, what waits, what died; re-queue or cancel."""

from __future__ import annotations

from django.contrib import admin, messages

from mail import services
from mail.models import CronJob, JobRun, OutboxMessage
from sogoms_site.api.errors import ApiError


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "app",
        "to_email",
        "subject",
        "template",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
    )
    list_filter = ("app", "status", "template")
    search_fields = ("to_email", "subject", "batch", "provider_message_id")
    date_hierarchy = "created_at"
    actions = ("requeue", "cancel")
    readonly_fields = [field.name for field in OutboxMessage._meta.fields]
    list_per_page = 50

    def has_add_permission(self, request) -> bool:
        return False  # messages come from the apps, not from here

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the outbox is history; actions change it through the services

    def _apply(self, request, queryset, action, done: str) -> None:
        changed, refused = 0, []
        for message in queryset:
            try:
                action(message=message)
                changed += 1
            except ApiError as exc:
                refused.append(exc.message)
        if changed:
            self.message_user(request, f"{changed} message(s) {done}.", messages.SUCCESS)
        for reason in refused[:10]:
            self.message_user(request, reason, messages.WARNING)

    @admin.action(description="Re-queue the selected messages (fresh attempts, now)")
    def requeue(self, request, queryset) -> None:
        self._apply(request, queryset, services.message_requeue, "re-queued")

    @admin.action(description="Cancel the selected unsent messages")
    def cancel(self, request, queryset) -> None:
        self._apply(request, queryset, services.message_cancel, "cancelled")


@admin.register(CronJob)
class CronJobAdmin(admin.ModelAdmin):
    """The jobs declared in config/cron/<app>.yaml (a mirror: edit the YAML), with their last run."""

    list_display = ("app", "name", "kind", "schedule", "timezone", "enabled", "retries", "last_run")
    list_filter = ("app", "kind", "enabled")
    search_fields = ("name",)
    actions = ("trigger",)
    readonly_fields = [field.name for field in CronJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        from mail import cron

        cron.sync_jobs()  # what the admin shows is what the YAML says now
        return super().get_queryset(request)

    @admin.display(description="last run")
    def last_run(self, job: CronJob) -> str:
        run = JobRun.objects.filter(app=job.app, job=job.name).order_by("-id").first()
        return f"{run.status} at {run.started_at or run.created_at:%Y-%m-%d %H:%M}" if run else "never"

    @admin.action(description="Run the selected jobs now")
    def trigger(self, request, queryset) -> None:
        from mail import cron
        from mail.tasks import dispatch_run
        from tenants.registry import registry

        for job in queryset:
            tenant = registry().get(job.app)
            try:
                run = cron.trigger(tenant=tenant, name=job.name)
            except ApiError as exc:
                self.message_user(request, exc.message, messages.WARNING)
                continue
            dispatch_run(run.pk)
            self.message_user(request, f"{job}: run #{run.pk} queued.", messages.SUCCESS)


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ("id", "app", "job", "trigger", "attempt", "status", "started_at", "duration_ms")
    list_filter = ("app", "status", "trigger", "job")
    search_fields = ("job", "error", "output")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in JobRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
