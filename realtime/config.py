"""The realtime config section: `config/push/<app>.yaml` and the routes' `mqtt:` block.

Runs inside the one config loader, after the crud section, so a push file can be checked
against the tenant's resources: an unknown resource name is a config problem reported
with file and key path, like every other problem, and stops the start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pydantic import Field, field_validator

from realtime.topics import CHANNEL, DEFAULT_CHANNELS
from tenants.config.loader import ConfigProblem, read_yaml, validate_model
from tenants.config.schema import Strict
from tenants.config.secrets import SecretError, read_secret_file

Action = Literal["create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete")


class ResourcePush(Strict):
    publish: bool = True
    actions: list[Action] = Field(default_factory=lambda: list(ACTIONS))
    # Also publish on `<app>/broadcast/<resource>`: every user of the app sees the change.
    broadcast: bool = False


class PushFile(Strict):
    crud_events: bool = True  # false: no resource publishes, whatever `resources` says
    channels: list[str] = Field(default_factory=list)  # extra channels clients may subscribe to
    resources: dict[str, ResourcePush] = Field(default_factory=dict)

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, values: list[str]) -> list[str]:
        for value in values:
            if not CHANNEL.match(value):
                raise ValueError(f"{value!r} is not a channel name (letters, digits, _ and -, at most 64)")
        return values


@dataclass(frozen=True, slots=True)
class ResourceRule:
    actions: frozenset[str]
    broadcast: bool


@dataclass(frozen=True, slots=True)
class PushSettings:
    """What a tenant publishes on CRUD events and which channels exist."""

    channels: frozenset[str]
    rules: MappingProxyType  # resource -> ResourceRule; a missing resource publishes nothing

    def rule_for(self, resource: str, action: str) -> ResourceRule | None:
        rule = self.rules.get(resource)
        return rule if rule is not None and action in rule.actions else None


@dataclass(frozen=True, slots=True)
class MqttSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    client_id_prefix: str
    qos: int
    topic_prefix: str
    keepalive: int


def load_push(tenant, options, problems: list[ConfigProblem]) -> dict:
    resources = tenant.extensions.get("resources", {})
    spec = PushFile()
    path = _first(options.config_dir / "push", tenant.app)
    if path is not None:
        label = f"push/{path.name}"
        data = read_yaml(path, label, problems)
        loaded = validate_model(PushFile, data, label, problems) if data is not None else None
        if loaded is None:
            return {}
        spec = loaded
        for name in spec.resources:
            if name not in resources:
                known = ", ".join(sorted(resources)) or "none"
                problems.append(
                    ConfigProblem(label, f"resources.{name}", f"not a resource of {tenant.app} ({known})")
                )
    rules = {}
    if spec.crud_events:
        for name in resources:
            rule = spec.resources.get(name, ResourcePush())
            if rule.publish and rule.actions:
                rules[name] = ResourceRule(frozenset(rule.actions), rule.broadcast)
    push = PushSettings(
        channels=frozenset((*DEFAULT_CHANNELS, *resources, *spec.channels)),
        rules=MappingProxyType(rules),
    )
    return {"push": push, "mqtt": _mqtt(tenant, options, problems)}


def _first(directory: Path, app: str) -> Path | None:
    for suffix in (".yaml", ".yml"):
        if (directory / f"{app}{suffix}").is_file():
            return directory / f"{app}{suffix}"
    return None


def _mqtt(tenant, options, problems: list[ConfigProblem]) -> MqttSettings | None:
    block = tenant.raw.get("mqtt")
    if not block:
        return None
    password = None
    if block.get("password_file"):
        try:
            password = read_secret_file(block["password_file"], options.base_dir)
        except SecretError as exc:
            problems.append(ConfigProblem(f"routes/{tenant.source.name}", "mqtt.password_file", str(exc)))
            return None
    return MqttSettings(
        host=block["host"],
        port=block["port"],
        username=block.get("username"),
        password=password,
        client_id_prefix=block["client_id_prefix"],
        qos=block["qos"],
        topic_prefix=block.get("topic_prefix") or "",
        keepalive=block["keepalive"],
    )


def push_settings(tenant) -> PushSettings:
    return tenant.extensions.get("push") or PushSettings(frozenset(DEFAULT_CHANNELS), MappingProxyType({}))


def mqtt_settings(tenant) -> MqttSettings | None:
    return tenant.extensions.get("mqtt")
