"""Mail decided in a tenant's transaction: a row beside the change, moved to the outbox.

The welcome e-mail of a registration must exist exactly when the account does, but the
account is in the tenant's database and the outbox in the control database: no single
transaction holds both. So the mail is first a row of the tenant's `sogoms_mail_pending`
table, written in the same transaction as the user. Once that commits, the row is moved
to the outbox (`flush`); if the control database fails meanwhile the row simply waits,
and the mail sweep (every 30 s) moves it later. Moving is keyed: the outbox row carries
`dedupe_key = <app>:<key>`, unique, so a row moved twice (the control commit succeeded,
deleting the pending row did not) is queued once. Variables are kept sealed (`mail.sealing`).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Collection
from typing import Any

from django.db import IntegrityError, connections, models, transaction

from mail.sealing import SealError, open_text, seal_text
from sogoms_site.errors import DomainError
from tenants.config import Tenant
from tenants.databases import visit_each
from tenants.logs import log_error
from tenants.usermodel import once_per_tenant, tenant_apps

logger = logging.getLogger("sogoms.mail")
TABLE = "sogoms_mail_pending"  # sogoms_*: a platform table, which the schema tools leave alone
FLUSH_LIMIT = 500
# mail.services.mail_send_template, given by the caller (mail.hooks): services reach this
# module through delivery's sweep, so importing them here would close an import cycle.
Queue = Callable[..., Any]


class PendingMailBase(models.Model):
    id = models.AutoField(primary_key=True)
    key = models.CharField(max_length=32, unique=True)
    template = models.CharField(max_length=100)
    to_email = models.CharField(max_length=254)
    to_name = models.CharField(max_length=255, blank=True, default="")
    variables = models.TextField()  # sealed JSON: {"variables": {...}, "secret": [...]}
    created_at = models.DateTimeField(auto_now_add=True)

    sogoms_db_alias: str = ""
    objects = models.Manager()

    class Meta:
        abstract = True


@once_per_tenant
def pending_model(tenant: Tenant) -> type[PendingMailBase]:
    """The pending-mail table of one loaded tenant, in its private model registry."""
    meta = type("Meta", (), {"db_table": TABLE, "app_label": "mail", "apps": tenant_apps(tenant)})
    attrs = {"__module__": __name__, "Meta": meta, "sogoms_db_alias": tenant.db_alias}
    return type(f"PendingMail_{tenant.app}", (PendingMailBase,), attrs)


def pending_tables(tenant: Tenant) -> list[type[models.Model]]:
    """Table provider: `sogoms migrate` creates the table in every tenant's database."""
    return [pending_model(tenant)]


def pending_record(
    *,
    tenant: Tenant,
    template: str,
    to: str,
    to_name: str = "",
    variables: dict[str, Any],
    secret: Collection[str] = (),
    queue: Queue,
) -> None:
    """Record a mail in the caller's transaction on the tenant's database; it reaches the
    outbox after that transaction commits, or with the next sweep."""
    payload = json.dumps({"variables": variables, "secret": sorted(secret)}, default=str)
    row = (
        pending_model(tenant)
        .objects.using(tenant.db_alias)
        .create(
            key=uuid.uuid4().hex,
            template=template,
            to_email=to,
            to_name=to_name,
            variables=seal_text(payload),
        )
    )
    transaction.on_commit(lambda: pending_flush(tenant, queue=queue, keys=[row.key]), using=tenant.db_alias)


def pending_flush(tenant: Tenant, *, queue: Queue, keys: list[str] | None = None) -> int:
    """Move pending rows (all, or those of `keys`) to the outbox; returns how many moved.

    Never raises: what cannot move now stays for the next sweep."""
    try:
        rows = pending_model(tenant).objects.using(tenant.db_alias).order_by("id")
        if keys is not None:
            rows = rows.filter(key__in=keys)
        batch = list(rows[:FLUSH_LIMIT])
    except Exception as exc:  # the tenant database is down, or not migrated yet
        logger.warning("pending mail of %s not read: %s", tenant.app, exc)
        return 0
    moved = 0
    for row in batch:
        try:
            _move(tenant, row, queue)
        except Exception as exc:  # the control database failed: the row waits for the sweep
            logger.warning("pending mail %s of %s waits: %s", row.key, tenant.app, exc)
            break
        moved += 1
    return moved


def _move(tenant: Tenant, row: PendingMailBase, queue: Queue) -> None:
    try:
        payload = json.loads(open_text(row.variables))
    except SealError as exc:  # sealed under another key: it can never be sent
        log_error(tenant.app, "mail.pending_dropped", details={"template": row.template, "error": str(exc)})
        _forget(tenant, row)
        return
    try:
        with transaction.atomic(using="default"):
            queue(
                tenant=tenant,
                template=row.template,
                to=row.to_email,
                to_name=row.to_name,
                variables=payload["variables"],
                secret=payload["secret"],
                dedupe_key=f"{tenant.app}:{row.key}",
            )
    except IntegrityError:
        pass  # an earlier move queued it; only the pending row was left
    except DomainError as exc:  # the template went away or no longer renders: it never will
        log_error(
            tenant.app, "mail.pending_dropped", details={"template": row.template, "error": exc.message}
        )
    _forget(tenant, row)


def _forget(tenant: Tenant, row: PendingMailBase) -> None:
    # A savepoint of its own: a failed delete leaves a caller's transaction usable.
    with transaction.atomic(using=tenant.db_alias):
        row.delete(using=tenant.db_alias)


def pending_flush_all(*, queue: Queue) -> int:
    """The sweep's part: every tenant's waiting rows."""
    from tenants.registry import registry

    visited = visit_each(registry())  # closing the connections the sweep opens
    return sum(pending_flush(tenant, queue=queue) for tenant in visited if _may_have_rows(tenant))


def _may_have_rows(tenant: Tenant) -> bool:
    """Whether the tenant's table holds a row, asked in SQL: the sweep visits every tenant,
    and building each one's model for that would keep a thousand models in the worker."""
    connection = connections[tenant.db_alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(TABLE)} LIMIT 1")  # noqa: S608  (a constant)
            return cursor.fetchone() is not None
    except Exception:  # down or not migrated: pending_flush logs it as it always did
        return True
