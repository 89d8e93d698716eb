"""Creates and updates under the default rules are one statement, outside a transaction.

In autocommit (as a request runs in production) the INSERT or UPDATE is its own
transaction: no BEGIN, no savepoint, no COMMIT of Django's. The answers are the row as
show reads it, the event is dispatched once the row is durable (another connection sees
it), a refused row leaves the connection usable, and an admin's update (which reads the
row's owner too) keeps its transaction. Runs with `transaction=True`: inside a test's
transaction every write takes a savepoint instead.
"""

from __future__ import annotations

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from crud import events, selectors, services
from crud.runtime import bound_resource
from sogoms_site.errors import AlreadyExists
from tenants.auth.principal import TenantPrincipal
from tests.conftest import create_user
from tests.realtime.conftest import empty_tenant_tables

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture(autouse=True)
def _empty_tables():
    empty_tenant_tables()
    yield
    empty_tenant_tables()


@pytest.fixture
def projects(alpha):
    return bound_resource(alpha, "projects")


@pytest.fixture
def writer(alpha):
    return TenantPrincipal.of_user(create_user(alpha, "writer@example.com"), "alpha")


@pytest.fixture
def dispatched(monkeypatch, alpha):
    """Events as dispatched, with whether the row was durable then (seen from a new connection)."""
    seen: list[tuple[events.DomainEvent, bool, bool]] = []
    original = events.dispatch

    def recording(event: events.DomainEvent) -> None:
        connection = connections[alpha.db_alias]
        seen.append((event, connection.in_atomic_block, _committed_row(alpha, event.id)))
        original(event)

    monkeypatch.setattr(events, "dispatch", recording)
    return seen


def _committed_row(alpha, pk) -> bool:
    """Whether the row is there for a connection of its own (not this one's transaction)."""
    handler = connections.create_connection(alpha.db_alias)
    try:
        with handler.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM projects WHERE id = %s", [pk])
            return cursor.fetchone()[0] == 1
    finally:
        handler.close()


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"].split(None, 1)[0].upper() for query in queries.captured_queries]


def test_a_create_is_one_insert_and_answers_the_row_as_show_reads_it(alpha, projects, writer, dispatched):
    with CaptureQueriesContext(connections[alpha.db_alias]) as queries:
        created = services.record_create(bound=projects, caller=writer, data={"name": "Inbox"})

    assert _statements(queries) == ["INSERT"]
    shown = selectors.row_show(projects, writer, created["id"])
    assert created == {**shown, "insert_id": shown["id"]}
    [(event, in_transaction, durable)] = dispatched
    assert (event.action, event.id, in_transaction, durable) == ("create", created["id"], False, True)


def test_an_update_is_one_update_and_answers_the_row_as_show_reads_it(alpha, projects, writer, dispatched):
    pk = services.record_create(bound=projects, caller=writer, data={"name": "Inbox"})["id"]
    dispatched.clear()

    with CaptureQueriesContext(connections[alpha.db_alias]) as queries:
        updated = services.record_update(
            bound=projects, caller=writer, pk=pk, data={"name": "Home", "position": 4}, partial=True
        )

    assert _statements(queries) == ["UPDATE", "SELECT"]  # the write, then the answer
    assert updated == selectors.row_show(projects, writer, pk)
    assert (updated["name"], updated["position"]) == ("Home", 4)
    [(event, in_transaction, durable)] = dispatched
    assert (event.action, event.id, event.owner, in_transaction, durable) == (
        "update",
        pk,
        writer.id,
        False,
        True,
    )


def test_a_refused_create_leaves_the_connection_usable(alpha, projects, writer):
    services.record_create(bound=projects, caller=writer, data={"name": "Inbox"})

    with pytest.raises(AlreadyExists):
        services.record_create(bound=projects, caller=writer, data={"name": "Inbox"})

    assert services.record_create(bound=projects, caller=writer, data={"name": "Other"})["name"] == "Other"
    assert projects.model.objects.count() == 2


def test_an_admin_update_reads_the_owner_in_its_transaction(alpha, projects, writer, dispatched):
    admin = TenantPrincipal.of_user(create_user(alpha, "root@example.com", role="admin"), "alpha")
    pk = services.record_create(bound=projects, caller=writer, data={"name": "Inbox"})["id"]
    dispatched.clear()

    with CaptureQueriesContext(connections[alpha.db_alias]) as queries:
        services.record_update(bound=projects, caller=admin, pk=pk, data={"name": "Mine"}, partial=True)

    statements = _statements(queries)
    assert statements[:1] in (["BEGIN"], ["UPDATE"])  # SQLite names its BEGIN; MariaDB switches autocommit
    assert statements.count("UPDATE") == 1 and "SELECT" in statements
    [(event, _in_transaction, durable)] = dispatched
    assert (event.owner, durable) == (writer.id, True)
