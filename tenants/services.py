"""Tenant-level actions on the control plane."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tenants.config import Registry
from tenants.models import TenantRecord


def tenant_records_sync(*, registry: Registry) -> None:
    """Mirror the loaded config into TenantRecord rows (what the admin shows)."""
    now = timezone.now()
    with transaction.atomic(using="default"):
        for tenant in registry:
            TenantRecord.objects.update_or_create(
                app=tenant.app,
                defaults={
                    "version": tenant.version,
                    "base_path": tenant.base_path,
                    "hosts": "\n".join(tenant.hosts),
                    "db_engine": tenant.db_engine,
                    "db_alias": tenant.db_alias,
                    "jwt_expiry_seconds": int(tenant.jwt_expiry.total_seconds()),
                    "refresh_expiry_seconds": int(tenant.refresh_expiry.total_seconds()),
                    "log_retention_days": tenant.log_retention_days,
                    "source": str(tenant.source),
                    "synced_at": now,
                },
            )
        TenantRecord.objects.exclude(app__in=list(registry.tenants)).delete()
