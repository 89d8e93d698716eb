"""Celery tasks of the tenants app: the built-in daily purge of logs and token rows."""

from __future__ import annotations

from celery import shared_task

from tenants.auth.revocation import purge_expired
from tenants.logs import purge_logs as purge_tenant_logs
from tenants.registry import registry


@shared_task(name="logs.purge")
def purge_logs() -> dict:
    """Log files past each tenant's retention, expired token rows."""
    files = sum(len(purge_tenant_logs(t.app, t.log_retention_days)) for t in registry())
    access, refresh = purge_expired()
    return {"log_files": files, "access_rows": access, "refresh_rows": refresh}
