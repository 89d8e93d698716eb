"""`python manage.py sogoms <group> ...`: the operator's command line.

The groups come from the apps (sogoms_site.commands): tenants, crud, mail, realtime and
cron each register their own.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sogoms_site.commands import add_groups


class Command(BaseCommand):
    help = "SOGOMS operations: check, migrate, users, logs, tokens, mail, cron, push, devsecrets."
    # `sogoms check` must run (and report) when the config is broken, so Django's
    # system checks, which would stop at the first config error, are not run here.
    requires_system_checks: list = []

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(dest="group", required=True, metavar="command")
        add_groups(subparsers)

    def handle(self, *args: Any, **options: Any) -> None:
        status = options["handler"](options, self.stdout)
        if status:
            raise CommandError(f"sogoms {options['group']} failed", returncode=status)
