"""The outbox's lifecycle: messages sent or dead for longer than the retention are deleted.

Registered with `tenants.retention` from the app's ready(); the built-in daily job runs it.
Messages still waiting (queued, sending, failed with a retry to come) are never touched.
"""

from __future__ import annotations

from datetime import datetime

from mail.models import OutboxMessage, Status
from tenants.retention import cutoff, delete_in_batches


def purge_outbox(now: datetime) -> dict[str, int]:
    before = cutoff(now, "SOGOMS_RETENTION_OUTBOX_DAYS")
    if before is None:
        return {"outbox_messages": 0}
    done = OutboxMessage.objects.filter(status__in=(Status.SENT, Status.DEAD), updated_at__lt=before)
    return {"outbox_messages": delete_in_batches(done)}
