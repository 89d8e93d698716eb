"""The ``backup`` kind: an archive of the app's database and config, old ones pruned.

The archive is the one `sogoms backup <app>` writes (tenants.backup); after it, only the
`keep` newest archives of the app in the output directory are kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import override

from cron.kinds.base import JobKind
from tenants.backup import create_backup, default_backup_dir, prune_backups
from tenants.config import Tenant
from tenants.config.secrets import resolve_path

if TYPE_CHECKING:
    from cron.config import Job


class BackupParams(BaseModel):
    """The ``params`` of a ``backup`` job, as the tenant writes them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keep: int = Field(7, ge=1, description="archives of the app kept in out_dir, the newest")
    out_dir: str = Field("", description="default: $SOGOMS_VAR_DIR/backups; relative: to SOGOMS_BASE_DIR")


def out_dir_of(params: BackupParams) -> Path:
    if not params.out_dir:
        return default_backup_dir()
    return resolve_path(params.out_dir, Path(settings.SOGOMS_BASE_DIR))


class BackupKind(JobKind):
    name = "backup"
    params_type = BackupParams

    @override
    def run(self, tenant: Tenant, params: BackupParams, job: Job) -> str:
        directory = out_dir_of(params)
        result = create_backup(tenant, out_dir=directory)
        removed = prune_backups(tenant.app, directory, params.keep)
        return (
            f"{result.path}: {len(result.tables)} table(s), {sum(result.tables.values())} row(s), "
            f"{len(result.files)} config file(s); {len(removed)} older archive(s) removed"
        )
