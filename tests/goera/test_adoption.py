"""Taking over a running Go deployment: the seed's documented requests and answers, replayed
against a Go-era database on SQLite and on MariaDB, with the Go system's own SQL beside.

Each engine gets one deployment for the module: the Go tables and rows made by Go SQL,
the Go config as the seed writes it plus the two adoption keys, `sogoms migrate` run by
the real command, and a real server process answering on 127.0.0.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from tests.realtime.servers import call, free_port, site_env, sogoms_command, uvicorn

from .godb import (
    APP,
    GO_DELETE_PROJECT,
    GO_LOGIN,
    GO_NEW_PASSWORD,
    GO_NEW_PROJECT,
    GO_REGISTER,
    GO_RENAME,
    GO_UPDATE_PROJECT,
    PASSWORD,
    TASKS,
    GoDatabase,
    create_go_database,
    drop_go_database,
    go_bcrypt,
    go_config,
    go_era_rows,
    go_token,
)

ADOPTION_KEYS = "  legacy_tokens_until: 2099-12-31\n  password_hash: bcrypt\n"


@dataclass
class Deployment:
    address: str
    database: GoDatabase
    env: dict
    secret: str
    users: dict  # email -> {"id", "email", "name", "hash"}

    def login(self, email: str, password: str = PASSWORD) -> tuple[int, dict]:
        return call(self.address, "POST", "/api/auth/login", {"email": email, "password": password})

    def token(self, email: str) -> str:
        status, body = self.login(email)
        assert status == 200, body
        return body["data"]["token"]


def adopt(config: Path) -> Path:
    """The routes as the migration guide changes them: the two adoption keys under auth."""
    routes = config / "routes" / f"{APP}.yaml"
    routes.write_text(routes.read_text().replace("auth:\n", "auth:\n" + ADOPTION_KEYS, 1))
    return config


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def deployment(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"goera-{request.param}")
    database = create_go_database(request.param, root)
    try:
        users = go_era_rows(database)
        config = adopt(go_config(root, database))
        env = site_env(config, root / "var")
        sogoms_command(env, "migrate")
        secret = (root / "secrets" / "prokov_jwt_secret").read_text()
        with uvicorn(env, free_port()) as address:
            yield Deployment(address, database, env, secret, users)
    finally:
        drop_go_database(database)


def alice(deployment) -> dict:
    return deployment.users["alice@example.com"]


# --- sign-in ---------------------------------------------------------------------------


def test_go_users_log_in_with_their_bcrypt_hashes_which_stay_as_go_wrote_them(deployment):
    for email in ("alice@example.com", "bob@example.com"):
        status, body = deployment.login(email)

        assert status == 200, body
        user = body["data"]["user"]
        assert (user["id"], user["email"]) == (deployment.users[email]["id"], email)
        ((stored,),) = deployment.database.run("SELECT password FROM users WHERE email = ?", email)
        assert stored == deployment.users[email]["hash"]  # the Go side still logs them in


def test_the_login_answer_carries_the_lists_of_the_go_auth_yaml(deployment):
    status, body = deployment.login("alice@example.com")

    assert status == 200
    data = body["data"]
    assert [row["name"] for row in data["projects"]] == ["Inbox", "Roadmap"]  # order: position ASC
    assert len(data["tasks"]) == TASKS
    assert [row["name"] for row in data["statuses"]] == ["todo"]
    assert [row["name"] for row in data["tags"]] == ["urgent"]


def test_a_token_the_go_system_issued_keeps_working(deployment):
    token = go_token(deployment.secret, alice(deployment))

    status, body = call(deployment.address, "GET", "/api/projects", token=token)
    assert status == 200, body
    assert {row["name"] for row in body["data"]} == {"Inbox", "Roadmap"}
    status, body = call(deployment.address, "GET", "/api/auth/me", token=token)
    assert (status, body["data"]["user"]["email"]) == (200, "alice@example.com")
    other_app = go_token(deployment.secret, alice(deployment), app="other")
    assert call(deployment.address, "GET", "/api/projects", token=other_app)[0] == 401


def test_passwords_set_through_sogoms_are_hashes_the_go_side_reads(deployment):
    status, body = call(
        deployment.address,
        "POST",
        "/api/auth/register",
        {"email": "dave@example.com", "password": PASSWORD, "name": "Dave"},
    )
    assert status == 201, body

    ((user_id, email, stored, name, role),) = deployment.database.run(GO_LOGIN, "dave@example.com")
    assert stored.startswith("$2y$10$")
    assert bcrypt.checkpw(PASSWORD.encode(), ("$2b$" + stored[4:]).encode())  # what Go checks
    assert (user_id, email, name, role) == (body["data"]["user"]["id"], "dave@example.com", "Dave", "default")


# --- the generic CRUD of the seed --------------------------------------------------------


def test_a_list_without_page_answers_every_row(deployment):
    status, body = call(deployment.address, "GET", "/api/tasks", token=deployment.token("alice@example.com"))

    assert status == 200
    assert [row["title"] for row in body["data"]] == [f"Task {index}" for index in range(TASKS)]
    assert body["meta"]["truncated"] is False


def test_create_lets_the_database_fill_its_defaults_and_answers_insert_id(deployment):
    token = deployment.token("alice@example.com")

    status, body = call(
        deployment.address,
        "POST",
        "/api/projects",
        {"name": "Launch", "description": "go live", "position": 3},
        token=token,
    )

    assert status == 201, body
    assert body["message"] == "Created"
    data = body["data"]
    assert data == {"insert_id": data["id"], "id": data["id"], "name": "Launch", "description": "go live"}
    ((owner, created_at),) = deployment.database.run(
        "SELECT user_id, created_at FROM projects WHERE id = ?", data["insert_id"]
    )
    assert owner == alice(deployment)["id"]
    assert created_at is not None


def test_update_and_delete_answer_affected_rows_and_keep_to_the_role_filter(deployment):
    token = deployment.token("alice@example.com")
    bob = deployment.token("bob@example.com")
    status, body = call(deployment.address, "POST", "/api/projects", {"name": "Temp"}, token=token)
    project = body["data"]["insert_id"]

    assert (
        call(deployment.address, "PUT", f"/api/projects/{project}", {"name": "Bobs now"}, token=bob)[0] == 404
    )
    assert call(deployment.address, "DELETE", f"/api/projects/{project}", token=bob)[0] == 404
    status, body = call(
        deployment.address, "PUT", f"/api/projects/{project}", {"name": "Kept", "position": 9}, token=token
    )
    assert status == 200, body
    assert body["data"]["affected_rows"] == 1 and body["data"]["name"] == "Kept"
    status, body = call(deployment.address, "DELETE", f"/api/projects/{project}", token=token)
    assert (status, body["data"]) == (200, {"affected_rows": 1})


def test_the_admin_filter_shows_every_row_and_the_default_filter_only_ones_own(deployment):
    bobs = call(deployment.address, "GET", "/api/projects", token=deployment.token("bob@example.com"))[1]
    admins = call(deployment.address, "GET", "/api/projects", token=deployment.token("carol@example.com"))[1]

    assert [row["name"] for row in bobs["data"]] == ["Bobs"]
    assert {"Bobs", "Roadmap", "Inbox"} <= {row["name"] for row in admins["data"]}


def test_a_task_cannot_be_put_in_another_users_project(deployment):
    ((roadmap,),) = deployment.database.run("SELECT id FROM projects WHERE name = 'Roadmap'")

    status, body = call(
        deployment.address,
        "POST",
        "/api/tasks",
        {"project_id": roadmap, "title": "sneaked in"},
        token=deployment.token("bob@example.com"),
    )

    assert status == 400
    assert list(body["error"]["details"]) == ["project_id"]
    assert deployment.database.run("SELECT COUNT(*) FROM tasks WHERE title = 'sneaked in'") == [(0,)]


def test_placeholders_are_bound_values_never_sql(deployment):
    token = deployment.token("bob@example.com")
    status, body = call(deployment.address, "GET", "/api/projects/1%20OR%201=1", token=token)
    assert (status, body["success"]) == (404, False)


# --- the Go system beside it ---------------------------------------------------------------


def test_the_go_systems_own_sql_still_works_after_migrate(deployment):
    database = deployment.database
    ((user_id, _),) = database.run(GO_REGISTER, "erin@example.com", go_bcrypt(PASSWORD), "Erin")
    ((found,),) = [row[:1] for row in database.run(GO_LOGIN, "erin@example.com")]
    assert found == user_id
    ((_, renamed),) = database.run(GO_RENAME, "Erin E.", user_id)
    assert renamed == 1
    database.run(GO_NEW_PASSWORD, go_bcrypt(PASSWORD, "$2a$"), user_id)
    ((project, _),) = database.run(GO_NEW_PROJECT, user_id, "From Go", None, 0)
    database.run(GO_UPDATE_PROJECT, "From Go, renamed", "d", 1, project, user_id)

    # a user the Go system registered signs in here, and sees what Go wrote
    status, body = deployment.login("erin@example.com")
    assert status == 200, body
    assert (body["data"]["user"]["name"], body["data"]["user"]["role"]) == ("Erin E.", "default")
    assert [row["name"] for row in body["data"]["projects"]] == ["From Go, renamed"]
    ((_, deleted),) = database.run(GO_DELETE_PROJECT, project, user_id)
    assert deleted == 1


def test_migrate_kept_the_go_columns_and_a_second_run_changes_nothing(deployment):
    columns = deployment.database.columns("users")

    assert columns["name"][0].startswith("VARCHAR(100)")
    assert str(columns["role"][1]).strip("'") == "default"
    assert "CURRENT_TIMESTAMP" in str(columns["created_at"][1]).upper()
    assert {"is_active", "updated_at"} <= set(columns)
    out = sogoms_command(deployment.env, "migrate", APP)
    assert f"{APP} (" in out and "up to date" in out.split(f"{APP} (", 1)[1]
