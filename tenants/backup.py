"""Backup and restore of one app: its database and its config files in one .tar.gz.

An archive holds `manifest.json` (app, time, engine, commit, row count per table, sha256
per member), the database (`database/<app>.sqlite3`, a copy made by SQLite's online
backup API, or `database/<app>.sql`, a `mariadb-dump --single-transaction` of the app's
database) and the app's config files under `config/` (never a secret file).

The row counts are those of the snapshot itself, not of the live database a moment later:
SQLite's are counted in the copy; MariaDB's in the dump, written one row per INSERT line
(`--skip-extended-insert`) so that each table's rows can be counted without a SQL parser.
Restore checks the loaded database against the same counts.

MariaDB credentials reach the client programs through an option file of mode 600 that
is deleted afterwards: never on the command line (visible in `ps`) nor in any output.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

from sogoms_site.build import build_commit
from sogoms_site.errors import InvalidInput, StateConflict
from tenants.config import Tenant
from tenants.config.secrets import resolve_path

MANIFEST = "manifest.json"
FORMAT = 1
DUMP_TIMEOUT = 3600  # seconds; a dump or a load that takes longer is stuck
# Config files of an app, relative to the config directory; directories are taken whole.
CONFIG_FILES = (
    "routes/{app}.yaml",
    "schema/{app}.yaml",
    "queries/{app}",
    "emails/{app}",
    "cron/{app}.yaml",
    "push/{app}.yaml",
    "seed/{app}.yaml",
)
# One row per line with --skip-extended-insert; the table name is backquoted.
INSERT_LINE = re.compile(rb"^INSERT INTO `((?:[^`]|``)+)` VALUES ")
CREATE_LINE = re.compile(rb"^CREATE TABLE `((?:[^`]|``)+)` \(")


@dataclass(frozen=True)
class BackupResult:
    path: Path
    tables: dict[str, int]  # table -> rows in the snapshot
    files: list[str]  # config files in the archive, as members


@dataclass(frozen=True)
class RestoreResult:
    tables: dict[str, int]  # table -> rows after the restore
    config_members: list[str] = field(default_factory=list)


# --- where things are ---------------------------------------------------------------------------


def default_backup_dir() -> Path:
    """`$SOGOMS_VAR_DIR/backups`."""
    return Path(settings.VAR_DIR) / "backups"


def archive_name(app: str, moment: datetime) -> str:
    return f"{app}-{moment.strftime('%Y%m%dT%H%M%S%fZ')}.tar.gz"


def archives_of(app: str, directory: Path) -> list[Path]:
    """The app's archives in `directory`, oldest first (the UTC timestamp sorts as text)."""
    pattern = re.compile(rf"^{re.escape(app)}-\d{{8}}T\d{{12}}Z\.tar\.gz$")
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if pattern.match(path.name))


def prune_backups(app: str, directory: Path, keep: int) -> list[Path]:
    """Delete the app's archives in `directory` beyond the `keep` newest; the deleted ones."""
    found = archives_of(app, directory)
    old = found[: max(len(found) - keep, 0)]
    for path in old:
        path.unlink(missing_ok=True)
    return old


def _config_dir(tenant: Tenant) -> Path:
    return tenant.source.parent.parent  # routes/<app>.yaml sits in the config directory


def _secret_paths(raw: Any) -> set[Path]:
    """Every path a `*_file` key of the routes file names: such a file is a secret."""
    found: set[Path] = set()
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            if str(key).endswith("_file") and isinstance(value, str) and value:
                found.add(resolve_path(value, Path(settings.SOGOMS_BASE_DIR)).resolve())
            else:
                found |= _secret_paths(value)
    elif isinstance(raw, list | tuple):
        for item in raw:
            found |= _secret_paths(item)
    return found


def config_files(tenant: Tenant) -> list[tuple[Path, str]]:
    """The app's config files as (path, member under `config/`); secret files left out."""
    base = _config_dir(tenant)
    secrets = _secret_paths(tenant.raw)
    found: list[tuple[Path, str]] = []
    for pattern in CONFIG_FILES:
        path = base / pattern.format(app=tenant.app)
        paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for item in paths:
            # symlinks could lead anywhere (a secret among them): regular files only
            if item.is_file() and not item.is_symlink() and item.resolve() not in secrets:
                found.append((item, "config/" + item.relative_to(base).as_posix()))
    return found


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- SQLite ----------------------------------------------------------------------------------------


def sqlite_counts(path: Path) -> dict[str, int]:
    """Rows per table of an SQLite file (SQLite's own tables left out)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
        counts = {}
        for name in names:
            # the names come from the file's own catalogue, quoted as identifiers
            counted = connection.execute(f'SELECT COUNT(*) FROM "{_dq(name)}"')  # noqa: S608
            counts[name] = counted.fetchone()[0]
        return counts
    finally:
        connection.close()


def _dq(name: str) -> str:
    return name.replace('"', '""')


def _sqlite_snapshot(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite file, taken in one step of the online backup API."""
    live = sqlite3.connect(source)
    copy = sqlite3.connect(target)
    try:
        live.backup(copy)  # all pages at once: one read transaction, one moment
        # The copy stands alone: no WAL beside it, whatever the live file's journal mode.
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()
        live.close()


# --- MariaDB ---------------------------------------------------------------------------------------


def _client(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise StateConflict(f"none of {', '.join(names)} is installed")


def _option_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextlib.contextmanager
def _option_file(database: Mapping[str, Any]) -> Iterator[str]:
    """A [client] option file with the connection settings, mode 600, deleted afterwards."""
    lines = ["[client]"]
    for key, option in (("HOST", "host"), ("PORT", "port"), ("USER", "user"), ("PASSWORD", "password")):
        if database.get(key):
            lines.append(f"{option}={_option_value(str(database[key]))}")
    handle, name = tempfile.mkstemp(prefix="sogoms-client-", suffix=".cnf")  # created with mode 600
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")
        yield name
    finally:
        Path(name).unlink(missing_ok=True)


def dump_counts(dump: Path) -> dict[str, int]:
    """Rows per table of a dump written with --skip-extended-insert."""
    counts: dict[str, int] = {}
    with dump.open("rb") as file:
        for line in file:
            if match := INSERT_LINE.match(line):
                name = match.group(1).replace(b"``", b"`").decode()
                counts[name] = counts.get(name, 0) + 1
            elif match := CREATE_LINE.match(line):
                counts.setdefault(match.group(1).replace(b"``", b"`").decode(), 0)
    return dict(sorted(counts.items()))


def _mariadb_dump(database: Mapping[str, Any], target: Path) -> None:
    program = _client("mariadb-dump", "mysqldump")
    with _option_file(database) as options, target.open("wb") as out:
        done = subprocess.run(  # noqa: S603  (fixed program, no shell; the name is an argument)
            [
                program,
                f"--defaults-extra-file={options}",  # must come first
                "--single-transaction",  # one consistent snapshot, without locking writers
                "--routines",
                "--no-tablespaces",
                "--skip-extended-insert",  # one row per line: counted by dump_counts
                "--default-character-set=utf8mb4",
                "--",
                str(database["NAME"]),
            ],
            stdout=out,
            stderr=subprocess.PIPE,
            timeout=DUMP_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        raise StateConflict(f"{Path(program).name} failed: {done.stderr.decode(errors='replace').strip()}")


def _mariadb_load(database: Mapping[str, Any], dump: Path) -> None:
    program = _client("mariadb", "mysql")
    with _option_file(database) as options, dump.open("rb") as source:
        done = subprocess.run(  # noqa: S603
            [
                program,
                f"--defaults-extra-file={options}",
                "--default-character-set=utf8mb4",
                str(database["NAME"]),
            ],
            stdin=source,
            capture_output=True,
            timeout=DUMP_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        raise StateConflict(f"{Path(program).name} failed: {done.stderr.decode(errors='replace').strip()}")


# --- the live database -----------------------------------------------------------------------------


def live_counts(tenant: Tenant) -> dict[str, int]:
    """Rows per table of the app's database as it is now."""
    if tenant.db_engine == "sqlite":
        path = Path(tenant.database["NAME"])
        return sqlite_counts(path) if path.exists() else {}
    connection = connections[tenant.db_alias]
    with connection.cursor() as cursor:
        names = sorted(connection.introspection.table_names(cursor))
        counts = {}
        for name in names:
            # the names come from the database's own catalogue, quoted as identifiers
            cursor.execute("SELECT COUNT(*) FROM " + connection.ops.quote_name(name))  # noqa: S608
            counts[name] = cursor.fetchone()[0]
    return counts


# --- backup ---------------------------------------------------------------------------------------


def create_backup(tenant: Tenant, out: Path | None = None, *, out_dir: Path | None = None) -> BackupResult:
    """Write the app's archive to `out` (default: `<out_dir or var/backups>/<app>-<UTC>.tar.gz`)."""
    moment = datetime.now(UTC)
    path = out or (out_dir or default_backup_dir()) / archive_name(tenant.app, moment)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sogoms-backup-") as work:
        if tenant.db_engine == "sqlite":
            member = f"database/{tenant.app}.sqlite3"
            snapshot = Path(work) / "database.sqlite3"
            source = Path(tenant.database["NAME"])
            if not source.exists():
                raise StateConflict(f"{tenant.app}: the database file {source} does not exist")
            _sqlite_snapshot(source, snapshot)
            tables = sqlite_counts(snapshot)
        elif tenant.db_engine == "mysql":
            member = f"database/{tenant.app}.sql"
            snapshot = Path(work) / "database.sql"
            _mariadb_dump(tenant.database, snapshot)
            tables = dump_counts(snapshot)
        else:
            raise StateConflict(f"{tenant.app}: no backup for the {tenant.db_engine} engine")
        files = config_files(tenant)
        manifest = {
            "format": FORMAT,
            "app": tenant.app,
            "created_at": moment.isoformat().replace("+00:00", "Z"),
            "engine": tenant.db_engine,
            "commit": build_commit() or None,
            "database": member,
            "tables": tables,
            "files": {member: sha256_of(snapshot)} | {name: sha256_of(item) for item, name in files},
        }
        # Written beside the target, then renamed: a reader never sees half an archive.
        partial = path.with_name(f".{path.name}.partial")
        try:
            with tarfile.open(partial, "w:gz") as archive:
                data = json.dumps(manifest, indent=2).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(data), int(moment.timestamp()), 0o600
                archive.addfile(info, io.BytesIO(data))
                archive.add(snapshot, arcname=member, recursive=False)
                for item, name in files:
                    archive.add(item, arcname=name, recursive=False)
            partial.chmod(0o600)  # a database copy: readable by its owner only
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
    return BackupResult(path=path, tables=tables, files=[name for _, name in files])


# --- verify and restore ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Unpacked:
    manifest: dict[str, Any]
    root: Path  # the members, extracted

    @property
    def database(self) -> Path:
        return self.root / self.manifest["database"]

    @property
    def config_members(self) -> list[str]:
        return sorted(name for name in self.manifest["files"] if name.startswith("config/"))


@contextlib.contextmanager
def unpacked(path: Path) -> Iterator[Unpacked]:
    """The archive extracted to a temporary directory, its manifest read; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="sogoms-restore-") as work:
        try:
            with tarfile.open(path, "r:gz") as archive:
                archive.extractall(work, filter="data")  # no absolute paths, links out, devices
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise InvalidInput(f"{path}: not a readable archive ({exc})") from exc
        try:
            manifest = json.loads((Path(work) / MANIFEST).read_text(encoding="utf-8"))
            if not isinstance(manifest, dict) or not {"app", "engine", "database", "tables", "files"} <= set(
                manifest
            ):
                raise ValueError("a key is missing")
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"{path}: no valid {MANIFEST} ({exc})") from exc
        yield Unpacked(manifest, Path(work))


def archive_problems(archive: Unpacked) -> list[str]:
    """What does not match the manifest: checksums, members, the database's row counts."""
    problems = []
    root = archive.root
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {MANIFEST}
    for name, digest in sorted(archive.manifest["files"].items()):
        member = root / name
        if name not in on_disk:
            problems.append(f"{name}: missing from the archive")
        elif sha256_of(member) != digest:
            problems.append(f"{name}: checksum mismatch (sha256 {sha256_of(member)}, manifest {digest})")
    problems += [f"{name}: not in the manifest" for name in sorted(on_disk - set(archive.manifest["files"]))]
    if archive.database.exists():
        try:
            if archive.manifest["engine"] == "sqlite":
                counts = sqlite_counts(archive.database)
            else:
                counts = dump_counts(archive.database)
        except sqlite3.DatabaseError as exc:
            return [*problems, f"{archive.manifest['database']}: not readable ({exc})"]
        problems += count_differences(archive.manifest["tables"], counts)
    return problems


def count_differences(expected: Mapping[str, int], found: Mapping[str, int]) -> list[str]:
    return [
        f"table {name}: {found.get(name, 'missing')} row(s), manifest {expected.get(name, 'no table')}"
        for name in sorted(set(expected) | set(found))
        if expected.get(name) != found.get(name)
    ]


def verify_backup(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The manifest and the problems of an archive; changes nothing."""
    with unpacked(path) as archive:
        return archive.manifest, archive_problems(archive)


def restore_backup(
    tenant: Tenant, path: Path, *, force: bool = False, extract_config: Path | None = None
) -> RestoreResult:
    """Load the archive's database into the app's database; the config files stay in the archive.

    Raises StateConflict when the database has rows and `force` is not given, or when the
    row counts after loading differ from the manifest's.
    """
    with unpacked(path) as archive:
        manifest = archive.manifest
        if manifest["app"] != tenant.app:
            raise InvalidInput(f"{path} is a backup of {manifest['app']!r}, not of {tenant.app!r}")
        if manifest["engine"] != tenant.db_engine:
            raise InvalidInput(
                f"{path} holds a {manifest['engine']} database; {tenant.app} uses {tenant.db_engine}"
            )
        problems = archive_problems(archive)
        if problems:
            raise InvalidInput(f"{path} does not match its manifest: " + "; ".join(problems))
        filled = {name: rows for name, rows in live_counts(tenant).items() if rows}
        if filled and not force:
            listed = ", ".join(f"{name} ({rows})" for name, rows in sorted(filled.items()))
            raise StateConflict(
                f"{tenant.app}: the database is not empty: {listed}; --force replaces its contents"
            )
        if tenant.db_engine == "sqlite":
            _sqlite_replace(tenant, archive.database)
        else:
            _mariadb_replace(tenant, archive.database, set(manifest["tables"]))
        after = live_counts(tenant)
        differences = count_differences(manifest["tables"], after)
        if differences:
            raise StateConflict(f"{tenant.app}: restored, but the rows differ: " + "; ".join(differences))
        if extract_config is not None:
            for name in archive.config_members:
                target = extract_config / name.removeprefix("config/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(archive.root / name, target)
        return RestoreResult(tables=after, config_members=archive.config_members)


def _sqlite_replace(tenant: Tenant, snapshot: Path) -> None:
    """Swap the live file for the snapshot: a copy beside it, then one atomic rename."""
    live = Path(tenant.database["NAME"])
    connections[tenant.db_alias].close()  # this process's connection would keep the old file
    live.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{live.name}.", suffix=".restore", dir=live.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        shutil.copyfile(snapshot, temporary)
        with temporary.open("rb") as file:
            os.fsync(file.fileno())
        if live.exists():
            # The old file's WAL would be replayed into the new one: fold it in and empty it.
            old = sqlite3.connect(live)
            try:
                old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                old.close()
        for suffix in ("-wal", "-shm"):
            Path(f"{live}{suffix}").unlink(missing_ok=True)
        temporary.replace(live)
    finally:
        temporary.unlink(missing_ok=True)


def _mariadb_replace(tenant: Tenant, dump: Path, tables: set[str]) -> None:
    """Drop the tables the archive does not have, then load the dump (it recreates its own)."""
    connection = connections[tenant.db_alias]
    with connection.cursor() as cursor:
        extra = [name for name in connection.introspection.table_names(cursor) if name not in tables]
        if extra:
            cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
            try:
                for name in extra:
                    cursor.execute(f"DROP TABLE {connection.ops.quote_name(name)}")
            finally:
                cursor.execute("SET FOREIGN_KEY_CHECKS = 1")
    connection.close()
    _mariadb_load(tenant.database, dump)
