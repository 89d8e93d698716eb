"""Subcommands of `python manage.py sogoms`, one module per group.

Each module has `register(subparsers)`, which adds its parser with `handler=` set to a
function `(options, out) -> int` (the exit status).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sogoms_site.commands import Out
    from tenants.config import ConfigProblem, Tenant


def tenant_or_report(app: str, out: Out) -> Tenant | None:
    """The loaded tenant named `app`, or None after telling the operator it is unknown."""
    from tenants.registry import registry

    tenant = registry().get(app)
    if tenant is None:
        out.write(f"unknown tenant {app!r}")
    return tenant


def write_problems(out: Out, header: str, problems: Iterable[ConfigProblem]) -> None:
    """A header line, then one indented line per config problem."""
    out.write(header)
    for problem in problems:
        out.write(f"  {problem}")
