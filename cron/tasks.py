"""Celery tasks of scheduled jobs: the beat's tick and one run of a job.

The task names (`cron.tick`, `cron.run`) are part of the deployment: beat schedules and
queued broker messages name them, so they stay as they are.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task

from cron import services

logger = logging.getLogger("sogoms.cron")


@shared_task(name="cron.tick")
def cron_tick() -> list[int]:
    services.sync_jobs()
    return services.tick(dispatch=dispatch_run)


@shared_task(name="cron.run")
def cron_run(run_id: int) -> str:
    run = services.execute(run_id, dispatch_retry=dispatch_run)
    return run.status if run is not None else "taken"


def dispatch_run(run_id: int, delay: timedelta | None = None) -> bool:
    """Ask a worker for a run; with the broker down the run stays queued (cron status shows it)."""
    countdown = delay.total_seconds() if delay is not None else None
    try:
        cron_run.apply_async(args=[run_id], countdown=countdown, retry=True)
    except Exception as exc:  # kombu raises its own and the socket's errors
        logger.warning("broker unreachable, run #%s stays queued: %s", run_id, exc)
        return False
    return True
