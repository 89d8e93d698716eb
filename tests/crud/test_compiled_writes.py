"""Compiled writes (crud.writes): a create or an update of a known shape binds its values to
the SQL the ORM built for the first one, with the same result as the ORM's own path.

Every field type is written and read back through the compiled statements; a NULL, a
different set of columns, another caller's row and an admin each keep their own SQL;
a model with save signals, and values the ORM would not bind as they are, keep the ORM.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connections
from django.db.models import signals
from django.db.models.sql.compiler import SQLInsertCompiler, SQLUpdateCompiler
from django.test.utils import CaptureQueriesContext

from crud import selectors, services, writes
from crud.runtime import bound_resource
from sogoms_site.errors import NotFoundError
from tenants.auth.principal import TenantPrincipal
from tests.conftest import create_user
from tests.realtime.conftest import empty_tenant_tables

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture(autouse=True)
def _fresh():
    writes.clear()
    empty_tenant_tables()
    yield
    empty_tenant_tables()
    writes.clear()


@pytest.fixture
def compilations(monkeypatch):
    """How many INSERT and UPDATE statements the ORM compiled."""
    counts = {"insert": 0, "update": 0}
    for name, compiler in (("insert", SQLInsertCompiler), ("update", SQLUpdateCompiler)):
        original = compiler.as_sql

        def counting(self, *args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(compiler, "as_sql", counting)
    return counts


def _user(alpha, email, role="user"):
    return TenantPrincipal.of_user(create_user(alpha, email, role=role), "alpha")


def test_the_second_write_of_a_shape_is_not_compiled_again(alpha, compilations):
    projects = bound_resource(alpha, "projects")
    alice = _user(alpha, "alice@example.com")
    compilations.update(insert=0, update=0)  # the user's own row was the ORM's
    first = services.record_create(bound=projects, caller=alice, data={"name": "One"})
    services.record_update(bound=projects, caller=alice, pk=first["id"], data={"position": 1}, partial=True)
    compiled_once = dict(compilations)

    second = services.record_create(bound=projects, caller=alice, data={"name": "Two", "position": 3})
    services.record_update(bound=projects, caller=alice, pk=second["id"], data={"position": 7}, partial=True)

    assert compiled_once == {"insert": 1, "update": 1}
    assert compilations == compiled_once
    shown = selectors.row_show(projects, alice, second["id"])
    assert (shown["name"], shown["position"], shown["archived"]) == ("Two", 7, False)
    assert (second["name"], second["position"], second["insert_id"]) == ("Two", 3, second["id"])


def test_every_field_type_round_trips_through_the_compiled_statements(alpha):
    specimens = bound_resource(alpha, "specimens")
    carol = _user(alpha, "carol@example.com")
    values = {
        "count": 7,
        "big": 9_007_199_254_740_993,
        "label": "ünïcode ✓",
        "active": False,
        "born_on": "2026-02-28",
        "seen_at": "2026-12-06T10:11:12.345678Z",
        "price": "12.50",
        "ratio": -0.25,
        "attributes": {"nested": [1, "two", None]},
        "contact": "c@example.com",
        "homepage": "https://example.com/x",
        "size": "m",
    }
    ids = []
    for number in range(3):  # the first compiles, the others bind
        created = services.record_create(
            bound=specimens, caller=carol, data={"code": f"AB-{number}", **values}
        )
        ids.append(created["id"])
    for pk in ids:
        row = selectors.row_show(specimens, carol, pk)
        assert row["count"] == 7 and row["big"] == 9_007_199_254_740_993 and row["label"] == "ünïcode ✓"
        assert row["active"] is False and row["born_on"] == dt.date(2026, 2, 28)
        assert row["seen_at"] == dt.datetime(2026, 12, 6, 10, 11, 12, 345678, tzinfo=dt.UTC)
        assert row["price"] == Decimal("12.50") and row["ratio"] == -0.25
        assert row["attributes"] == {"nested": [1, "two", None]} and row["size"] == "m"
    changed = {
        "count": 8,
        "seen_at": "2026-12-07T00:00:00Z",
        "price": "0.01",
        "attributes": [1],
        "active": True,
    }
    for pk in ids:
        services.record_update(bound=specimens, caller=carol, pk=pk, data=changed, partial=True)
    for pk in ids:
        row = selectors.row_show(specimens, carol, pk)
        assert (row["count"], row["price"], row["attributes"], row["active"]) == (
            8,
            Decimal("0.01"),
            [1],
            True,
        )
        assert row["seen_at"] == dt.datetime(2026, 12, 7, tzinfo=dt.UTC)


def test_a_null_value_is_written_as_null_and_a_value_again_after_it(alpha):
    specimens = bound_resource(alpha, "specimens")
    carol = _user(alpha, "carol@example.com")
    pk = services.record_create(bound=specimens, caller=carol, data={"code": "NU-1", "label": "x"})["id"]
    for label in (None, "back", None, "again"):
        services.record_update(bound=specimens, caller=carol, pk=pk, data={"label": label}, partial=True)
        assert selectors.row_show(specimens, carol, pk)["label"] == label


def test_a_compiled_update_reaches_only_the_callers_row_and_an_admin_any(alpha):
    projects = bound_resource(alpha, "projects")
    alice, bob = _user(alpha, "alice@example.com"), _user(alpha, "bob@example.com")
    admin = _user(alpha, "root@example.com", role="admin")
    mine = services.record_create(bound=projects, caller=alice, data={"name": "Mine"})["id"]
    # bob compiles the shape on a row of his own, then cannot reach alice's with it
    his = services.record_create(bound=projects, caller=bob, data={"name": "His"})["id"]
    services.record_update(bound=projects, caller=bob, pk=his, data={"position": 1}, partial=True)
    with pytest.raises(NotFoundError):
        services.record_update(bound=projects, caller=bob, pk=mine, data={"position": 2}, partial=True)
    assert selectors.row_show(projects, alice, mine)["position"] == 0

    services.record_update(bound=projects, caller=admin, pk=mine, data={"position": 5}, partial=True)
    assert selectors.row_show(projects, alice, mine)["position"] == 5


def test_a_model_with_save_signals_keeps_the_orm_path(alpha):
    projects = bound_resource(alpha, "projects")
    alice = _user(alpha, "alice@example.com")
    services.record_create(bound=projects, caller=alice, data={"name": "Compiled"})
    heard: list[str] = []

    def listener(sender, instance, **kwargs):
        heard.append(instance.name)

    signals.post_save.connect(listener, sender=projects.model, weak=False)
    try:
        services.record_create(bound=projects, caller=alice, data={"name": "Signalled"})
    finally:
        signals.post_save.disconnect(listener, sender=projects.model)
    assert heard == ["Signalled"]


def test_a_create_and_an_update_are_still_one_statement_each(alpha):
    projects = bound_resource(alpha, "projects")
    alice = _user(alpha, "alice@example.com")
    pk = services.record_create(bound=projects, caller=alice, data={"name": "Warm"})["id"]
    services.record_update(bound=projects, caller=alice, pk=pk, data={"position": 1}, partial=True)

    with CaptureQueriesContext(connections[alpha.db_alias]) as queries:
        services.record_create(bound=projects, caller=alice, data={"name": "Cold"})
        services.record_update(bound=projects, caller=alice, pk=pk, data={"position": 2}, partial=True)
    verbs = [query["sql"].split(None, 1)[0].upper() for query in queries.captured_queries]
    assert verbs == ["INSERT", "UPDATE", "SELECT"]
