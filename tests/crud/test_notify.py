"""`notify` of a schema table: a template mailed when a row is created or changed, to its
owner or to every active user of a role, once the change has committed.

alice owns rows of alpha; root is alpha's admin; bob is another alpha user.
"""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from mail.models import OutboxMessage
from tenants import registry as registry_module
from tenants.config import load_config
from tests.conftest import create_user, data_of
from tests.realtime.servers import BASE_DIR

pytestmark = pytest.mark.django_db(databases="__all__")

NOTIFY = """\
    notify:
      - { after: create, template: project_created, to: owner }
      - { after: update, template: project_archived, to: "role(admin)", fields: [archived] }
"""


def alpha_with(tmp_path, monkeypatch, notify: str):
    config = tmp_path / "config"
    shutil.copytree(BASE_DIR / "tests" / "config", config)
    schema = config / "schema" / "alpha.yaml"
    schema.write_text(
        schema.read_text().replace("    sort: [position, name]\n", "    sort: [position, name]\n" + notify, 1)
    )
    emails = config / "emails" / "alpha"
    (emails / "project_created.yaml").write_text(
        'subject: "New project {{ record.name }}"\n'
        'body: "Hello {{ name }}, {{ record.name }} (#{{ record.id }}) is yours."\n'
    )
    (emails / "project_archived.yaml").write_text(
        'subject: "{{ record.name }} archived"\n'
        'body: "{{ resource }} {{ action }}: archived={{ record.archived }}"\n'
    )
    result = load_config(dataclasses.replace(registry_module.load_options(), config_dir=config))
    monkeypatch.setitem(registry_module._state, "result", result)
    return result


@pytest.fixture
def alpha_notify(tmp_path, monkeypatch):
    result = alpha_with(tmp_path, monkeypatch, NOTIFY)
    assert result.ok, result.problems
    return result.registry.get("alpha")


@pytest.fixture
def committed(alpha_notify, django_capture_on_commit_callbacks):
    """Runs the after-commit work (the events) of the writes made inside it."""
    return lambda: django_capture_on_commit_callbacks(using=alpha_notify.db_alias, execute=True)


def test_a_created_row_mails_its_owner_with_the_row(committed, alpha_api, alice):
    token = alpha_api.token_for(alice.email)

    with committed():
        project = data_of(alpha_api.post("projects", {"name": "Launch"}, token=token), 201)

    (message,) = OutboxMessage.objects.filter(app="alpha", template="project_created")
    assert (message.to_email, message.subject) == ("alice@example.com", "New project Launch")
    assert message.body_text == f"Hello Alice, Launch (#{project['id']}) is yours."


def test_an_update_mails_a_role_only_when_the_named_fields_change(
    committed, alpha_notify, alpha_api, alice, bob
):
    create_user(alpha_notify, "root@example.com", name="Root", role="admin")
    create_user(alpha_notify, "gone@example.com", role="admin", is_active=False)
    token = alpha_api.token_for(alice.email)
    project = data_of(alpha_api.post("projects", {"name": "Old"}, token=token), 201)

    with committed():
        alpha_api.call("patch", f"projects/{project['id']}", {"name": "Older"}, token=token)
    assert not OutboxMessage.objects.filter(template="project_archived").exists()
    with committed():
        alpha_api.call("patch", f"projects/{project['id']}", {"archived": True}, token=token)

    (message,) = OutboxMessage.objects.filter(template="project_archived")
    assert (message.to_email, message.subject) == ("root@example.com", "Older archived")
    assert message.body_text == "projects update: archived=True"


def test_a_refused_write_mails_nobody(committed, alpha_api, alice):
    token = alpha_api.token_for(alice.email)
    with committed():
        alpha_api.post("projects", {"name": "Twice"}, token=token)
        alpha_api.post("projects", {"name": "Twice"}, token=token)  # 409: unique per user

    assert OutboxMessage.objects.filter(template="project_created").count() == 1


@pytest.mark.parametrize(
    ("notify", "key", "words"),
    [
        (
            "      - { after: create, template: x, to: 'role(owner)' }\n",
            "notify[0].to",
            "not a role of alpha",
        ),
        ("      - { after: create, template: x, to: someone }\n", "notify[0].to", "not a recipient"),
        ("      - { after: update, template: x, fields: [nope] }\n", "notify[0].fields", "not fields"),
        ("      - { after: create, template: x, fields: [name] }\n", "notify[0].fields", "only an update"),
    ],
)
def test_a_bad_notify_is_refused_at_load(tmp_path, monkeypatch, notify, key, words):
    result = alpha_with(tmp_path, monkeypatch, "    notify:\n" + notify)

    found = [p for p in result.problems if p.path == f"tables.projects.{key}"]
    assert found and words in found[0].message, result.problems
