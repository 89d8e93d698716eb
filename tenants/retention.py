"""Data lifecycle: rows past their retention, deleted by the built-in daily job (`logs.purge`).

Each app purges its own rows: it registers a purger from its `AppConfig.ready()` (mail its
outbox, cron its run history), so this floor never imports the apps above it. A purger takes
the job's `now` and returns the rows it deleted, by kind. Retentions are settings
(`SOGOMS_RETENTION_*_DAYS`, from the environment); 0 keeps the rows for ever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Model, QuerySet

from tenants.models import EmailVerificationCode, OAuthCode, OAuthState, PasswordResetToken

logger = logging.getLogger("sogoms.retention")

Purger = Callable[[datetime], Mapping[str, int]]

purgers: list[Purger] = []

# Rows deleted per statement: a long purge never holds one huge lock on a busy table.
BATCH = 2000


def register_purger(purger: Purger) -> None:
    if purger not in purgers:
        purgers.append(purger)


def cutoff(now: datetime, setting: str) -> datetime | None:
    """`now` minus the retention named by `setting` (days), or None when it is 0 (keep)."""
    days = int(getattr(settings, setting))
    return now - timedelta(days=days) if days > 0 else None


def delete_in_batches(rows: QuerySet[Model], batch: int = BATCH) -> int:
    """Delete the rows of `rows` a batch at a time; the number deleted."""
    deleted = 0
    while True:
        ids = list(rows.order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        count, _ = rows.model._default_manager.filter(pk__in=ids).delete()
        deleted += count


def purge_reset_tokens(now: datetime) -> dict[str, int]:
    """Password-reset tokens and e-mail verification codes that expired more than the
    retention ago (used or not): the one-time codes, under one setting."""
    before = cutoff(now, "SOGOMS_RETENTION_RESET_TOKENS_DAYS")
    if before is None:
        return {"reset_tokens": 0, "verification_codes": 0}
    return {
        "reset_tokens": delete_in_batches(PasswordResetToken.objects.filter(expires_at__lt=before)),
        "verification_codes": delete_in_batches(EmailVerificationCode.objects.filter(expires_at__lt=before)),
    }


# Pending provider sign-ins and one-time codes are useless once expired (10 min, 60 s); a
# day more lets an operator look into a sign-in that failed.
OAUTH_ROWS_KEPT = timedelta(days=1)


def purge_oauth_rows(now: datetime) -> dict[str, int]:
    """Provider sign-in states and one-time codes expired more than a day ago (used or not)."""
    before = now - OAUTH_ROWS_KEPT
    return {
        "oauth_states": delete_in_batches(OAuthState.objects.filter(expires_at__lt=before)),
        "oauth_codes": delete_in_batches(OAuthCode.objects.filter(expires_at__lt=before)),
    }


register_purger(purge_oauth_rows)  # tenants' own rows, beside the purgers other apps register


def run_purgers(now: datetime) -> dict[str, int]:
    """Every registered purger; one that fails is logged and the others still run."""
    counts: dict[str, int] = {}
    for purger in purgers:
        try:
            counts.update(purger(now))
        except Exception:  # one app's failure must not keep the others' rows for ever
            logger.exception("purger %s failed", getattr(purger, "__qualname__", purger))
            counts["failed_purgers"] = counts.get("failed_purgers", 0) + 1
    return counts
