"""Running scheduled jobs: the beat's tick, manual triggers, one run, retries, the mirror.

The tick (every SOGOMS_CRON_TICK_SECONDS, from the one beat) looks at the current minute
(and, for jobs it has been running, the few before it) and, for every enabled job whose
schedule matches, inserts a run that is unique by (tenant, job, minute). Only the insert
that wins dispatches the run, so a tick runs each job once however many beats or
workers there are, a late tick still catches its minute, and a job deleted from the
YAML simply stops being looked at.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from cron.config import Job, cron_settings
from cron.kinds import KINDS
from cron.models import CronJob, JobRun, RunStatus
from cron.selectors import job_of
from sogoms_site import metrics
from sogoms_site.errors import StateConflict
from tenants.config import Tenant
from tenants.context import tenant_context
from tenants.logs import log_error, log_event
from tenants.registry import registry

logger = logging.getLogger("sogoms.cron")
OUTPUT_LIMIT = 4000


def minute_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def tick(*, dispatch: Callable[[int], object], now: datetime | None = None) -> list[int]:
    """Insert the runs that are due and hand each new one to `dispatch(run_id)`."""
    current = minute_of(now or timezone.now())
    earliest = current - timedelta(minutes=settings.SOGOMS_CRON_LOOKBACK_MINUTES)
    minutes = [
        earliest + timedelta(minutes=step) for step in range(settings.SOGOMS_CRON_LOOKBACK_MINUTES + 1)
    ]
    latest = _latest_runs(earliest - timedelta(minutes=1), current)
    created = []
    for tenant in registry():
        for job in cron_settings(tenant).jobs.values():
            if not job.enabled:
                continue
            for minute in minutes:
                # Past minutes are caught up only after the job's last scheduled run: a
                # fresh start (or a new job) begins with the current minute.
                last = latest.get((job.app, job.name))
                if minute < current and (last is None or minute <= last):
                    continue
                if job.schedule.matches(minute):
                    run = _insert_once(job, minute)
                    if run is not None:
                        created.append(run.pk)
    for run_id in created:
        dispatch(run_id)
    return created


def _latest_runs(since: datetime, until: datetime) -> dict[tuple[str, str], datetime]:
    """The latest scheduled minute in [since, until) of each job. The current minute does
    not count, or a tick racing another would take the other's fresh run for a sign of a
    running beat."""
    runs = JobRun.objects.filter(trigger="schedule", scheduled_for__gte=since, scheduled_for__lt=until)
    latest: dict[tuple[str, str], datetime] = {}
    for app, job, minute in runs.values_list("app", "job", "scheduled_for"):
        if minute is None:
            continue  # the filter leaves none out; the column allows them for manual runs
        key = (app, job)
        latest[key] = max(minute, latest.get(key, minute))
    return latest


def _insert_once(job: Job, minute: datetime) -> JobRun | None:
    try:
        with transaction.atomic(using="default"):
            return JobRun.objects.create(app=job.app, job=job.name, trigger="schedule", scheduled_for=minute)
    except IntegrityError:
        return None  # another tick (or beat) has it


def trigger(*, tenant: Tenant, name: str) -> JobRun:
    """A run of the job now, outside its schedule (operator's request)."""
    job = job_of(tenant, name)
    if not job.enabled:
        raise StateConflict(f"Job {name!r} is disabled (enabled: false in cron/{tenant.app}.yaml).")
    run = JobRun.objects.create(app=tenant.app, job=name, trigger="manual")
    log_event(tenant.app, "cron.triggered", details={"job": name, "run": run.pk})
    return run


def execute(
    run_id: int, *, dispatch_retry: Callable[[int, timedelta], object] | None = None
) -> JobRun | None:
    """Run one queued run; a duplicated task finds it taken and does nothing."""
    started = timezone.now()
    if not JobRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=started
    ):
        return None
    run = JobRun.objects.get(pk=run_id)
    tenant = registry().get(run.app)
    job = cron_settings(tenant).jobs.get(run.job) if tenant else None
    if tenant is None or job is None:
        return _finish(run, error=f"job {run.app}/{run.job} is no longer declared")
    kind = KINDS[job.kind]
    clock = time.monotonic()
    try:
        with tenant_context(tenant):
            output = kind.run(tenant, job.params, job)
    except Exception as exc:
        error = str(getattr(exc, "message", "") or exc) or type(exc).__name__
        run = _finish(run, error=f"{type(exc).__name__}: {error}", clock=clock)
        if kind.retryable(exc) and run.attempt <= job.retries:
            retry = JobRun.objects.create(app=run.app, job=run.job, trigger="retry", attempt=run.attempt + 1)
            if dispatch_retry is not None:
                dispatch_retry(retry.pk, job.retry_delay)
        return run
    return _finish(run, output=str(output), clock=clock)


def _finish(run: JobRun, *, output: str = "", error: str = "", clock: float | None = None) -> JobRun:
    finished = timezone.now()
    run.status = RunStatus.FAILED if error else RunStatus.SUCCEEDED
    run.finished_at = finished
    run.duration_ms = int((time.monotonic() - clock) * 1000) if clock else 0
    run.output, run.error = output[:OUTPUT_LIMIT], error[:OUTPUT_LIMIT]
    run.save(update_fields=["status", "finished_at", "duration_ms", "output", "error"])
    metrics.cron_run(run.app, run.job, run.status)
    details = {"job": run.job, "run": run.pk, "attempt": run.attempt, "ms": run.duration_ms}
    if error:
        log_error(run.app, "cron.failed", details={**details, "error": run.error})
    else:
        log_event(run.app, "cron.succeeded", details={**details, "output": run.output[:500]})
    return run


def sync_jobs() -> tuple[int, int]:
    """Mirror the declared jobs for the admin; jobs no longer declared are deleted.

    Called on every tick, so it writes only what changed: (rows written, rows deleted)."""
    now = timezone.now()
    wanted = {
        (job.app, job.name): {
            "schedule": job.schedule.expression,
            "timezone": job.schedule.timezone,
            "kind": job.kind,
            "enabled": job.enabled,
            "retries": job.retries,
        }
        for tenant in registry()
        for job in cron_settings(tenant).jobs.values()
    }
    fields = ("schedule", "timezone", "kind", "enabled", "retries")
    existing = {(row.app, row.name): row for row in CronJob.objects.all()}
    written = 0
    for key, values in wanted.items():
        row = existing.get(key)
        if row is None:
            CronJob.objects.create(app=key[0], name=key[1], synced_at=now, **values)
        elif any(getattr(row, name) != values[name] for name in fields):
            CronJob.objects.filter(pk=row.pk).update(synced_at=now, **values)
        else:
            continue
        written += 1
    stale = [row.pk for key, row in existing.items() if key not in wanted]
    CronJob.objects.filter(pk__in=stale).delete()
    return written, len(stale)
