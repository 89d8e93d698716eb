"""Run history's lifecycle: finished runs older than the retention are deleted.

Registered with `tenants.retention` from the app's ready(); the built-in daily job runs it.
Queued and running runs stay, and so does each job's latest run, however old (a monthly
job keeps its last result for `sogoms cron status`).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Max

from cron.models import JobRun, RunStatus
from tenants.retention import cutoff, delete_in_batches


def purge_runs(now: datetime) -> dict[str, int]:
    before = cutoff(now, "SOGOMS_RETENTION_JOB_RUNS_DAYS")
    if before is None:
        return {"job_runs": 0}
    latest = JobRun.objects.values("app", "job").annotate(latest=Max("id")).values_list("latest", flat=True)
    finished = JobRun.objects.filter(
        status__in=(RunStatus.SUCCEEDED, RunStatus.FAILED), created_at__lt=before
    ).exclude(pk__in=list(latest))
    return {"job_runs": delete_in_batches(finished)}
