"""`sogoms mail send|template|bulk|messages|requeue|cancel|sweep`: mail from the command line.

Messages go through the outbox like any other: `send` queues and returns. In the embedded
default a command has no worker of its own, so the server's sweep (every 30 s) sends
them; `sogoms mail sweep` delivers everything due now, in this process.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mail import delivery, selectors, services
from mail.config import mail_settings
from mail.models import OutboxMessage
from sogoms_site.commands import Options, Out, Subparsers
from sogoms_site.errors import DomainError
from tenants.cli import tenant_or_report
from tenants.config import Tenant
from tenants.context import tenant_context


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("mail", help="send e-mail, look at the outbox, sweep it")
    actions = parser.add_subparsers(dest="mail_action", required=True, metavar="action")

    send = actions.add_parser("send", help="queue one message written here")
    send.add_argument("app")
    send.add_argument("--to", required=True)
    send.add_argument("--to-name", default="")
    send.add_argument("--subject", required=True)
    send.add_argument("--body", default="")
    send.add_argument("--html", default="", help="the HTML part")
    send.set_defaults(handler=run_send)

    template = actions.add_parser("template", help="queue one message from a template")
    template.add_argument("app")
    template.add_argument("template")
    template.add_argument("--to", required=True)
    template.add_argument("--to-name", default="")
    template.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    template.add_argument("--vars-json", default="", help="variables as a JSON object")
    template.set_defaults(handler=run_template)

    bulk = actions.add_parser("bulk", help="queue a template to many recipients")
    bulk.add_argument("app")
    bulk.add_argument("template")
    bulk.add_argument(
        "recipients",
        help="a CSV file with an email column (name and other columns become variables), or a JSON list",
    )
    bulk.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    bulk.set_defaults(handler=run_bulk)

    messages = actions.add_parser("messages", help="the outbox of a tenant, newest first")
    messages.add_argument("app")
    messages.add_argument("--status", default="")
    messages.add_argument("--batch", default="")
    messages.add_argument("--limit", type=int, default=20)
    messages.set_defaults(handler=run_messages)

    for name, handler in (("requeue", run_requeue), ("cancel", run_cancel)):
        action = actions.add_parser(name, help=f"{name} a message of the outbox")
        action.add_argument("app")
        action.add_argument("message_id", type=int)
        action.set_defaults(handler=handler)

    sweep = actions.add_parser("sweep", help="deliver every due message now, in this process")
    sweep.set_defaults(handler=run_sweep)


def _variables(pairs: list[str], as_json: str = "") -> dict[str, Any]:
    variables = json.loads(as_json) if as_json else {}
    if not isinstance(variables, dict):
        raise ValueError("--vars-json must be a JSON object")
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--var {pair!r}: write NAME=VALUE")
        variables[name] = value
    return variables


def _report(out: Out, exc: DomainError) -> int:
    """A service's refusal in the operator's words: the message, then one line per field."""
    out.write(exc.message)
    for key, messages in (exc.details or {}).items():
        out.write(f"  {key}: {'; '.join(map(str, messages)) if isinstance(messages, list) else messages}")
    return 1


def _call(out: Out, app: str, action: Callable[[Tenant], None]) -> int:
    tenant = tenant_or_report(app, out)
    if tenant is None:
        return 2
    try:
        with tenant_context(tenant):
            action(tenant)
    except DomainError as exc:
        return _report(out, exc)
    except (ValueError, OSError) as exc:
        out.write(str(exc))
        return 1
    return 0


def _queued(out: Out, message: OutboxMessage) -> None:
    out.write(f"queued #{message.pk} to {message.to_email}: {message.subject}")


def run_send(options: Options, out: Out) -> int:
    def action(tenant: Tenant) -> None:
        _queued(
            out,
            services.mail_send(
                tenant=tenant,
                to=options["to"],
                to_name=options["to_name"],
                subject=options["subject"],
                body=options["body"],
                body_html=options["html"],
            ),
        )

    return _call(out, options["app"], action)


def run_template(options: Options, out: Out) -> int:
    def action(tenant: Tenant) -> None:
        variables = _variables(options["var"], options["vars_json"])
        message = services.mail_send_template(
            tenant=tenant,
            template=options["template"],
            to=options["to"],
            to_name=options["to_name"],
            variables=variables,
        )
        _queued(out, message)

    return _call(out, options["app"], action)


def read_recipients(path: Path) -> list[services.Recipient]:
    """A JSON list of {email, name, variables}, or a CSV whose extra columns are variables."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        rows = json.loads(text)
        if not isinstance(rows, list):
            raise ValueError(f"{path}: a JSON list of recipients is expected")
        return [
            services.Recipient(
                email=str(row.get("email", "")), name=str(row.get("name", "")), variables=row.get("variables")
            )
            for row in rows
        ]
    recipients: list[services.Recipient] = []
    for row in csv.DictReader(text.splitlines()):
        email, name = row.pop("email", ""), row.pop("name", "") or ""
        recipients.append(services.Recipient(email=email or "", name=name, variables=row))
    return recipients


def run_bulk(options: Options, out: Out) -> int:
    def action(tenant: Tenant) -> None:
        recipients = read_recipients(Path(options["recipients"]))
        bulk = services.mail_send_bulk(
            tenant=tenant,
            template=options["template"],
            recipients=recipients,
            variables=_variables(options["var"]),
        )
        out.write(f"queued {bulk.count} message(s), batch {bulk.batch}")

    return _call(out, options["app"], action)


def run_messages(options: Options, out: Out) -> int:
    def action(tenant: Tenant) -> None:
        filters = {"status": options["status"], "batch": options["batch"]}
        out.write(f"{tenant.app}: {mail_settings(tenant).transport.summary}")
        counts = selectors.status_counts(tenant.app, **filters)
        out.write(
            "  " + (", ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "empty outbox")
        )
        rows, _ = selectors.messages_page(
            selectors.messages_of(tenant.app, **filters), page=1, per_page=max(1, options["limit"])
        )
        for row in rows:
            error = f"  ({row['last_error']})" if row["last_error"] else ""
            out.write(
                f"#{row['id']}\t{row['status']}\t{row['attempts']}\t{row['to_email']}\t{row['subject']}{error}"
            )

    return _call(out, options["app"], action)


def _one(tenant: Tenant, message_id: int) -> OutboxMessage:
    message = selectors.message_of(tenant.app, message_id)
    if message is None:
        raise ValueError(f"no message #{message_id} in the outbox of {tenant.app}")
    return message


def run_requeue(options: Options, out: Out) -> int:
    def action(tenant: Tenant) -> None:
        message = services.message_requeue(message=_one(tenant, options["message_id"]))
        out.write(f"#{message.pk} re-queued")

    return _call(out, options["app"], action)


def run_cancel(options: Options, out: Out) -> int:
    def action(tenant: Tenant) -> None:
        message = services.message_cancel(message=_one(tenant, options["message_id"]))
        out.write(f"#{message.pk} cancelled")

    return _call(out, options["app"], action)


def run_sweep(_options: Options, out: Out) -> int:
    outcome = delivery.Outcome()
    summary = delivery.sweep(dispatch=lambda ids: outcome.add(delivery.deliver(ids)))
    out.write(
        f"{summary['due']} due: {outcome.sent} sent, {outcome.failed} failed, {outcome.dead} dead, "
        f"{outcome.released} waiting; {summary['put_back']} put back, "
        f"{summary['outcome_unknown']} outcome unknown"
    )
    return 0
