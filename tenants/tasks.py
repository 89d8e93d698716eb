"""Celery tasks of the tenants app: the built-in daily purge (`logs.purge`).

It deletes log files past each tenant's retention, expired token rows, old password-reset
tokens, and runs the purgers other apps registered (`tenants.retention`): the mail outbox,
cron's run history.

Importing it (every worker does, to find the tasks) also makes each task begin by applying
a config reload that `sogoms reload` announced (`tenants.reload`).
"""

from __future__ import annotations

from celery import shared_task
from celery.signals import task_prerun
from django.utils import timezone

from tenants.auth.revocation import purge_expired
from tenants.logs import purge_logs as purge_tenant_logs
from tenants.registry import registry
from tenants.reload import reload_before_task
from tenants.retention import purge_reset_tokens, run_purgers

task_prerun.connect(reload_before_task, weak=False, dispatch_uid="sogoms-reload-before-task")


@shared_task(name="logs.purge")
def purge_logs() -> dict:
    """Everything past its retention; the counts deleted, by kind."""
    now = timezone.now()
    files = sum(len(purge_tenant_logs(t.app, t.log_retention_days)) for t in registry())
    access, refresh = purge_expired(now)
    return {
        "log_files": files,
        "access_rows": access,
        "refresh_rows": refresh,
        **purge_reset_tokens(now),
        **run_purgers(now),
    }
