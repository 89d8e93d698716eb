"""`sogoms seed <app>`: load the app's demo rows from config/seed/<app>.yaml."""

from __future__ import annotations

from django.conf import settings

from crud.seeding import SeedError, seed_tenant
from tenants.registry import registry


def register(subparsers) -> None:
    parser = subparsers.add_parser("seed", help="load demo rows from config/seed/<app>.yaml")
    parser.add_argument("app")
    parser.set_defaults(handler=run)


def run(options: dict, out) -> int:
    tenant = registry().get(options["app"])
    if tenant is None:
        out.write(f"unknown tenant {options['app']!r}")
        return 2
    path = settings.SOGOMS_CONFIG_DIR / "seed" / f"{tenant.app}.yaml"
    if not path.is_file():
        out.write(f"no seed file {path}")
        return 2
    try:
        for line in seed_tenant(tenant, path):
            out.write(f"{tenant.app}: {line}")
    except SeedError as exc:
        out.write(f"seed failed, nothing written for that user: {exc}")
        return 1
    return 0
