"""`sogoms devsecrets`: create missing development secrets under var/.

Only secret files that the config places inside the var directory are created, so a
production path (/secrets/...) is never filled with a made-up secret.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from django.conf import settings

from sogoms_site.commands import Options, Out, Subparsers
from tenants.config.secrets import create_secret_file, resolve_path

GENERATED_SECRET_KEYS = ("jwt_secret_file",)


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("devsecrets", help="create missing development secrets under var/")
    parser.set_defaults(handler=run)


def run(_options: Options, out: Out) -> int:
    for path in ensure_development_secrets(
        settings.SOGOMS_CONFIG_DIR, settings.SOGOMS_BASE_DIR, settings.VAR_DIR
    ):
        out.write(f"created development secret {path}")
    return 0


def ensure_development_secrets(config_dir: Path, base_dir: Path, var_dir: Path) -> list[Path]:
    created: list[Path] = []
    for routes in sorted((config_dir / "routes").glob("*.y*ml")):
        try:
            data = yaml.safe_load(routes.read_text())
        except yaml.YAMLError:
            continue  # `sogoms check` reports it
        for value in _secret_file_values(data):
            path = resolve_path(value, base_dir).resolve()
            if path.is_relative_to(var_dir) and not path.exists():
                create_secret_file(path)
                created.append(path)
    return created


def _secret_file_values(data: object) -> list[str]:
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key in GENERATED_SECRET_KEYS and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_secret_file_values(value))
    elif isinstance(data, list):
        for item in data:
            found.extend(_secret_file_values(item))
    return found
