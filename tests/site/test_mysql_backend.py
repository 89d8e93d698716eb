"""The MariaDB backend pings a reused connection only when it sat idle: a connection busy
with requests is not pinged before each one (a round trip per request), one idle for more
than a second is, and a connection the server dropped meanwhile is replaced unseen."""

from __future__ import annotations

import os
import time

import pytest
from django.db import connections

from sogoms_site.db.mysql import base


@pytest.fixture
def mariadb(transactional_db):
    if not os.environ.get("DATABASE_URL", "").startswith("mysql"):
        if os.environ.get("SOGOMS_REQUIRE_SERVICES"):
            pytest.fail("DATABASE_URL does not name a MariaDB server")
        pytest.skip("needs MariaDB (DATABASE_URL)")
    connection = connections["default"]
    assert isinstance(connection, base.DatabaseWrapper)
    return connection


def _pings(monkeypatch, connection) -> list[bool]:
    made: list[bool] = []
    real = type(connection).is_usable

    def counted(self) -> bool:
        made.append(True)
        return real(self)

    monkeypatch.setattr(type(connection), "is_usable", counted)
    return made


def _request(connection) -> int:
    """What a request does to a reused connection: Django marks it unchecked at the
    request's start, then the first statement's cursor runs the health check."""
    connection.health_check_done = False
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        return cursor.fetchone()[0]


def test_a_busy_connection_is_not_pinged_before_each_request(mariadb, monkeypatch):
    _request(mariadb)
    pings = _pings(monkeypatch, mariadb)
    for _ in range(5):
        _request(mariadb)
    assert pings == []


def test_a_connection_idle_for_longer_is_pinged(mariadb, monkeypatch):
    monkeypatch.setattr(base, "IDLE_SECONDS", 0.05)
    _request(mariadb)
    pings = _pings(monkeypatch, mariadb)
    time.sleep(0.1)
    _request(mariadb)
    assert pings == [True]


def test_a_connection_the_server_dropped_while_idle_is_replaced(mariadb, monkeypatch):
    monkeypatch.setattr(base, "IDLE_SECONDS", 0.05)
    first = _request(mariadb)
    import MySQLdb

    settings = mariadb.settings_dict
    other = MySQLdb.connect(
        host=settings["HOST"] or "127.0.0.1", port=int(settings["PORT"] or 3306), user=settings["USER"]
    )
    try:
        other.cursor().execute(f"KILL CONNECTION {int(first)}")
    finally:
        other.close()
    time.sleep(0.1)
    assert _request(mariadb) != first


def test_datetimes_are_read_by_fromisoformat_as_the_driver_read_them(mariadb):
    from datetime import datetime

    from MySQLdb.constants import FIELD_TYPE
    from MySQLdb.times import DateTime_or_None

    mariadb.ensure_connection()
    assert mariadb.connection.converter[FIELD_TYPE.DATETIME] is base.datetime_or_none
    with mariadb.cursor() as cursor:
        cursor.execute(
            "SELECT CAST('2026-12-06 20:56:54.431697' AS DATETIME(6)), CAST('2026-12-06 20:56:54.4' AS"
            " DATETIME(3)), CAST('2026-12-06 20:56:54' AS DATETIME), CAST(NULL AS DATETIME),"
            " TIMESTAMP('2026-12-06 01:02:03.5')"
        )
        row = cursor.fetchone()
    assert row == (
        datetime(2026, 12, 6, 20, 56, 54, 431697),
        datetime(2026, 12, 6, 20, 56, 54, 400000),
        datetime(2026, 12, 6, 20, 56, 54),
        None,
        datetime(2026, 12, 6, 1, 2, 3, 500000),
    )
    for text in (
        "2026-12-06 20:56:54.431697",
        "2026-12-06 20:56:54.4",
        "2026-12-06 20:56:54",
        "0000-00-00 00:00:00",
    ):
        assert base.datetime_or_none(text) == DateTime_or_None(text), text


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_tenant_connection_that_broke_between_requests_answers_503_then_recovers(alpha, alpha_api, alice):
    connection = connections[alpha.db_alias]
    if connection.vendor != "mysql":
        if os.environ.get("SOGOMS_REQUIRE_SERVICES"):
            pytest.fail("SOGOMS_TENANT_DATABASE_URL does not name a MariaDB server")
        pytest.skip("needs MariaDB tenant databases (SOGOMS_TENANT_DATABASE_URL)")
    token = alpha_api.token_for(alice.email)
    assert alpha_api.get("projects", token=token).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        [used] = cursor.fetchone()
    import MySQLdb

    settings = connection.settings_dict
    other = MySQLdb.connect(
        host=settings["HOST"] or "127.0.0.1", port=int(settings["PORT"] or 3306), user=settings["USER"]
    )
    try:
        other.cursor().execute(f"KILL CONNECTION {int(used)}")  # a restart, for this connection
    finally:
        other.close()

    broken = alpha_api.get("projects", token=token)
    assert broken.status_code == 503, broken.content
    assert broken.json()["error"]["code"] == "TENANT_UNAVAILABLE"
    assert broken["Retry-After"] == "1"
    assert alpha_api.get("projects", token=token).status_code == 200  # on a new connection
