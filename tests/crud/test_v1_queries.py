"""An app declared only by v1 query YAML (tenant beta) over tables from the Go era.

charlie is a beta user; dave is another beta user; the tables are created by the test
setup, not by SOGOMS, and their columns are read from the database.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from crud.sql import add_condition, bind, placeholders

from ..conftest import create_user, data_of, error_of

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def dave(beta):
    return create_user(beta, "dave@example.com", name="Dave")


@pytest.fixture
def charlie_token(beta_api, charlie):
    return beta_api.token_for("charlie@example.com")


@pytest.fixture
def dave_token(beta_api, dave):
    return beta_api.token_for("dave@example.com")


def new_project(api, token, name="Roadmap", position=0):
    response = api.post("projects", {"name": name, "description": "d", "position": position}, token=token)
    assert response.status_code == 201, response.content
    return response.json()["data"]["insert_id"]


def _row(beta, sql: str, *params):
    from django.db import connections

    with connections[beta.db_alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def test_it_creates_through_the_declared_fields_and_sets_the_owner(beta, beta_api, charlie, charlie_token):
    response = beta_api.post("projects", {"name": "Roadmap", "position": 3}, token=charlie_token)

    assert response.status_code == 201
    data = response.json()["data"]
    # the seed's answer, and the row as the show query reads it (no user_id: show leaves it out)
    assert data == {
        "insert_id": data["id"],
        "id": data["id"],
        "name": "Roadmap",
        "description": None,
        "position": 3,
    }
    assert _row(beta, "SELECT user_id FROM projects WHERE id = %s", data["id"]) == (charlie.id,)


def test_create_leaves_unlisted_columns_to_their_database_defaults(beta, beta_api, charlie_token):
    """`created_at ... DEFAULT CURRENT_TIMESTAMP` is not in `create.fields`: the database fills it."""
    project = data_of(beta_api.post("projects", {"name": "Bare"}, token=charlie_token), 201)["insert_id"]

    row = _row(
        beta, "SELECT created_at IS NOT NULL, position, description FROM projects WHERE id = %s", project
    )
    assert row == (1, 0, None)
    done = beta_api.post("tasks", {"project_id": project, "title": "t"}, token=charlie_token)
    assert done.status_code == 201, done.content
    assert _row(
        beta, "SELECT done, created_at IS NOT NULL FROM tasks WHERE id = %s", done.json()["data"]["insert_id"]
    ) == (0, 1)


def test_update_answers_affected_rows_and_the_row_as_show_reads_it(beta_api, charlie_token):
    project = new_project(beta_api, charlie_token, "Before")

    response = beta_api.call(
        "put", f"projects/{project}", {"name": "After", "position": 4}, token=charlie_token
    )

    assert response.status_code == 200
    assert response.json()["data"] == {
        "affected_rows": 1,
        "id": project,
        "name": "After",
        "description": "d",
        "position": 4,
    }
    assert beta_api.get(f"projects/{project}", token=charlie_token).json()["data"]["name"] == "After"


def test_booleans_read_the_same_in_every_answer(beta_api, charlie_token):
    project = new_project(beta_api, charlie_token)
    created = data_of(
        beta_api.post("tasks", {"project_id": project, "title": "t", "done": True}, token=charlie_token), 201
    )
    task = created["insert_id"]
    updated = data_of(beta_api.call("patch", f"tasks/{task}", {"done": False}, token=charlie_token))
    shown = data_of(beta_api.get(f"tasks/{task}", token=charlie_token))
    listed = data_of(beta_api.get(f"tasks?project_id={project}", token=charlie_token))

    assert created["done"] == 1 and updated["done"] == 0
    assert shown["done"] == listed[0]["done"] == updated["done"]
    assert type(created["done"]) is type(shown["done"]) is type(listed[0]["done"])


def test_a_write_without_a_show_answers_the_seeds_bare_keys(beta, beta_api, charlie, charlie_token):
    import dataclasses

    from crud import services
    from crud.runtime import existing_resource
    from tenants.auth.principal import TenantPrincipal

    project = new_project(beta_api, charlie_token)
    bound = existing_resource(beta, "tasks")
    without_show = dataclasses.replace(
        bound, resource=dataclasses.replace(bound.resource, operations=frozenset({"create", "update"}))
    )
    caller = TenantPrincipal.of_user(charlie, beta.app)

    created = services.record_create(
        bound=without_show, caller=caller, data={"project_id": project, "title": "t"}
    )
    updated = services.record_update(
        bound=without_show, caller=caller, pk=created["insert_id"], data={"title": "u"}, partial=True
    )

    assert set(created) == {"insert_id"}
    assert updated == {"affected_rows": 1}


def test_the_client_cannot_write_user_id_or_undeclared_columns(beta_api, charlie_token):
    response = beta_api.post("projects", {"name": "X", "user_id": 99, "color": "red"}, token=charlie_token)
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert set(details) == {"user_id", "color"}


def test_types_come_from_the_database_columns(beta_api, charlie_token):
    response = beta_api.post("projects", {"name": "x" * 121, "position": "first"}, token=charlie_token)
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"name", "position"}
    assert beta_api.post("projects", {"description": "no name"}, token=charlie_token).status_code == 400


def test_list_runs_the_sql_with_the_role_filter_and_order(beta_api, charlie_token, dave_token):
    new_project(beta_api, charlie_token, "Second", position=2)
    new_project(beta_api, charlie_token, "First", position=1)
    new_project(beta_api, dave_token, "Daves")

    response = beta_api.get("projects", token=charlie_token)

    assert response.status_code == 200
    body = response.json()
    assert [row["name"] for row in body["data"]] == ["First", "Second"]
    assert set(body["data"][0]) == {"id", "name", "description", "position"}  # the SQL's columns
    assert body["meta"] == {"total": 2, "limit": 10_000, "truncated": False}


def test_a_list_without_page_answers_every_row_as_go_did(beta_api, charlie_token):
    project = new_project(beta_api, charlie_token)
    for index in range(25):
        beta_api.post("tasks", {"project_id": project, "title": f"T{index}"}, token=charlie_token)

    response = beta_api.get(f"tasks?project_id={project}", token=charlie_token)

    assert [row["title"] for row in response.json()["data"]] == [f"T{index}" for index in range(25)]
    assert response.json()["meta"] == {"total": 25, "limit": 30, "truncated": False}
    assert "X-Sogoms-Truncated" not in response.headers


def test_reaching_the_row_cap_is_said_in_meta_and_a_header(beta_api, charlie_token):
    project = new_project(beta_api, charlie_token)
    for index in range(32):
        beta_api.post("tasks", {"project_id": project, "title": f"T{index}"}, token=charlie_token)

    response = beta_api.get(f"tasks?project_id={project}", token=charlie_token)

    assert len(response.json()["data"]) == 30
    assert response.json()["meta"] == {"total": 32, "limit": 30, "truncated": True}
    assert response.headers["X-Sogoms-Truncated"] == "true"
    paged = beta_api.get(f"tasks?project_id={project}&page=2&per_page=20", token=charlie_token).json()
    assert len(paged["data"]) == 12
    assert paged["meta"] == {"page": 2, "per_page": 20, "total": 32, "pages": 2}


def test_a_task_cannot_join_or_move_to_another_users_project(beta_api, charlie_token, dave_token):
    """The database's own foreign key (tasks.project_id -> projects.id) is checked against
    the rows the caller sees through the projects show query."""
    mine = new_project(beta_api, charlie_token, "Mine")
    theirs = new_project(beta_api, dave_token, "Theirs")

    joined = beta_api.post("tasks", {"project_id": theirs, "title": "sneak"}, token=charlie_token)
    assert error_of(joined, 400, "VALIDATION_ERROR")["details"] == {
        "project_id": [f"no projects with id {theirs}"]
    }
    missing = beta_api.post("tasks", {"project_id": 999999, "title": "void"}, token=charlie_token)
    assert error_of(missing, 400, "VALIDATION_ERROR")["details"] == {
        "project_id": ["no projects with id 999999"]
    }

    task = data_of(beta_api.post("tasks", {"project_id": mine, "title": "mine"}, token=charlie_token), 201)[
        "insert_id"
    ]
    moved = beta_api.call("patch", f"tasks/{task}", {"project_id": theirs}, token=charlie_token)
    error_of(moved, 400, "VALIDATION_ERROR")
    assert data_of(beta_api.get(f"tasks/{task}", token=charlie_token))["project_id"] == mine
    assert data_of(beta_api.get(f"tasks?project_id={theirs}", token=dave_token)) == []


def test_the_foreign_keys_of_a_v1_table_are_read_from_the_database(beta):
    from crud.runtime import existing_resource

    assert existing_resource(beta, "tasks").resource.references == {"project_id": ("projects", "id")}
    assert existing_resource(beta, "projects").resource.references == {}


def test_list_paginates(beta_api, charlie_token):
    for index in range(5):
        new_project(beta_api, charlie_token, f"P{index}", position=index)
    body = beta_api.get("projects?page=2&per_page=2", token=charlie_token).json()
    assert [row["name"] for row in body["data"]] == ["P2", "P3"]
    assert body["meta"] == {"page": 2, "per_page": 2, "total": 5, "pages": 3}
    assert beta_api.get("projects?per_page=101", token=charlie_token).status_code == 400


@pytest.mark.parametrize("raw", ["\u00b2", "1\u00b9", "\u0661", "99999999999999999999", "0", "-1", ""])
@pytest.mark.parametrize("key", ["page", "per_page"])
def test_a_page_that_is_not_ascii_digits_is_a_400_naming_it(beta_api, charlie_token, key, raw):
    new_project(beta_api, charlie_token)

    response = beta_api.get(f"projects?{urlencode({key: raw})}", token=charlie_token)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert list(error["details"]) == [key]


def test_an_admin_gets_the_admin_filter(beta, beta_api, charlie_token, dave_token):
    new_project(beta_api, charlie_token, "Charlies")
    new_project(beta_api, dave_token, "Daves")
    create_user(beta, "root@example.com", role="admin")
    admin = beta_api.token_for("root@example.com")

    names = {row["name"] for row in beta_api.get("projects", token=admin).json()["data"]}

    assert names == {"Charlies", "Daves"}


def test_show_binds_the_id_and_hides_other_users_rows(beta_api, charlie_token, dave_token):
    mine = new_project(beta_api, charlie_token, "Mine")
    theirs = new_project(beta_api, dave_token, "Theirs")

    assert beta_api.get(f"projects/{mine}", token=charlie_token).json()["data"]["name"] == "Mine"
    hidden = beta_api.get(f"projects/{theirs}", token=charlie_token)
    missing = beta_api.get("projects/999999", token=charlie_token)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["code"] == missing.json()["error"]["code"] == "NOT_FOUND"


def test_update_and_delete_apply_the_role_filter(beta_api, charlie_token, dave_token):
    theirs = new_project(beta_api, dave_token, "Theirs")
    mine = new_project(beta_api, charlie_token, "Mine")

    assert (
        beta_api.call("patch", f"projects/{theirs}", {"name": "stolen"}, token=charlie_token).status_code
        == 404
    )
    assert beta_api.call("delete", f"projects/{theirs}", token=charlie_token).status_code == 404
    assert beta_api.get(f"projects/{theirs}", token=dave_token).json()["data"]["name"] == "Theirs"

    updated = beta_api.call(
        "put", f"projects/{mine}", {"name": "Renamed", "position": 1}, token=charlie_token
    )
    assert updated.status_code == 200
    assert updated.json()["data"]["name"] == "Renamed"
    deleted = beta_api.call("delete", f"projects/{mine}", token=charlie_token)
    assert deleted.json()["data"] == {"affected_rows": 1}
    assert beta_api.get(f"projects/{mine}", token=charlie_token).status_code == 404


def test_a_request_parameter_placeholder_is_bound(beta_api, charlie_token, dave_token):
    project = new_project(beta_api, charlie_token)
    other = new_project(beta_api, dave_token)
    created = beta_api.post(
        "tasks", {"project_id": project, "title": "Write", "done": False}, token=charlie_token
    )
    assert created.status_code == 201
    beta_api.post("tasks", {"project_id": other, "title": "Theirs", "done": False}, token=dave_token)

    rows = beta_api.get(f"tasks?project_id={project}", token=charlie_token).json()["data"]
    assert [row["title"] for row in rows] == ["Write"]
    # another user's project: the filter on the joined table hides its tasks
    assert beta_api.get(f"tasks?project_id={other}", token=charlie_token).json()["data"] == []


def test_injection_through_a_placeholder_is_only_a_value(beta_api, charlie_token):
    project = new_project(beta_api, charlie_token)
    response = beta_api.get("tasks?project_id=1 OR 1=1", token=charlie_token)
    assert response.status_code == 200
    assert response.json()["data"] == []
    assert beta_api.get(f"projects/{project}", token=charlie_token).status_code == 200


def test_a_missing_placeholder_value_is_a_400_naming_it(beta_api, charlie_token):
    response = beta_api.get("tasks", token=charlie_token)
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"project_id": ["is required"]}


def test_an_unknown_parameter_is_refused(beta_api, charlie_token):
    response = beta_api.get("projects?sort=name", token=charlie_token)
    assert response.status_code == 400
    assert "sort" in response.json()["error"]["details"]


def test_operations_not_declared_answer_405(beta_api, charlie_token):
    assert beta_api.call("delete", "tasks/1", token=charlie_token).status_code == 405


def test_login_carries_the_v1_login_includes(beta_api, charlie_token, dave_token):
    new_project(beta_api, charlie_token, "Mine")
    new_project(beta_api, dave_token, "Theirs")

    data = beta_api.login("charlie@example.com").json()["data"]

    assert [row["name"] for row in data["projects"]] == ["Mine"]


def test_login_carries_the_lists_of_the_go_auth_yaml(beta_api, charlie_token, dave_token):
    mine = new_project(beta_api, charlie_token)
    theirs = new_project(beta_api, dave_token)
    for title, done in (("open", False), ("closed", True)):
        beta_api.post("tasks", {"project_id": mine, "title": title, "done": done}, token=charlie_token)
    beta_api.post("tasks", {"project_id": theirs, "title": "daves"}, token=dave_token)

    data = beta_api.login("charlie@example.com").json()["data"]

    assert [row["title"] for row in data["open_tasks"]] == ["open"]
    assert set(data["open_tasks"][0]) == {"id", "title", "project_id"}
    assert beta_api.get("open_tasks", token=charlie_token).status_code == 404  # not a route


def test_the_go_auth_queries_file_is_not_a_resource(beta_api, charlie_token):
    assert beta_api.get("auth", token=charlie_token).status_code == 404


# --- the placeholder binder ----------------------------------------------------------


def test_placeholders_are_found_outside_quotes_only():
    sql = "SELECT ':not_me', \"x:y\" FROM t WHERE a = :user_id AND b::text = :id AND c = ':q'"
    assert placeholders(sql) == ["user_id", "id"]


def test_bind_turns_placeholders_into_parameters_in_order():
    sql, params = bind("a = :id AND b = :user_id AND c LIKE '5%' AND d = :id", {"id": 7, "user_id": 3})
    assert sql == "a = %s AND b = %s AND c LIKE '5%%' AND d = %s"
    assert params == [7, 3, 7]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT a FROM t", "SELECT a FROM t WHERE (u = 1)"),
        ("SELECT a FROM t WHERE id = 2", "SELECT a FROM t WHERE (id = 2) AND (u = 1)"),
        ("SELECT a FROM t WHERE x = 1 OR y = 2", "SELECT a FROM t WHERE (x = 1 OR y = 2) AND (u = 1)"),
        (
            "SELECT a FROM t WHERE id IN (SELECT b FROM s WHERE c = 1) GROUP BY a",
            "SELECT a FROM t WHERE (id IN (SELECT b FROM s WHERE c = 1)) AND (u = 1) GROUP BY a",
        ),
        (
            "SELECT a FROM (SELECT * FROM t WHERE z) q",
            "SELECT a FROM (SELECT * FROM t WHERE z) q WHERE (u = 1)",
        ),
    ],
)
def test_the_role_filter_joins_the_top_level_where(sql, expected):
    assert add_condition(sql, "u = 1") == expected


def test_an_empty_role_filter_leaves_the_sql_alone():
    assert add_condition("SELECT a FROM t", "") == "SELECT a FROM t"


def test_the_openapi_document_names_the_parameters_a_v1_query_needs(beta_api):
    document = beta_api.client.get("/v1/_openapi", HTTP_HOST="beta.test").json()
    parameters = {p["name"]: p for p in document["paths"]["/tasks"]["get"]["parameters"]}
    assert parameters["project_id"]["required"] is True
    assert "user_id" not in parameters


def test_the_tables_an_sql_reads_are_found_after_from_and_join():
    from crud.sql import tables_read

    sql = "SELECT t.id, 'FROM nowhere' FROM tasks t JOIN `projects` p ON p.id = t.project_id JOIN tags"
    assert tables_read(sql) == {"tasks", "projects", "tags"}
    assert tables_read("SELECT * FROM (SELECT id FROM inner_t) q") == {"inner_t"}
