"""The mail config section: a tenant's transport and its e-mail templates.

The transport comes from the routes file: `smtp:` (the seed's keys), or `email:` naming a
django-anymail provider; with neither, messages are written as files under
`var/mail/<app>/` and `sogoms check` says so. Templates are `config/emails/<app>/*.yaml`,
compiled when the config loads, so a syntax error stops the start like any other problem.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from email.utils import formataddr
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mail.templates import MailTemplate, TemplateFile, compile_template
from tenants.config.loader import ConfigProblem, read_yaml, secret_or_problem, validate_model
from tenants.config.secrets import read_secret_file, resolve_path

TEMPLATE_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-"


@dataclass(frozen=True)
class TransportSpec:
    """How one tenant's mail leaves: the kind, the sender and the backend's settings."""

    kind: str  # smtp, anymail, file
    from_email: str  # "Name <address>" or "address"
    settings: MappingProxyType = field(repr=False)
    summary: str = ""  # for people: `smtp mail.example.com:587 (STARTTLS)`


@dataclass(frozen=True)
class MailSettings:
    transport: TransportSpec
    templates: MappingProxyType  # name -> MailTemplate

    def template(self, name: str) -> MailTemplate | None:
        return self.templates.get(name)

    def describe(self) -> str:
        names = ", ".join(sorted(self.templates)) or "none"
        return f"mail: {self.transport.summary}; templates: {names}"


def mail_settings(tenant) -> MailSettings:
    """The mail settings of a loaded tenant."""
    return tenant.extensions["mail"]


def load_mail(tenant, options, problems: list[ConfigProblem]) -> dict:
    label = f"routes/{tenant.source.name}"
    transport = _transport(tenant, label, options, problems)
    templates = _templates(tenant.app, options.config_dir / "emails" / tenant.app, problems)
    if transport is None:
        return {}
    return {"mail": MailSettings(transport=transport, templates=MappingProxyType(templates))}


def _transport(tenant, label: str, options, problems: list[ConfigProblem]) -> TransportSpec | None:
    smtp, email = tenant.raw.get("smtp"), tenant.raw.get("email")
    if smtp and email:
        problems.append(ConfigProblem(label, "email", "give smtp or email, not both"))
        return None
    if smtp:
        return _smtp(smtp, label, options, problems)
    if email:
        return _anymail(email, label, options, problems)
    directory = Path(options.var_dir) / "mail" / tenant.app
    return TransportSpec(
        kind="file",
        from_email=f"{tenant.app}@localhost",
        settings=MappingProxyType({"file_path": str(directory)}),
        summary=f"files in {directory} (no smtp: or email: block)",
    )


def _sender(block: dict) -> str:
    address = block["from"]
    return formataddr((block["from_name"], address)) if block.get("from_name") else address


def _smtp(block: dict, label: str, options, problems: list[ConfigProblem]) -> TransportSpec | None:
    password: str | None = ""
    if block.get("password_file"):
        password = secret_or_problem(
            lambda: read_secret_file(block["password_file"], options.base_dir),
            label,
            "smtp.password_file",
            problems,
        )
        if password is None:
            return None
    ca_file = None
    if block.get("ca_file"):
        ca_file = str(resolve_path(block["ca_file"], options.base_dir))
        if not Path(ca_file).is_file():
            problems.append(ConfigProblem(label, "smtp.ca_file", f"{ca_file!r} does not exist"))
            return None
    implicit_tls = bool(block.get("tls"))
    port = block.get("port") or (465 if implicit_tls else 587)
    starttls = not implicit_tls and block.get("starttls", True)
    security = "implicit TLS" if implicit_tls else ("STARTTLS" if starttls else "no TLS")
    settings = {
        "host": block["host"],
        "port": port,
        "username": block.get("user") or "",
        "password": password,
        "use_ssl": implicit_tls,
        "use_tls": starttls,
        "timeout": block.get("timeout", 20),
        "ca_file": ca_file,
    }
    return TransportSpec(
        kind="smtp",
        from_email=_sender(block),
        settings=MappingProxyType(settings),
        summary=f"smtp {block['host']}:{port} ({security})",
    )


def _anymail(block: dict, label: str, options, problems: list[ConfigProblem]) -> TransportSpec | None:
    provider = block["provider"]
    if importlib.util.find_spec(f"anymail.backends.{provider}") is None:
        problems.append(
            ConfigProblem(label, "email.provider", f"{provider!r} is not a django-anymail provider")
        )
        return None
    settings: dict[str, Any] = dict(block.get("options") or {})
    for key, path in block.items():
        if not key.endswith("_file"):
            continue
        value = secret_or_problem(
            lambda path=path: read_secret_file(path, options.base_dir), label, f"email.{key}", problems
        )
        if value is None:
            return None
        settings[key.removesuffix("_file")] = value
    return TransportSpec(
        kind="anymail",
        from_email=_sender(block),
        settings=MappingProxyType({"provider": provider, "options": MappingProxyType(settings)}),
        summary=f"{provider} through django-anymail",
    )


def _templates(app: str, directory: Path, problems: list[ConfigProblem]) -> dict[str, MailTemplate]:
    templates: dict[str, MailTemplate] = {}
    if not directory.is_dir():
        return templates
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        label = f"emails/{app}/{path.name}"
        name = path.stem
        if not name or any(char not in TEMPLATE_NAME_CHARS for char in name):
            problems.append(ConfigProblem(label, "", f"{name!r} is not a template name (a-z, 0-9, _ and -)"))
            continue
        if name in templates:
            problems.append(ConfigProblem(label, "", f"template {name!r} is declared twice"))
            continue
        data = read_yaml(path, label, problems)
        if data is None:
            continue
        spec = validate_model(TemplateFile, data, label, problems)
        if spec is None:
            continue
        template, template_problems = compile_template(name, spec)
        for key, message in template_problems:
            problems.append(ConfigProblem(label, key, message))
        if template is not None:
            templates[name] = template
    return templates
