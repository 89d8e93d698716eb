"""No half-done registrations: the account and its welcome e-mail exist both or neither,
also when the control database (the outbox's) fails between the two."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connections

from mail.hooks import flush_pending
from mail.models import OutboxMessage, Status
from mail.pending import pending_model
from tenants.usermodel import user_model
from tests.conftest import data_of, error_of
from tests.mail.conftest import deliver_due

pytestmark = pytest.mark.django_db(databases="__all__")
EMAIL = "newbie@example.com"


@pytest.fixture(autouse=True)
def _welcome_alone(monkeypatch):
    """These tests follow the welcome e-mail alone: alpha sends no verification code here
    (the code's e-mail is recorded the same way, tests/tenants/test_email_verification.py)."""
    import dataclasses

    from tenants import registry as registry_module
    from tenants.config.loader import LoadResult
    from tenants.config.model import Registry

    tenants = [
        dataclasses.replace(t, verify_email="off") if t.app == "alpha" else t
        for t in registry_module.registry()
    ]
    monkeypatch.setitem(registry_module._state, "result", LoadResult(Registry.of(tenants), []))


class ControlDatabaseFailure:
    """Fails statements of the control database: every outbox write (`outbox`), or the
    first commit point (savepoint release) after an outbox write (`commit`)."""

    def __init__(self, mode: str) -> None:
        self.mode, self.wrote, self.failed = mode, False, 0

    def __call__(self, execute, sql, params, many, context):
        if "mail_outboxmessage" in sql and sql.lstrip().upper().startswith("INSERT"):
            if self.mode == "outbox":
                self.failed += 1
                raise OperationalError("control database gone")
            self.wrote = True
        elif self.mode == "commit" and self.wrote and "RELEASE SAVEPOINT" in sql.upper() and not self.failed:
            self.failed += 1
            raise OperationalError("control database gone at commit")
        return execute(sql, params, many, context)


def register_with(alpha, alpha_api, failure, capture):
    """Register while the control database fails; after-commit work runs as in production."""
    with connections["default"].execute_wrapper(failure), capture(using=alpha.db_alias, execute=True):
        return alpha_api.register(EMAIL, name="Newbie")


def account_exists(alpha) -> bool:
    return user_model(alpha).objects.filter(email=EMAIL).exists()


def welcomes() -> list[str]:
    return list(OutboxMessage.objects.filter(template="welcome").values_list("status", flat=True))


@pytest.mark.parametrize("mode", ["outbox", "commit"])
def test_an_account_whose_welcome_failed_gets_it_from_the_sweep(
    mode, alpha, alpha_api, django_capture_on_commit_callbacks
):
    failure = ControlDatabaseFailure(mode)
    response = register_with(alpha, alpha_api, failure, django_capture_on_commit_callbacks)
    assert failure.failed == 1
    data_of(response, 201)  # the account does not depend on the control database
    assert account_exists(alpha)
    assert welcomes() == []  # not yet: it waits in the tenant's pending table
    assert pending_model(alpha).objects.count() == 1
    assert deliver_due().sent == 1  # the control database is back: the sweep moves and sends it
    assert welcomes() == [Status.SENT]
    assert pending_model(alpha).objects.count() == 0


def test_when_all_goes_well_the_welcome_is_queued_right_after_commit(
    alpha, alpha_api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(using=alpha.db_alias, execute=True):
        data_of(alpha_api.register(EMAIL, name="Newbie"), 201)
    assert welcomes() == [Status.QUEUED]
    assert pending_model(alpha).objects.count() == 0


def test_a_failed_account_leaves_no_pending_welcome(
    alpha, alpha_api, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(using=alpha.db_alias, execute=True):
        error_of(alpha_api.register(alice.email), 409, "CONFLICT")
    assert pending_model(alpha).objects.count() == 0
    deliver_due()
    assert welcomes() == []


def test_a_welcome_moved_twice_is_queued_once(alpha, alpha_api):
    data_of(alpha_api.register(EMAIL, name="Newbie"), 201)
    pending = pending_model(alpha).objects.get()

    def keep_the_pending_row(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("DELETE") and "sogoms_mail_pending" in sql:
            raise OperationalError("tenant database gone before the pending row was deleted")
        return execute(sql, params, many, context)

    with connections[alpha.db_alias].execute_wrapper(keep_the_pending_row):
        assert flush_pending(alpha) == 0  # queued in the outbox, but the pending row stayed
    assert pending_model(alpha).objects.filter(pk=pending.pk).exists()
    assert flush_pending(alpha) == 1
    assert welcomes() == [Status.QUEUED]
    assert OutboxMessage.objects.get().dedupe_key == f"alpha:{pending.key}"


def test_the_pending_row_keeps_its_variables_sealed(alpha, alpha_api):
    data_of(alpha_api.register(EMAIL, name="Newbie"), 201)
    row = pending_model(alpha).objects.get()
    assert (row.template, row.to_email, row.to_name) == ("welcome", EMAIL, "Newbie")
    assert "user_id" not in row.variables and "alpha" not in row.variables


def test_a_pending_welcome_whose_template_is_gone_is_dropped_and_logged(alpha, alpha_api, settings):
    data_of(alpha_api.register(EMAIL, name="Newbie"), 201)
    pending_model(alpha).objects.update(template="no_such_template")
    assert flush_pending(alpha) == 1
    assert pending_model(alpha).objects.count() == 0 and welcomes() == []
    logs = "".join(p.read_text() for p in settings.SOGOMS_LOG_DIR.rglob("*") if p.is_file())
    assert "mail.pending_dropped" in logs
