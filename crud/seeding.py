"""Demo data: `config/seed/<app>.yaml` loaded through the same services as the API.

Rows go through the resource's serializer and services, so seed data obeys the same
validation, ownership and foreign-key rules as a client would.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from crud.runtime import bound_resource
from crud.services import record_create
from tenants.auth.principal import TenantPrincipal
from tenants.auth.selectors import user_by_email
from tenants.auth.services import user_register
from tenants.config import Tenant


class SeedError(Exception):
    pass


def seed_tenant(tenant: Tenant, path: Path) -> list[str]:
    """Load a seed file; returns a line per user for people. Raises SeedError on bad data."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    done = []
    for entry in data.get("users", []):
        email = entry["email"]
        if user_by_email(tenant=tenant, email=email) is not None:
            done.append(f"{email}: exists, skipped")
            continue
        with transaction.atomic(using=tenant.db_alias), transaction.atomic(using="default"):
            session = user_register(
                tenant=tenant, email=email, password=entry["password"], name=entry["name"]
            )
            user = session.user
            caller = TenantPrincipal.of_user(user, tenant.app)
            refs: dict[str, int] = {}
            count = 0
            for resource_name, rows in (entry.get("rows") or {}).items():
                bound = bound_resource(tenant, resource_name)
                if bound is None:
                    raise SeedError(f"{path.name}: {resource_name!r} is not a resource of {tenant.app}")
                for row in rows:
                    values = {key: _resolve(value, refs) for key, value in row.items() if key != "ref"}
                    try:
                        record = record_create(bound=bound, caller=caller, data=values)
                    except Exception as exc:
                        detail = getattr(exc, "details", "") or exc
                        raise SeedError(f"{path.name}: {resource_name} {row}: {detail}") from None
                    if "ref" in row:
                        refs[row["ref"]] = record["insert_id"]
                    count += 1
        done.append(f"{email}: created with {count} row(s)")
    return done


def _resolve(value: Any, refs: dict[str, int]) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        return refs[value[1:]]
    if value == "today":
        return date.today().isoformat()
    return value
