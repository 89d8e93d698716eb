"""The tenant of the work in progress, set once at the edge (HTTP, WebSocket, task).

Everything below the edge reads `current_tenant()`; nothing else decides which tenant
a piece of work belongs to.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from tenants.config import Tenant

_current: ContextVar[Tenant | None] = ContextVar("sogoms_tenant", default=None)


def current_tenant() -> Tenant | None:
    return _current.get()


@contextmanager
def tenant_context(tenant: Tenant | None) -> Iterator[Tenant | None]:
    token = _current.set(tenant)
    try:
        yield tenant
    finally:
        _current.reset(token)
