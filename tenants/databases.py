"""One database alias per tenant (`tenant_<app>`), registered on its first use, and the router.

Tenant tables are models built per tenant that carry their alias, so the router needs
no request state: a tenant model goes to its tenant's database, everything else to the
control database (`default`).

A tenant's alias enters Django's database settings the first time anything looks it up
(`connections[alias]`: a request, a command naming the tenant, its admin page, a sweep that
visits it), not at start. Django's connection housekeeping walks every registered alias
three times per request (`reset_queries` and `close_old_connections` on request start and
end): 5 ms a walk with a thousand aliases on this project's machines, so a process keeps
registered only the tenants it serves, and a sweep over every tenant drops again the
aliases that only it used. The test settings register every alias at start
(`SOGOMS_TENANT_DATABASES_AT_START`): the test runner creates, renames and isolates the test
databases of the aliases it finds when it starts.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

from tenants.config import Registry, Tenant

TENANT_ALIAS_PREFIX = "tenant_"

_lock = threading.Lock()  # two threads' first look-ups of one alias register it once
_known: dict[str, Tenant] = {}  # alias -> its tenant in the latest config (kept after a reload drops it)
_registered: dict[str, dict] = {}  # alias -> the settings it was registered with
_users: dict[str, set[int]] = {}  # alias -> the threads that looked it up since it was registered


class TenantDatabases(dict[str, dict[str, Any]]):
    """`settings.DATABASES` and `connections.settings`, one mapping as Django makes them,
    where the alias of a known tenant is registered when first looked up.

    Django's connection handler asks `alias in settings` then `settings[alias]`; iterating
    lists only the aliases registered so far, so `connections.all()` stays as short as the
    tenants this process used.
    """

    def __contains__(self, alias: object) -> bool:
        # A thread asks once per alias (then its connection object is kept for it).
        if not isinstance(alias, str):
            return False
        if dict.__contains__(self, alias):
            if alias in _known:
                with _lock:
                    _users.setdefault(alias, set()).add(threading.get_ident())
            return True
        return _register_known(alias)

    def __missing__(self, alias: str) -> dict[str, Any]:
        if _register_known(alias):
            return dict.__getitem__(self, alias)
        raise KeyError(alias)

    def get(self, alias: str, default: Any = None) -> Any:
        if alias in self:  # registers a known tenant's alias, as a look-up does
            return dict.__getitem__(self, alias)
        return default


def _databases() -> TenantDatabases:
    """The process's database settings as a TenantDatabases (installed on first call)."""
    current = connections.settings
    if isinstance(current, TenantDatabases):
        return current
    databases = TenantDatabases(current)
    # One object for both, as before: the test runner renames test databases through
    # settings.DATABASES and connects through connections.settings.
    connections.settings = databases  # the instance attribute replaces the cached property's value
    settings.DATABASES = databases
    return databases


def _register(databases: TenantDatabases, tenant: Tenant) -> None:
    """Put the tenant's alias in the settings with Django's defaults (under `_lock`).

    Django computes its defaults once for the aliases it finds at start; a later alias must
    go through configure_settings or it misses them (Django ticket 34410).
    """
    wanted = tenant.database_settings()
    if tenant.db_engine == "sqlite":
        Path(wanted["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    configured = connections.configure_settings(
        {DEFAULT_DB_ALIAS: databases[DEFAULT_DB_ALIAS], tenant.db_alias: wanted}
    )
    _registered[tenant.db_alias] = tenant.database_settings()
    _users[tenant.db_alias] = {threading.get_ident()}
    dict.__setitem__(databases, tenant.db_alias, configured[tenant.db_alias])


def _register_known(alias: str) -> bool:
    """Register a known tenant's alias on its first look-up; False for any other name."""
    tenant = _known.get(alias)
    if tenant is None:
        return False
    databases = _databases()
    with _lock:
        if not dict.__contains__(databases, alias):
            _register(databases, tenant)
        _users.setdefault(alias, set()).add(threading.get_ident())  # registered by another thread meanwhile
    return True


def register_tenant_databases(registry: Registry) -> None:
    """Make the tenants of a (re)loaded config known, so each alias is registered on first use.

    An alias already registered whose settings changed (a reload moved the database) is
    replaced now and its connection closed; one whose settings are unchanged keeps its
    settings object, so open connections and the test runner's renaming stay valid. With
    `SOGOMS_TENANT_DATABASES_AT_START` every alias is registered now.
    """
    databases = _databases()
    at_start = getattr(settings, "SOGOMS_TENANT_DATABASES_AT_START", False)
    moved = set()
    with _lock:
        for tenant in registry:
            alias = tenant.db_alias
            _known[alias] = tenant
            registered = dict.__contains__(databases, alias)
            if registered and _registered.get(alias) == tenant.database_settings():
                continue
            if registered or at_start:
                _register(databases, tenant)
                moved.add(alias)
    for connection in connections.all(initialized_only=True):
        if connection.alias in moved:
            connection.close()  # the database moved: reconnect with the new settings
            del connections[connection.alias]


def _drop_if_only_this_thread_used(alias: str) -> None:
    """Unregister an alias that no thread but this one looked up since it was registered
    (a sweep's visit): this thread's connection object goes too. Another thread's look-up
    after this registers the alias again."""
    databases = _databases()
    with _lock:
        if not dict.__contains__(databases, alias) or _users.get(alias, set()) - {threading.get_ident()}:
            return
        dict.pop(databases, alias)
        _users.pop(alias, None)
        _registered.pop(alias, None)
    with contextlib.suppress(AttributeError):  # this thread may have made no connection object
        del connections[alias]


def register_named_on_command_line(argv: list[str]) -> None:
    """Register the tenant aliases a command line names with `--database`: Django's commands
    (migrate, dbshell, dumpdata...) accept as choices the aliases registered when they build
    their parser, which is before anything looks the alias up."""
    for position, arg in enumerate(argv):
        if arg == "--database" and position + 1 < len(argv):
            _register_known(argv[position + 1])
        elif arg.startswith("--database="):
            _register_known(arg.split("=", 1)[1])


def registered_tenant_aliases() -> list[str]:
    """The tenant aliases this process has registered so far (a probe, a test)."""
    return [alias for alias in _databases() if is_tenant_alias(alias)]


def is_tenant_alias(alias: str) -> bool:
    return alias.startswith(TENANT_ALIAS_PREFIX)


class TenantRouter:
    """Routes models that carry `sogoms_db_alias`; keeps framework tables off tenant DBs.

    Django's ConnectionRouter calls these with the model, objects, database and app label
    by position and everything else (the instance, `model_name`) as keyword hints.
    """

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return getattr(model, "sogoms_db_alias", None)

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return getattr(model, "sogoms_db_alias", None)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        alias1 = getattr(obj1, "sogoms_db_alias", None)
        alias2 = getattr(obj2, "sogoms_db_alias", None)
        if alias1 or alias2:
            return alias1 == alias2
        return None

    def allow_migrate(self, db: str, _app_label: str, **hints: Any) -> bool:
        # Tenant tables are created by tenants.schema_sync, not by Django migrations, for
        # whatever app and model the hints name.
        return not is_tenant_alias(db)


def visit_each(tenants: Iterable[Tenant]) -> Iterator[Tenant]:
    """Each tenant in turn, for a sweep over all of them: a connection to a tenant's database
    that the visit opened is closed after it (one kept per tenant visited would hold a file
    or a server connection and ~170 kB each: with a thousand tenants, the process's memory
    and its open-files limit). Connections open before, a request's own, are left alone.
    An alias the visit registered is dropped after it unless another thread used it
    meanwhile: the sweep leaves the process's aliases as it found them."""
    databases = _databases()
    already_open = {c.alias for c in connections.all(initialized_only=True) if c.connection is not None}
    for tenant in tenants:
        registered_before = dict.__contains__(databases, tenant.db_alias)
        try:
            yield tenant
        finally:
            if tenant.db_alias not in already_open:
                connections[tenant.db_alias].close()
            if not registered_before:
                _drop_if_only_this_thread_used(tenant.db_alias)
