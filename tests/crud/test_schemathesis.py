"""Property-based conformance of tenant alpha's API to its own OpenAPI document (Schemathesis).

Schemathesis generates requests for every operation of `<base>/_openapi` (valid and
invalid bodies, parameters and methods) and sends them in-process through Django's WSGI
handler as `sogoms_site.wsgi` builds it (every middleware, real URL routing, real CSRF,
no Django test client), with the Host `alpha.test`. Not through `sogoms_site.wsgi`
itself: importing it starts the embedded Celery worker and beat, which would live on for
the whole session, tick the cron jobs every minute among other tests' rows and take tasks
meant for their workers. Each response must be no server error and match the document: a
documented status code, its content type and its schema.

All operations are tested, none is excluded, in two groups. The resources, auth and the
public pages are called by a fresh user of role default with rows of their own at ids 1
to 3 in every table (and shared specimens), so item operations find rows, not only 404s;
each request carries a newly minted access token, so `POST /auth/logout` revoking one does
not turn every later request into a 401. The role-admin endpoints (`_schema`, `_mail`,
`_push`, `_cron`) are called by a user of role admin, with outbox messages at ids 1 to 3
in three states and runs of the scheduled jobs, with fewer examples each (they are many,
and simpler).

The database: the WSGI handler closes connections that are not in autocommit at the end
of each request, as it does in production, so requests cannot run inside the test's
transaction (`transaction=True`); tenant tables are not flushed by Django (they live in
the tenant's own model registry), so this module empties alpha's tables before and after.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cron.models import JobRun, RunStatus
from crud.config import resources_of
from crud.runtime import bound_resource
from mail.models import OutboxMessage, Status
from sogoms_site.api.openapi import openapi_document
from tenants.auth.services import session_open
from tenants.registry import registry
from tenants.usermodel import user_model
from tests.conftest import create_user

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

BASE_URL = "http://alpha.test/api"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES_PER_OPERATION = 15
EXAMPLES_PER_ADMIN_OPERATION = 8
ADMIN_PATHS = r"^/_(schema|mail|push|cron)(/|$)"

application = get_wsgi_application()

# The document the server serves at /api/_openapi (test_describe.py checks they are equal).
schema = schemathesis.openapi.from_dict(openapi_document(registry().get("alpha")))


def empty_tables(tenant) -> None:
    for name in reversed(list(resources_of(tenant))):
        bound = bound_resource(tenant, name)
        if bound is not None:
            bound.model.objects.all().delete()
    user_model(tenant).objects.all().delete()


def seed(tenant, table: str, **values) -> None:
    bound_resource(tenant, table).model.objects.create(**values)


@pytest.fixture
def fuzzer(alpha):
    """A user of role default with three rows in every table, at ids 1, 2 and 3."""
    empty_tables(alpha)
    user = create_user(alpha, "fuzzer@example.com")
    for pk in (1, 2, 3):
        owned = {"id": pk, "user_id": user.id}
        seed(alpha, "projects", **owned, name=f"Project {pk}", description="d", position=pk)
        seed(alpha, "statuses", **owned, name=f"Status {pk}")
        seed(alpha, "tags", **owned, name=f"Tag {pk}")
        seed(
            alpha,
            "tasks",
            **owned,
            project_id=pk,
            status_id=pk,
            title=f"Task {pk}",
            due_date=date(2026, 1, pk),
            estimate_hours=Decimal("2.50"),
            meta={"n": [pk]},
        )
        seed(alpha, "task_tags", **owned, task_id=pk, tag_id=pk)
        seed(
            alpha,
            "specimens",
            id=pk,
            code=f"AB-{pk}",
            big=2**40,
            label="seeded",
            born_on=date(2000, 1, pk),
            seen_at=datetime(2026, 1, pk, tzinfo=UTC),
            price=Decimal("9.99"),
            ratio=0.5,
            attributes=[pk, "a"],
            contact="someone@example.com",
            homepage="https://example.com/",
            size="m",
            secret_note="hidden",
            stamp="set by the operator",
        )
    yield user
    empty_tables(alpha)


@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    # The fixture's rows are shared by the examples of one operation on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@schema.exclude(path_regex=ADMIN_PATHS).parametrize()
def test_every_operation_answers_as_its_openapi_document_says(case, alpha, fuzzer):
    token = session_open(tenant=alpha, user=fuzzer).access

    case.call_and_validate(
        app=application,
        base_url=BASE_URL,
        headers={"Authorization": f"Bearer {token}"},
        checks=CHECKS,
    )


def handed_to_the_broker(*args: object) -> bool:
    return True


@pytest.fixture
def admin(alpha, monkeypatch):
    """A user of role admin, three outbox messages (ids 1 to 3) and a few job runs.

    The contract is under test, not delivery: sends and triggers are not handed to the
    broker (the worker of a later test would take them, for rows that are gone)."""
    monkeypatch.setattr("mail.tasks.dispatch", handed_to_the_broker)
    monkeypatch.setattr("cron.tasks.dispatch_run", handed_to_the_broker)
    empty_tables(alpha)
    user = create_user(alpha, "admin@example.com", role="admin")
    now = datetime.now(UTC)
    for pk, status in ((1, Status.QUEUED), (2, Status.SENT), (3, Status.DEAD)):
        OutboxMessage.objects.create(
            id=pk,
            app=alpha.app,
            to_email=f"user{pk}@example.com",
            from_email="app@alpha.test",
            subject=f"Message {pk}",
            body_text="Hello",
            status=status,
            next_attempt_at=now,
        )
    JobRun.objects.create(app=alpha.app, job="greet", trigger="schedule", scheduled_for=now)
    JobRun.objects.create(
        app=alpha.app, job="flaky_http", trigger="manual", status=RunStatus.FAILED, error="refused"
    )
    yield user
    empty_tables(alpha)


@settings(
    max_examples=EXAMPLES_PER_ADMIN_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@schema.include(path_regex=ADMIN_PATHS).parametrize()
def test_every_admin_operation_answers_as_its_openapi_document_says(case, alpha, admin):
    token = session_open(tenant=alpha, user=admin).access

    case.call_and_validate(
        app=application,
        base_url=BASE_URL,
        headers={"Authorization": f"Bearer {token}"},
        checks=CHECKS,
    )
