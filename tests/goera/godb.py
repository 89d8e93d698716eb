"""A Go-era SOGOMS deployment for the adoption tests: its database, its config, its SQL.

The tables are created by the SQL the Go system's schema had (bcrypt users, projects,
tasks with `DEFAULT CURRENT_TIMESTAMP`, foreign keys), on SQLite or MariaDB; the Go
system's own statements are replayed through the engine's plain driver (a separate
client, as the Go process is), with Go's `?` placeholders.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import jwt
import pytest

HERE = Path(__file__).resolve().parent
APP = "prokov"
PASSWORD = "go era password"
TASKS = 25  # more than a default page: a Go client never paginated
MARIADB = ("127.0.0.1", 3306)

# {key} is the engine's auto-increment primary key.
GO_SCHEMA = (
    "CREATE TABLE users (id {key}, email VARCHAR(255) NOT NULL UNIQUE, password VARCHAR(255) NOT NULL, "
    "name VARCHAR(100) NOT NULL DEFAULT '', role VARCHAR(20) NOT NULL DEFAULT 'default', "
    "created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    "CREATE TABLE projects (id {key}, user_id INT NOT NULL, name VARCHAR(255) NOT NULL, description TEXT, "
    "position INT NOT NULL DEFAULT 0, created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "
    "FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE)",
    "CREATE TABLE statuses (id {key}, user_id INT NOT NULL, name VARCHAR(50) NOT NULL, "
    "color VARCHAR(7) NOT NULL DEFAULT '#888888', position INT NOT NULL DEFAULT 0, "
    "FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE)",
    "CREATE TABLE tags (id {key}, user_id INT NOT NULL, name VARCHAR(50) NOT NULL, "
    "color VARCHAR(7) NOT NULL DEFAULT '#888888', "
    "FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE)",
    "CREATE TABLE tasks (id {key}, user_id INT NOT NULL, project_id INT NOT NULL, status_id INT NULL, "
    "title VARCHAR(255) NOT NULL, description TEXT, done BOOLEAN NOT NULL DEFAULT 0, due_date DATE NULL, "
    "created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "
    "FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE, "
    "FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE, "
    "FOREIGN KEY (status_id) REFERENCES statuses (id) ON DELETE SET NULL)",
)
KEYS = {"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT", "mariadb": "INT AUTO_INCREMENT PRIMARY KEY"}

# The Go system's own statements (its db service's shapes), `?` placeholders.
GO_REGISTER = "INSERT INTO users (email, password, name) VALUES (?, ?, ?)"
GO_LOGIN = "SELECT id, email, password, name, role FROM users WHERE email = ?"
GO_RENAME = "UPDATE users SET name = ? WHERE id = ?"
GO_NEW_PASSWORD = "UPDATE users SET password = ? WHERE id = ?"
GO_NEW_PROJECT = "INSERT INTO projects (user_id, name, description, position) VALUES (?, ?, ?, ?)"
GO_NEW_TASK = "INSERT INTO tasks (user_id, project_id, title) VALUES (?, ?, ?)"
GO_UPDATE_PROJECT = "UPDATE projects SET name = ?, description = ?, position = ? WHERE id = ? AND user_id = ?"
GO_DELETE_PROJECT = "DELETE FROM projects WHERE id = ? AND user_id = ?"


def go_bcrypt(password: str, prefix: str = "$2y$", cost: int = 10) -> str:
    """A hash as the Go (or PHP) side stored it."""
    return prefix + bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()[4:]


def go_token(secret: str, user: dict, *, app: str = APP, lifetime: int = 86400) -> str:
    """A token exactly as the Go system signed it: HS256, no jti, no type."""
    now = int(time.time())
    claims = {
        "sub": user["id"],
        "email": user["email"],
        "name": user["name"],
        "app": app,
        "exp": now + lifetime,
        "iat": now,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def mariadb_reachable() -> bool:
    try:
        socket.create_connection(MARIADB, timeout=2).close()
    except OSError:
        return False
    return True


@dataclass
class GoDatabase:
    """The database of the Go deployment, reached as the Go process reaches it."""

    engine: str  # "sqlite" or "mariadb"
    name: str  # file path or database name

    def connect(self) -> Any:
        if self.engine == "sqlite":
            connection = sqlite3.connect(self.name)
            connection.execute("PRAGMA foreign_keys = ON")
            return connection
        import MySQLdb

        return MySQLdb.connect(
            host=MARIADB[0], port=MARIADB[1], user="root", database=self.name, autocommit=True
        )

    def run(self, sql: str, *params: Any) -> list[tuple]:
        """One Go statement: its rows, or [(lastrowid,)] for an INSERT."""
        connection = self.connect()
        try:
            cursor = connection.cursor()
            cursor.execute(sql if self.engine == "sqlite" else sql.replace("?", "%s"), params)
            rows = list(cursor.fetchall()) if cursor.description else [(cursor.lastrowid, cursor.rowcount)]
            connection.commit()
            return rows
        finally:
            connection.close()

    def columns(self, table: str) -> dict[str, tuple[str, Any]]:
        """column -> (declared type, default) as the engine reports them."""
        if self.engine == "sqlite":
            return {row[1]: (row[2].upper(), row[4]) for row in self.run(f"PRAGMA table_info({table})")}
        rows = self.run(
            "SELECT column_name, column_type, column_default FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            self.name,
            table,
        )
        return {row[0]: (row[1].upper(), row[2]) for row in rows}

    def routes_block(self) -> str:
        if self.engine == "sqlite":
            return f"database:\n  engine: sqlite\n  name: {self.name}\n"
        return f"database:\n  host: {MARIADB[0]}\n  port: {MARIADB[1]}\n  user: root\n  name: {self.name}\n"


def create_go_database(engine: str, root: Path) -> GoDatabase:
    if engine == "sqlite":
        database = GoDatabase("sqlite", str(root / "prokov.sqlite3"))
    else:
        if not mariadb_reachable():
            if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
                pytest.fail(f"MariaDB is not reachable at {MARIADB[0]}:{MARIADB[1]}")
            pytest.skip("MariaDB is not reachable (set SOGOMS_REQUIRE_SERVICES=1 to fail instead)")
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        database = GoDatabase("mariadb", f"sogoms_goera_{worker}_{os.getpid()}")
        drop_go_database(database)
        server = GoDatabase("mariadb", "mysql")
        server.run(f"CREATE DATABASE {database.name} CHARACTER SET utf8mb4")
    for statement in GO_SCHEMA:
        database.run(statement.format(key=KEYS[engine]))
    return database


def drop_go_database(database: GoDatabase) -> None:
    if database.engine == "mariadb":
        GoDatabase("mariadb", "mysql").run(f"DROP DATABASE IF EXISTS {database.name}")


def go_config(root: Path, database: GoDatabase) -> Path:
    """The Go deployment's config directory: routes as the seed writes it, the query files."""
    config = root / "go-config"
    shutil.copytree(HERE / "config", config)
    secrets = root / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "prokov_jwt_secret").write_text("go-era secret shared by both systems, 48 bytes long")
    (config / "routes").mkdir(exist_ok=True)
    (config / "routes" / f"{APP}.yaml").write_text(
        f'app: {APP}\nversion: "1.0"\nbase_path: /api\nhosts:\n  - prokov.sogoms.test\n  - 127.0.0.1\n'
        + database.routes_block()
        + f"auth:\n  jwt_secret_file: {secrets / 'prokov_jwt_secret'}\n  jwt_expiry: 24h\n"
        + "logs:\n  retention_days: 30\n"
    )
    return config


def go_era_rows(database: GoDatabase) -> dict:
    """Users and rows as the Go system wrote them: its INSERTs, its bcrypt hashes."""
    users = {}
    for email, name, prefix in (
        ("alice@example.com", "Alice", "$2y$"),
        ("bob@example.com", "Bob", "$2a$"),
        ("carol@example.com", "Carol", "$2y$"),
    ):
        hashed = go_bcrypt(PASSWORD, prefix)
        ((user_id, _),) = database.run(GO_REGISTER, email, hashed, name)
        users[email] = {"id": user_id, "email": email, "name": name, "hash": hashed}
    database.run("UPDATE users SET role = 'admin' WHERE email = ?", "carol@example.com")
    alice, bob = users["alice@example.com"]["id"], users["bob@example.com"]["id"]
    ((roadmap, _),) = database.run(GO_NEW_PROJECT, alice, "Roadmap", "the plan", 2)
    database.run(GO_NEW_PROJECT, alice, "Inbox", None, 1)
    database.run(GO_NEW_PROJECT, bob, "Bobs", "his", 0)
    for index in range(TASKS):
        database.run(GO_NEW_TASK, alice, roadmap, f"Task {index}")
    database.run("INSERT INTO statuses (user_id, name) VALUES (?, ?)", alice, "todo")
    database.run("INSERT INTO tags (user_id, name) VALUES (?, ?)", alice, "urgent")
    return users
