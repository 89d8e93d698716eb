"""Mail fixtures: a real SMTP server, and tenant alpha switched to it through the loader."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest
from django.conf import settings

from mail import delivery
from mail.models import OutboxMessage
from tenants import registry as registry_module
from tenants.config.loader import LoadOptions, LoadResult
from tenants.config.model import Registry
from tests.mail.smtpserver import PASSWORD, SmtpServer


@pytest.fixture
def smtp_server(tmp_path):
    server = SmtpServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def smtps_server(tmp_path):
    server = SmtpServer(tmp_path, implicit_tls=True).start()
    yield server
    server.stop()


def tenant_with(tenant, monkeypatch, tmp_path, **raw_changes):
    """`tenant` as if its routes file said `raw_changes` (e.g. smtp=...), installed in the
    registry for this test. The mail section of the real loader builds the transport."""
    from mail.config import load_mail

    (tmp_path / "smtp_password").write_text(PASSWORD)
    changed = dataclasses.replace(tenant, raw=MappingProxyType({**tenant.raw, **raw_changes}))
    problems: list = []
    options = LoadOptions(config_dir=settings.SOGOMS_CONFIG_DIR, base_dir=tmp_path, var_dir=settings.VAR_DIR)
    extensions = load_mail(changed, options, problems)
    assert not problems, problems
    changed = dataclasses.replace(changed, extensions=MappingProxyType({**tenant.extensions, **extensions}))
    current = registry_module.registry()
    tenants = [changed if other.app == tenant.app else other for other in current]
    monkeypatch.setitem(registry_module._state, "result", LoadResult(Registry.of(tenants), []))
    return changed


@pytest.fixture
def smtp_alpha(alpha, smtp_server, monkeypatch, tmp_path):
    return tenant_with(alpha, monkeypatch, tmp_path, smtp=smtp_server.block(password_file="smtp_password"))


@pytest.fixture
def fast_retries(settings):
    settings.SOGOMS_MAIL_RETRY_BASE_SECONDS = 0
    settings.SOGOMS_MAIL_RETRY_MAX_SECONDS = 0


def deliver_due() -> delivery.Outcome:
    """What a worker would do with everything due now."""
    outcome = delivery.Outcome()
    delivery.sweep(dispatch=lambda ids: outcome.add(delivery.deliver(ids)))
    return outcome


def statuses(**filters) -> list[str]:
    return list(OutboxMessage.objects.filter(**filters).order_by("id").values_list("status", flat=True))
