"""Scheduled job kinds, by the name a job's `kind:` gives: one module per kind."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from cron.kinds.backup import BackupKind
from cron.kinds.base import JobKind
from cron.kinds.http import HttpKind
from cron.kinds.query_email import QueryEmailKind
from cron.kinds.service import ServiceKind

KINDS: Mapping[str, JobKind] = MappingProxyType(
    {kind.name: kind for kind in (ServiceKind(), HttpKind(), QueryEmailKind(), BackupKind())}
)

__all__ = ["KINDS", "JobKind"]
