"""`<base>/_cron/`: a tenant's scheduled jobs, their runs, and a trigger, for role admin."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.views import APIView

from cron import selectors, services
from cron.config import cron_settings
from cron.models import JobRun, RunStatus
from cron.tasks import dispatch_run
from sogoms_site.api.envelope import ok, page_meta
from sogoms_site.api.inputs import StrictInput
from tenants.auth.permissions import TenantAdmin
from tenants.requests import TenantRequest

RUN_FIELDS = (
    "id",
    "job",
    "trigger",
    "attempt",
    "status",
    "scheduled_for",
    "created_at",
    "started_at",
    "finished_at",
    "duration_ms",
    "output",
    "error",
)


class RunsQuery(StrictInput):
    job = serializers.CharField(max_length=100, required=False, default="")
    status = serializers.ChoiceField(choices=RunStatus.values, required=False, default="")
    page = serializers.IntegerField(min_value=1, required=False, default=1)
    per_page = serializers.IntegerField(min_value=1, max_value=100, required=False, default=20)


class CronView(APIView):
    permission_classes = [TenantAdmin]


def _run(run: JobRun) -> dict:
    return {name: getattr(run, name) for name in RUN_FIELDS}


class JobsView(CronView):
    def get(self, request: TenantRequest) -> HttpResponse:
        jobs = cron_settings(request.tenant).jobs
        latest = selectors.last_runs(request.tenant.app, jobs)
        now = timezone.now()
        rows = [
            {
                "name": job.name,
                "kind": job.kind,
                "description": job.description,
                "schedule": job.schedule.expression,
                "timezone": job.schedule.timezone,
                "enabled": job.enabled,
                "retries": job.retries,
                "next_run": job.schedule.next_after(now) if job.enabled else None,
                "last_run": _run(latest[job.name]) if job.name in latest else None,
            }
            for job in jobs.values()
        ]
        return ok(rows)


class TriggerView(CronView):
    def post(self, request: TenantRequest, name: str) -> HttpResponse:
        run = services.trigger(tenant=request.tenant, name=name)
        queued = dispatch_run(run.pk)
        message = "Run queued" if queued else "Run recorded; the broker is unreachable, it waits"
        return ok(_run(run), message, status=202)


class RunsView(CronView):
    def get(self, request: TenantRequest) -> HttpResponse:
        serializer = RunsQuery(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        query = serializer.validated_data
        runs = JobRun.objects.filter(app=request.tenant.app)
        if query["job"]:
            runs = runs.filter(job=query["job"])
        if query["status"]:
            runs = runs.filter(status=query["status"])
        total = runs.count()
        start = (query["page"] - 1) * query["per_page"]
        rows = [_run(run) for run in runs.order_by("-id")[start : start + query["per_page"]]]
        return ok(rows, meta=page_meta(page=query["page"], per_page=query["per_page"], total=total))
