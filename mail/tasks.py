"""Celery tasks of the mail app: deliver given rows, sweep the outbox."""

from __future__ import annotations

import logging

from celery import shared_task

from mail import delivery

logger = logging.getLogger("sogoms.mail")


@shared_task(name="mail.deliver")
def deliver(ids: list[int]) -> dict:
    return delivery.deliver(ids).__dict__


@shared_task(name="mail.sweep")
def sweep() -> dict:
    return delivery.sweep(dispatch=dispatch)


def dispatch(ids: list[int]) -> bool:
    """Ask a worker to deliver `ids`. A broker that is down loses nothing: the rows wait
    in the outbox and the next sweep sends them."""
    try:
        deliver.apply_async(args=[list(ids)], retry=True)
    except Exception as exc:  # kombu raises its own and the socket's errors
        logger.warning("broker unreachable, %d message(s) wait for the sweep: %s", len(ids), exc)
        return False
    return True


@shared_task(name="cron.tick")
def cron_tick() -> list[int]:
    from mail import cron

    cron.sync_jobs()
    return cron.tick(dispatch=dispatch_run)


@shared_task(name="cron.run")
def cron_run(run_id: int) -> str:
    from mail import cron

    run = cron.execute(run_id, dispatch_retry=dispatch_run)
    return run.status if run is not None else "taken"


@shared_task(name="logs.purge")
def purge_logs() -> dict:
    """Built-in daily job: log files past each tenant's retention, expired token rows."""
    from tenants.auth.revocation import purge_expired
    from tenants.logs import purge_logs as purge_tenant_logs
    from tenants.registry import registry

    files = sum(len(purge_tenant_logs(t.app, t.log_retention_days)) for t in registry())
    access, refresh = purge_expired()
    return {"log_files": files, "access_rows": access, "refresh_rows": refresh}


def dispatch_run(run_id: int, delay=None) -> bool:
    """Ask a worker for a run; with the broker down the run stays queued (cron status shows it)."""
    countdown = delay.total_seconds() if delay is not None else None
    try:
        cron_run.apply_async(args=[run_id], countdown=countdown, retry=True)
    except Exception as exc:
        logger.warning("broker unreachable, run #%s stays queued: %s", run_id, exc)
        return False
    return True
