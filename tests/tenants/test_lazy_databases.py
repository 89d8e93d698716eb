"""A tenant's database alias exists from its first use, not from start (tenants/databases.py).

The test settings register every alias at start (the test runner makes their test
databases); these tests load tenants of their own with that switched off, as a server runs,
on SQLite files of their own (outside the test runner's databases, hence no django_db mark).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError
from django.db import connections

from tenants import databases
from tenants.config import Registry
from tenants.config.loader import load_config
from tenants.databases import (
    register_named_on_command_line,
    register_tenant_databases,
    registered_tenant_aliases,
    visit_each,
)
from tenants.registry import load_options

APPS = ("lz0", "lz1", "lz2")


def load(config: Path, apps=APPS, conn_max_age: int = 30) -> Registry:
    secret = config.parent / "jwt_secret"
    secret.write_text("z" * 40)
    (config / "routes").mkdir(parents=True, exist_ok=True)
    for app in apps:
        (config / "routes" / f"{app}.yaml").write_text(
            f"app: {app}\nhosts: [{app}.test]\nauth: {{jwt_secret_file: {secret}}}\n"
            f"database: {{engine: sqlite, name: {config.parent / 'db' / app}.sqlite3, "
            f"conn_max_age: {conn_max_age}}}\n"
        )
    options = dataclasses.replace(load_options(), config_dir=config, var_dir=config.parent / "var")
    result = load_config(options)
    assert result.ok, [str(problem) for problem in result.problems]
    return result.registry


def forget(aliases) -> None:
    for alias in aliases:
        if dict.__contains__(connections.settings, alias):
            connections[alias].close()
            del connections[alias]
            dict.pop(connections.settings, alias)
        databases._known.pop(alias, None)
        databases._registered.pop(alias, None)


@pytest.fixture
def lazy(tmp_path, settings, django_db_blocker) -> Iterator[Registry]:
    """Three tenants of a config loaded as a server loads it: their aliases known, none registered."""
    settings.SOGOMS_TENANT_DATABASES_AT_START = False
    registry = load(tmp_path / "config")
    register_tenant_databases(registry)
    with django_db_blocker.unblock():
        yield registry
        forget(f"tenant_{app}" for app in APPS)


def lazy_registered() -> list[str]:
    return sorted(alias for alias in registered_tenant_aliases() if alias.startswith("tenant_lz"))


def test_no_alias_is_registered_at_load(lazy):
    assert lazy_registered() == []
    assert not any(alias.startswith("tenant_lz") for alias in settings.DATABASES)
    assert not any(alias.startswith("tenant_lz") for alias in connections)


def test_a_first_use_registers_that_alias_alone_with_the_tenants_settings(lazy):
    tenant = lazy.get("lz1")

    with connections[tenant.db_alias].cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)

    assert lazy_registered() == ["tenant_lz1"]
    registered = connections.settings["tenant_lz1"]
    assert settings.DATABASES["tenant_lz1"] is registered  # one mapping, as Django makes it
    assert registered["NAME"] == tenant.database["NAME"]
    assert registered["CONN_MAX_AGE"] == 30
    assert registered["OPTIONS"] == dict(tenant.database["OPTIONS"])  # the engine tuning
    assert registered["TIME_ZONE"] is None  # Django's defaults were filled in
    assert registered["TEST"]["NAME"] is None
    connections["tenant_lz1"].close()


def test_an_unknown_alias_is_still_unknown(lazy):
    assert "tenant_nobody" not in connections.settings
    with pytest.raises(Exception, match="doesn't exist"):
        connections["tenant_nobody"]


def test_threads_using_a_new_alias_at_once_register_it_once(lazy, monkeypatch):
    calls = []
    register = databases._register
    monkeypatch.setattr(databases, "_register", lambda *args: calls.append(1) or register(*args))
    start = threading.Barrier(8)
    seen = []

    def first_use() -> None:
        start.wait()
        seen.append(connections["tenant_lz2"].settings_dict)
        connections["tenant_lz2"].close()

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert calls == [1]
    assert len(seen) == 8
    assert all(one is seen[0] for one in seen)


def test_a_sweep_sees_every_tenant_and_keeps_no_connection_nor_alias_it_alone_used(lazy):
    connections["tenant_lz1"].close()  # in use before the sweep (a request's)
    answered = []
    for tenant in visit_each(lazy):
        with connections[tenant.db_alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            answered.append(tenant.app)

    assert answered == list(APPS)
    assert lazy_registered() == ["tenant_lz1"]  # Django's per-request walks stay as short
    assert connections["tenant_lz1"].connection is None


def test_a_sweep_drops_the_aliases_only_it_used_and_keeps_those_others_use(lazy):
    connections["tenant_lz1"].close()  # a request's, before the sweep
    seen_by_a_request = threading.Event()
    sweep_is_on_lz2 = threading.Event()

    def request_on_lz2() -> None:
        sweep_is_on_lz2.wait(10)
        connections["tenant_lz2"].close()  # another thread's first use, during the visit
        seen_by_a_request.set()

    other = threading.Thread(target=request_on_lz2)
    other.start()
    for tenant in visit_each(lazy):
        connections[tenant.db_alias].ensure_connection()
        if tenant.app == "lz2":
            sweep_is_on_lz2.set()
            assert seen_by_a_request.wait(10)
    other.join()

    assert sorted(dict.keys(connections.settings) & {f"tenant_{app}" for app in APPS}) == [
        "tenant_lz1",
        "tenant_lz2",
    ]
    connections["tenant_lz0"].close()  # a later use registers it again
    assert "tenant_lz0" in list(connections.settings)


def test_a_reload_replaces_a_used_alias_that_moved_and_leaves_the_others_for_later(lazy, tmp_path):
    connections["tenant_lz0"].ensure_connection()
    moved = load(tmp_path / "config", conn_max_age=5)

    register_tenant_databases(moved)

    assert lazy_registered() == ["tenant_lz0"]
    assert connections.settings["tenant_lz0"]["CONN_MAX_AGE"] == 5
    assert connections["tenant_lz0"].connection is None  # reconnects with the new settings
    assert connections["tenant_lz1"].settings_dict["CONN_MAX_AGE"] == 5  # first use after the reload
    connections["tenant_lz1"].close()


def test_with_the_test_switch_every_alias_is_registered_at_load(tmp_path, settings):
    settings.SOGOMS_TENANT_DATABASES_AT_START = True
    registry = load(tmp_path / "config", apps=("lzs0", "lzs1"))
    try:
        register_tenant_databases(registry)
        assert {"tenant_lzs0", "tenant_lzs1"} <= set(settings.DATABASES)
    finally:
        forget(["tenant_lzs0", "tenant_lzs1"])


def test_a_command_line_naming_a_tenants_database_registers_it_before_the_command_parses(lazy):
    from django.core.management.commands.showmigrations import Command

    def parses(alias: str) -> bool:
        try:
            Command().create_parser("manage.py", "showmigrations").parse_args(["--database", alias])
        except CommandError:  # not one of the choices
            return False
        return True

    assert not parses("tenant_lz1")  # Django offers the aliases registered when it builds its parser

    register_named_on_command_line(["manage.py", "showmigrations", "--database", "tenant_lz1"])
    register_named_on_command_line(["manage.py", "dbshell", "--database=tenant_lz2", "--", "-x"])

    assert parses("tenant_lz1")
    assert lazy_registered() == ["tenant_lz1", "tenant_lz2"]
