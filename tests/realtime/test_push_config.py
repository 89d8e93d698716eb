"""config/push/<app>.yaml and the routes' mqtt block: checked with file and key path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from crud.config import load_resources
from realtime.config import MqttSettings, load_push, mqtt_settings, push_settings
from tenants.config.loader import LoadOptions, LoadResult, load_config
from tenants.registry import registry

SCHEMA = """
tables:
  users:
    fields:
      id: { type: int, primary: true, auto: true }
      email: { type: email, unique: true, auth: login }
      password: { type: string, auth: password, hidden: true }
      name: { type: string, max_length: 255 }
  notes:
    fields:
      id: { type: int, primary: true, auto: true }
      user_id: { type: int, foreign: users.id, filter: owner }
      text: { type: string }
    crud: [list, show, create, update, delete]
  labels:
    fields:
      id: { type: int, primary: true, auto: true }
      name: { type: string }
    crud: [list, create]
"""


class Site:
    """A throw-away config dir with one tenant, `shop`, with two resources."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "config"
        for folder in ("routes", "schema", "push"):
            (self.config / folder).mkdir(parents=True)
        (root / "secrets").mkdir()
        (root / "secrets" / "jwt").write_bytes(b"k" * 40)
        (self.config / "schema" / "shop.yaml").write_text(SCHEMA)
        self.routes()

    def routes(self, extra: str = "") -> None:
        text = "app: shop\nhosts: [shop.example]\nauth:\n  jwt_secret_file: secrets/jwt\n"
        (self.config / "routes" / "shop.yaml").write_text(text + textwrap.dedent(extra))

    def push(self, text: str) -> None:
        (self.config / "push" / "shop.yaml").write_text(textwrap.dedent(text))

    def load(self) -> LoadResult:
        return load_config(
            LoadOptions(
                config_dir=self.config,
                base_dir=self.root,
                var_dir=self.root,
                sections=(load_resources, load_push),
            )
        )


@pytest.fixture
def site(tmp_path) -> Site:
    return Site(tmp_path)


def problems(result: LoadResult) -> list[str]:
    assert result.registry is None
    return [str(problem) for problem in result.problems]


def test_without_a_push_file_every_resource_publishes_to_its_owner(site):
    result = site.load()
    assert result.ok, result.problems
    push = push_settings(result.registry.get("shop"))
    assert push.rule_for("notes", "create").broadcast is False
    assert push.rule_for("labels", "delete") is not None
    assert {"notifications", "tasks", "projects", "comments", "notes", "labels"} <= push.channels


def test_a_push_file_chooses_resources_actions_and_broadcast(site):
    site.push(
        """
        channels: [chat]
        resources:
          notes: { actions: [create], broadcast: true }
          labels: { publish: false }
        """
    )
    push = push_settings(site.load().registry.get("shop"))
    assert push.rule_for("notes", "create").broadcast is True
    assert push.rule_for("notes", "update") is None
    assert push.rule_for("labels", "create") is None
    assert "chat" in push.channels


def test_crud_events_false_turns_every_resource_off(site):
    site.push("crud_events: false\n")
    push = push_settings(site.load().registry.get("shop"))
    assert push.rule_for("notes", "create") is None


def test_an_unknown_resource_in_the_push_file_is_a_config_problem(site):
    site.push("resources:\n  nots: { broadcast: true }\n")
    found = problems(site.load())
    assert any(p.startswith("push/shop.yaml: resources.nots: not a resource of shop") for p in found), found


def test_a_misspelt_key_or_action_in_the_push_file_is_reported_by_path(site):
    site.push("resources:\n  notes: { action: [create] }\n")
    assert any("push/shop.yaml: resources.notes.action: unknown key" in p for p in problems(site.load()))
    site.push("resources:\n  notes: { actions: [erase] }\n")
    assert any(p.startswith("push/shop.yaml: resources.notes.actions[0]:") for p in problems(site.load()))


def test_a_bad_channel_name_is_reported(site):
    site.push("channels: ['two words']\n")
    assert any(p.startswith("push/shop.yaml: channels:") for p in problems(site.load()))


def test_the_mqtt_block_is_read_with_its_defaults_and_password_file(site):
    (site.root / "secrets" / "mqtt").write_text("s3cret\n")
    site.routes("mqtt:\n  host: 127.0.0.1\n  username: shop\n  password_file: secrets/mqtt\n")
    settings = mqtt_settings(site.load().registry.get("shop"))
    assert settings == MqttSettings(
        host="127.0.0.1",
        port=1883,
        username="shop",
        password="s3cret",
        client_id_prefix="sogoms",
        qos=1,
        topic_prefix="",
        keepalive=60,
    )


def test_mqtt_problems_name_the_routes_file_and_key(site):
    site.routes("mqtt:\n  host: 127.0.0.1\n  qos: 3\n  port: 0\n")
    found = problems(site.load())
    assert any(p.startswith("routes/shop.yaml: mqtt.qos:") for p in found), found
    assert any(p.startswith("routes/shop.yaml: mqtt.port:") for p in found), found
    site.routes("mqtt:\n  host: 127.0.0.1\n  password_file: secrets/none\n")
    assert any(
        p.startswith("routes/shop.yaml: mqtt.password_file: secret file") for p in problems(site.load())
    )


def test_the_test_tenant_alpha_has_its_push_rules_loaded():
    push = push_settings(registry().get("alpha"))
    assert push.rule_for("statuses", "create").broadcast is True
    assert push.rule_for("task_tags", "create") is None
    assert "chat" in push.channels
