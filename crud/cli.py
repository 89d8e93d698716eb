"""`sogoms seed <app>`: load the app's demo rows from config/seed/<app>.yaml."""

from __future__ import annotations

from django.conf import settings

from crud.seeding import SeedError, seed_tenant
from sogoms_site.commands import Options, Out, Subparsers
from sogoms_site.errors import DomainError
from tenants.cli import tenant_or_report


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("seed", help="load demo rows from config/seed/<app>.yaml")
    parser.add_argument("app")
    parser.set_defaults(handler=run)


def run(options: Options, out: Out) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    path = settings.SOGOMS_CONFIG_DIR / "seed" / f"{tenant.app}.yaml"
    if not path.is_file():
        out.write(f"no seed file {path}")
        return 2
    try:
        for line in seed_tenant(tenant, path):
            out.write(f"{tenant.app}: {line}")
    except SeedError as exc:
        out.write(f"seed failed, nothing written: {exc}")
        return 1
    except DomainError as exc:  # e.g. a user the services refuse to register
        out.write(f"seed failed, nothing written: {exc.message}")
        return 1
    return 0
