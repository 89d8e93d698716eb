"""Reads of scheduled jobs: a declared job by name, the latest run of each job."""

from __future__ import annotations

from collections.abc import Iterable

from cron.config import Job, cron_settings
from cron.models import JobRun
from sogoms_site.errors import NotFoundError
from tenants.config import Tenant


def job_of(tenant: Tenant, name: str) -> Job:
    job = cron_settings(tenant).jobs.get(name)
    if job is None:
        known = ", ".join(sorted(cron_settings(tenant).jobs)) or "none"
        raise NotFoundError(f"No job {name!r} in {tenant.app} (jobs: {known}).")
    return job


def last_runs(app: str, names: Iterable[str]) -> dict[str, JobRun]:
    latest = {}
    for name in names:
        run = JobRun.objects.filter(app=app, job=name).order_by("-id").first()
        if run is not None:
            latest[name] = run
    return latest
