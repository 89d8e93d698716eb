"""`python manage.py sogoms <group> ...`: the operator's command line."""

from __future__ import annotations

import importlib

from django.core.management.base import BaseCommand, CommandError

CLI_MODULES = [
    "tenants.cli.check",
    "tenants.cli.devsecrets",
    "tenants.cli.migrate",
    "tenants.cli.users",
    "tenants.cli.logs",
    "tenants.cli.tokens",
    "tenants.cli.reload",
    "crud.cli",
    "crud.schematools.cli",
    "mail.cli",
    "mail.cron_cli",
    "realtime.cli",
]


class Command(BaseCommand):
    help = "SOGOMS operations: check, migrate, users, logs, tokens, mail, cron, push, devsecrets."
    # `sogoms check` must run (and report) when the config is broken, so Django's
    # system checks, which would stop at the first config error, are not run here.
    requires_system_checks: list = []

    def add_arguments(self, parser) -> None:
        subparsers = parser.add_subparsers(dest="group", required=True, metavar="command")
        for name in CLI_MODULES:
            importlib.import_module(name).register(subparsers)

    def handle(self, *args, **options) -> None:
        status = options["handler"](options, self.stdout)
        if status:
            raise CommandError(f"sogoms {options['group']} failed", returncode=status)
