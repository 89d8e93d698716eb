"""The one domain-event hook: what changed, announced after the transaction commits.

Services call `emit()`; subscribers (the tenant's event log, real-time push, webhooks)
register with `subscribe()` and are called only once the change is durable. A failing
subscriber is logged and never undoes or hides the change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

logger = logging.getLogger("sogoms.events")


@dataclass(frozen=True)
class DomainEvent:
    app: str
    resource: str
    action: str  # create, update, delete
    id: Any
    owner: Any
    changed: tuple[str, ...] = ()
    data: dict = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # the row as written (create, update) or as it was (delete), for deciding who may be
    # told of it (a table's access rules); never sent as such
    row: dict | None = None


_subscribers: list[Callable[[DomainEvent], None]] = []


def subscribe(handler: Callable[[DomainEvent], None]) -> None:
    if handler not in _subscribers:
        _subscribers.append(handler)


def emit(event: DomainEvent, *, using: str) -> None:
    transaction.on_commit(lambda: dispatch(event), using=using)


def dispatch(event: DomainEvent) -> None:
    for handler in list(_subscribers):
        try:
            handler(event)
        except Exception:  # one subscriber's fault must not stop the others
            logger.exception("event subscriber %r failed on %s.%s", handler, event.resource, event.action)


def log_to_tenant(event: DomainEvent) -> None:
    """Subscriber: CRUD events go to the tenant's event log."""
    from tenants.logs import log_event

    log_event(
        event.app,
        f"{event.resource}.{event.action}",
        user_id=event.owner,
        details={"id": event.id, "changed": list(event.changed)},
    )
