"""Subcommands of `python manage.py sogoms`, one module per group.

Each module has `register(subparsers)`, which adds its parser with `handler=` set to a
function `(options, out) -> int` (the exit status).
"""


def tenant_or_report(app: str, out):
    """The loaded tenant named `app`, or None after telling the operator it is unknown."""
    from tenants.registry import registry

    tenant = registry().get(app)
    if tenant is None:
        out.write(f"unknown tenant {app!r}")
    return tenant


def write_problems(out, header: str, problems) -> None:
    """A header line, then one indented line per config problem."""
    out.write(header)
    for problem in problems:
        out.write(f"  {problem}")
