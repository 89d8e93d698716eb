"""E-mail templates: `config/emails/<app>/<name>.yaml` compiled once, rendered per message.

A template has `subject`, `body` (text) and `body_html`, in Django template syntax; the
Go system's `{{.Name}}` is read as `{{ Name }}`. Only the HTML part escapes variables.
A variable the template uses but the caller did not give is an error at send time (a
blank greeting is worse than no e-mail); guard optional parts with `{% if name %}`.

`secret: [code, ...]` names variables holding one-time secrets (reset codes, verification
links): the outbox keeps the message with `[redacted]` in their place and the real text
sealed until delivery (see `mail.sealing`). A sending flow can name more (`render_redacted`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.template import Context, Engine, Template, TemplateSyntaxError
from django.utils.html import escape
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

GO_FIELD = re.compile(r"\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")
# Django puts this in place of a variable it cannot resolve; NUL never occurs in text
# we render, and HTML escaping leaves it alone, so finding it after rendering is exact.
_MISSING = "\x00sogoms-missing:%s\x00"
_MISSING_FOUND = re.compile("\x00sogoms-missing:([^\x00]*)\x00")
PARTS = ("subject", "body", "body_html")
REDACTED = "[redacted]"
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Shorter secret values are not searched for in the rest of the text: a one-character
# value would blank every occurrence of that character. One-time secrets are long.
MIN_SEARCHED_SECRET = 6

ENGINE = Engine(string_if_invalid=_MISSING)


class MissingVariables(ValueError):
    """The caller did not give values the template needs."""

    def __init__(self, template: str, names: list[str]) -> None:
        self.template = template
        self.names = names
        super().__init__(f"template {template!r} needs {', '.join(repr(n) for n in names)}")


class TemplateFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str = Field(min_length=1)
    body: str | None = None
    body_html: str | None = None
    description: str = ""
    secret: list[str] = Field(default_factory=list)

    @field_validator("secret")
    @classmethod
    def _variable_names(cls, names: list[str]) -> list[str]:
        bad = [name for name in names if not VARIABLE_NAME.match(name)]
        if bad:
            raise ValueError(f"{', '.join(repr(name) for name in bad)}: not variable names")
        return names

    @model_validator(mode="after")
    def _has_a_body(self) -> TemplateFile:
        if not (self.body or self.body_html):
            raise ValueError("give body, body_html or both")
        return self


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    body_html: str


@dataclass(frozen=True, eq=False)
class MailTemplate:
    name: str
    description: str
    parts: dict  # part name -> compiled Template (or None)
    secret: frozenset[str] = frozenset()  # variables whose values the outbox never keeps in clear

    @property
    def part_names(self) -> list[str]:
        return [part for part in PARTS if self.parts.get(part) is not None]

    def render(self, variables: dict[str, Any]) -> Rendered:
        out = {}
        missing: list[str] = []
        for part in PARTS:
            template = self.parts.get(part)
            # Escaping follows the Context, not the Engine: only the HTML part escapes.
            context = Context(dict(variables), autoescape=part == "body_html", use_l10n=False)
            text = template.render(context) if template is not None else ""
            for name in _MISSING_FOUND.findall(text):
                if name not in missing:
                    missing.append(name)
            out[part] = text
        if missing:
            raise MissingVariables(self.name, missing)
        # A subject is one line: a newline in it would start a new header.
        subject = " ".join(out["subject"].split())
        return Rendered(subject=subject, body=out["body"], body_html=out["body_html"])

    def render_redacted(
        self, variables: dict[str, Any], secret: Collection[str] = ()
    ) -> tuple[Rendered, Rendered | None]:
        """(what may be stored and shown, the real message or None when nothing is secret).

        The secret variables are this template's and the caller's `secret`; one whose value
        is empty hides nothing. The shown text renders `[redacted]` in their place, and any
        secret value still found in it (inside another variable, such as a link carrying a
        code) is blanked too."""
        real = self.render(variables)
        hidden = {
            name: str(variables[name])
            for name in sorted(self.secret | set(secret))
            if name in variables and variables[name] not in (None, "")
        }
        if not hidden:
            return real, None
        shown = self.render({**variables, **dict.fromkeys(hidden, REDACTED)})
        values = sorted({v for v in hidden.values() if len(v) >= MIN_SEARCHED_SECRET}, key=len, reverse=True)

        def scrub(text: str) -> str:
            for value in values:
                text = text.replace(value, REDACTED).replace(escape(value), REDACTED)
            return text

        shown = Rendered(
            subject=scrub(shown.subject), body=scrub(shown.body), body_html=scrub(shown.body_html)
        )
        return shown, real


def from_go_syntax(text: str) -> str:
    """`{{.Name}}` and `{{ .User.Name }}` as Django variables."""
    return GO_FIELD.sub(lambda match: "{{ " + match.group(1) + " }}", text)


def compile_template(name: str, spec: TemplateFile) -> tuple[MailTemplate | None, list[tuple[str, str]]]:
    """The compiled template, or None with (key, message) problems."""
    problems: list[tuple[str, str]] = []
    parts: dict[str, Template | None] = {}
    for part in PARTS:
        source = getattr(spec, part)
        if source is None:
            parts[part] = None
            continue
        try:
            parts[part] = ENGINE.from_string(from_go_syntax(source))
        except TemplateSyntaxError as exc:
            problems.append((part, f"template syntax: {exc}"))
    if problems:
        return None, problems
    return MailTemplate(
        name=name, description=spec.description, parts=parts, secret=frozenset(spec.secret)
    ), []
