"""`sogoms backup <app>` and `sogoms restore <app> PATH`: one archive per app (tenants.backup)."""

from __future__ import annotations

from pathlib import Path

from sogoms_site.commands import Options, Out, Subparsers
from sogoms_site.errors import DomainError
from tenants.backup import create_backup, restore_backup, verify_backup
from tenants.cli import tenant_or_report


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("backup", help="write an archive of an app's database and config")
    parser.add_argument("app")
    parser.add_argument("--out", type=Path, help="the archive (default: var/backups/<app>-<UTC>.tar.gz)")
    parser.set_defaults(handler=run_backup)

    parser = subparsers.add_parser("restore", help="load an app's database from a backup archive")
    parser.add_argument("app")
    parser.add_argument("path", type=Path)
    parser.add_argument("--force", action="store_true", help="replace a database that has rows")
    parser.add_argument("--verify", action="store_true", help="only check the archive; change nothing")
    parser.add_argument(
        "--extract-config", type=Path, metavar="DIR", help="copy the archive's config files here"
    )
    parser.set_defaults(handler=run_restore)


def _tables(out: Out, tables: dict[str, int]) -> None:
    out.write(f"  {len(tables)} table(s), {sum(tables.values())} row(s)")
    for name, rows in tables.items():
        out.write(f"    {name}: {rows}")


def run_backup(options: Options, out: Out) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    try:
        result = create_backup(tenant, options["out"])
    except DomainError as exc:
        out.write(exc.message)
        return 1
    out.write(f"{tenant.app}: {result.path}")
    _tables(out, result.tables)
    out.write(f"  {len(result.files)} config file(s)")
    return 0


def run_restore(options: Options, out: Out) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    path: Path = options["path"]
    try:
        if options["verify"]:
            manifest, problems = verify_backup(path)
            if problems:
                out.write(f"{path}: {len(problems)} problem(s)")
                for problem in problems:
                    out.write(f"  {problem}")
                return 1
            out.write(f"{path}: OK, {manifest['app']} ({manifest['engine']}) of {manifest['created_at']}")
            _tables(out, manifest["tables"])
            return 0
        result = restore_backup(
            tenant, path, force=options["force"], extract_config=options["extract_config"]
        )
    except DomainError as exc:
        out.write(exc.message)
        return 1
    out.write(f"{tenant.app}: restored from {path}")
    _tables(out, result.tables)
    where = f"copied to {options['extract_config']}" if options["extract_config"] else f"left in {path}"
    out.write(f"  {len(result.config_members)} config file(s) {where}, not applied:")
    for name in result.config_members:
        out.write(f"    {name}")
    return 0
