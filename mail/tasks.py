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
