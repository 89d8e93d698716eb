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
from sogoms_site.errors import InvalidInput
from tenants.auth.passwords import hash_password
from tenants.auth.principal import TenantPrincipal
from tenants.auth.selectors import normalize_email, user_by_email
from tenants.auth.services import user_change, user_create
from tenants.config import Tenant
from tenants.usermodel import TenantUserBase


class SeedError(Exception):
    pass


def seed_tenant(tenant: Tenant, path: Path) -> list[str]:
    """Load a seed file; returns a line per entry for people. Raises SeedError on bad data.

    First every user with a `password` is created when missing (with its `role`); then
    each entry's `rows` are written as that user, through the same services and rules as
    the API, but only for users this run created: seeding twice changes nothing. `ref`
    names a user or a row; a later value "@ref" is its id, across users.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    # one transaction on each database: a seed that fails writes nothing, so it can be run again
    with transaction.atomic(using=tenant.db_alias), transaction.atomic(using="default"):
        return _seed(tenant, data.get("users", []), path)


def _seed(tenant: Tenant, entries: list[dict[str, Any]], path: Path) -> list[str]:
    refs: dict[str, int] = {}
    created: set[str] = set()
    done = []
    for entry in entries:
        email = entry["email"]
        user = user_by_email(tenant=tenant, email=email)
        if user is None and "password" in entry:
            user = _create_user(tenant, entry, path)
            created.add(user.email)
        if user is not None and "ref" in entry:
            refs[entry["ref"]] = user.id
    for entry in entries:
        email = entry["email"]
        user = user_by_email(tenant=tenant, email=email)
        if user is None:
            raise SeedError(f"{path.name}: {email} has no password and is not a user of {tenant.app}")
        if user.email not in created:
            done.append(f"{email}: exists, skipped")
            continue
        if entry.get("rows"):
            count = _create_rows(tenant, user, entry["rows"], refs, path)
            done.append(f"{email}: {count} row(s) created")
        else:
            done.append(f"{email}: created ({user.role})")
    return done


def _create_user(tenant: Tenant, entry: dict[str, Any], path: Path) -> TenantUserBase:
    # The operator vouches for the addresses of a seed file: verified, so an app that requires
    # verification lets them sign in, and no code is mailed. No session is opened either.
    user = user_create(
        tenant=tenant,
        email=normalize_email(entry["email"]),
        password_hash=hash_password(entry["password"], tenant),
        name=entry["name"],
        verified=True,
    )
    if "role" in entry:
        try:
            user = user_change(tenant=tenant, user=user, role=entry["role"])
        except InvalidInput as exc:
            raise SeedError(f"{path.name}: {entry['email']}: {exc.message}") from None
    return user


def _create_rows(
    tenant: Tenant, user: TenantUserBase, tables: dict[str, list], refs: dict[str, int], path: Path
) -> int:
    caller = TenantPrincipal.of_user(user, tenant.app)
    count = 0
    for resource_name, rows in tables.items():
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
    return count


def _resolve(value: Any, refs: dict[str, int]) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        return refs[value[1:]]
    if value == "today":
        return date.today().isoformat()
    return value
