"""Self-description of a tenant API: the data dictionary, OpenAPI and Swagger UI.

`<base>/_schema` is the data dictionary (role admin, or everyone with `schema_public`),
`<base>/_openapi` the OpenAPI document (public, not an envelope), `<base>/_docs` Swagger
UI from this server's static files. The conformance tests at the end take real responses
of the API and validate them against the OpenAPI document, so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from crud.describe_views import DictionaryReader
from sogoms_site.api.errors import Forbidden
from sogoms_site.api.openapi import ERRORS, openapi_document
from tenants.config import Registry
from tests.conftest import TenantApi, create_user

from ..conftest import data_of, error_of

pytestmark = pytest.mark.django_db(databases="__all__")

ALPHA_TABLES = ["projects", "statuses", "tags", "tasks", "task_tags", "specimens"]
CRUD = ["list", "show", "create", "update", "delete"]


# --- helpers ----------------------------------------------------------------------------


def by_name(items: list[dict]) -> dict[str, dict]:
    return {item["name"]: item for item in items}


def table_of(dictionary: dict, name: str) -> dict:
    return by_name(dictionary["tables"])[name]


def field_of(table: dict, name: str) -> dict:
    return by_name(table["fields"])[name]


def resolved(document: dict, node):
    """`node` with every `$ref` into `document` replaced by its target (the document has no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolved(document, target)
        return {key: resolved(document, value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolved(document, value) for value in node]
    return node


def assert_conforms(document: dict, path: str, method: str, response) -> None:
    """The body of `response` is valid against what `document` says `method path` answers."""
    responses = document["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in responses, f"{method.upper()} {path} answered {status}, documented: {sorted(responses)}"
    declared = resolved(document, responses[status])
    schema = declared["content"]["application/json"]["schema"]
    assert response["Content-Type"].startswith("application/json")
    validator = OAS30Validator(schema, format_checker=OAS30Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(response.json()), key=lambda error: list(error.absolute_path))
    assert not errors, f"{method.upper()} {path} {status} does not conform:\n" + "\n".join(
        f"  at {'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}" for error in errors
    )


def operations_of(document: dict, path: str) -> set[str]:
    return {method for method in document["paths"].get(path, {}) if method != "parameters"}


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def root(alpha):
    return create_user(alpha, "root@example.com", role="admin", name="Root")


@pytest.fixture
def root_token(alpha_api, root):
    return alpha_api.token_for("root@example.com")


@pytest.fixture
def alice_token(alpha_api, alice):
    return alpha_api.token_for("alice@example.com")


@pytest.fixture
def dictionary(alpha_api, root_token):
    return data_of(alpha_api.get("_schema", token=root_token))


@pytest.fixture
def beta_root_token(beta, beta_api):
    create_user(beta, "root@example.com", role="admin", name="Root")
    return beta_api.token_for("root@example.com")


@pytest.fixture
def openapi(alpha_api):
    response = alpha_api.get("_openapi")
    assert response.status_code == 200, response.content
    return response.json()


# --- the data dictionary: who may read it -----------------------------------------------


def test_the_dictionary_needs_a_token(alpha_api):
    response = alpha_api.get("_schema")

    error_of(response, 401, "UNAUTHORIZED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_user_of_role_default_may_not_read_the_dictionary(alpha_api, alice_token):
    error_of(alpha_api.get("_schema", token=alice_token), 403, "FORBIDDEN")
    error_of(alpha_api.get("_schema/tasks", token=alice_token), 403, "FORBIDDEN")


def test_an_admin_of_another_tenant_may_not_read_the_dictionary(alpha_api, beta_root_token):
    error_of(alpha_api.get("_schema", token=beta_root_token), 401, "UNAUTHORIZED")


def test_the_permission_lets_everyone_in_when_the_tenant_makes_its_schema_public(alpha):
    public = dataclasses.replace(alpha, schema_public=True)
    reader = DictionaryReader()

    assert reader.has_permission(SimpleNamespace(tenant=public, user=None), view=None) is True
    assert reader.has_permission(SimpleNamespace(tenant=alpha, user=None), view=None) is False


def test_the_permission_refuses_a_default_user_and_admits_an_admin_of_a_private_schema(alpha):
    reader = DictionaryReader()
    default = SimpleNamespace(is_authenticated=True, is_admin=False)
    admin = SimpleNamespace(is_authenticated=True, is_admin=True)

    with pytest.raises(Forbidden):
        reader.has_permission(SimpleNamespace(tenant=alpha, user=default), view=None)
    assert reader.has_permission(SimpleNamespace(tenant=alpha, user=admin), view=None) is True


def test_a_public_schema_is_served_over_http_without_a_token(alpha, beta, monkeypatch):
    public = dataclasses.replace(alpha, schema_public=True)
    monkeypatch.setattr("tenants.middleware.registry", lambda: Registry.of([public, beta]))
    api = TenantApi(public, APIClient(), "alpha.test")

    data = data_of(api.get("_schema"))

    assert [table["name"] for table in data["tables"]] == ALPHA_TABLES
    assert data_of(api.get("_schema/tasks"))["name"] == "tasks"


# --- the data dictionary: what it says ---------------------------------------------------


def test_the_dictionary_lists_every_table_with_operations_but_not_users(dictionary):
    assert dictionary["app"] == "alpha"
    assert dictionary["version"] == "1.0"
    assert [table["name"] for table in dictionary["tables"]] == ALPHA_TABLES
    for table in dictionary["tables"]:
        assert table["source"] == "schema"
        expected = [op for op in CRUD if op != "update"] if table["name"] == "task_tags" else CRUD
        assert table["operations"] == expected, table["name"]


def test_the_dictionary_gives_each_field_its_type_and_constraints(dictionary):
    projects = table_of(dictionary, "projects")
    assert [field["name"] for field in projects["fields"]] == [
        "id",
        "user_id",
        "name",
        "description",
        "color",
        "position",
        "archived",
        "created_at",
        "updated_at",
    ]
    assert field_of(projects, "id") == {
        "name": "id",
        "type": "int",
        "primary": True,
        "auto": True,
        "readonly": True,
    }
    assert field_of(projects, "name") == {
        "name": "name",
        "type": "string",
        "required": True,
        "searchable": True,
        "max_length": 120,
    }
    assert field_of(projects, "color") == {
        "name": "color",
        "type": "string",
        "max_length": 7,
        "pattern": "^#[0-9a-fA-F]{6}$",
        "default": "#4f46e5",
    }
    assert field_of(projects, "position")["min"] == 0
    assert field_of(projects, "position")["default"] == 0
    assert field_of(projects, "archived") == {"name": "archived", "type": "bool", "default": False}
    assert field_of(projects, "description") == {
        "name": "description",
        "type": "text",
        "nullable": True,
        "searchable": True,
    }
    assert field_of(projects, "created_at")["readonly"] is True

    specimens = table_of(dictionary, "specimens")
    assert field_of(specimens, "id")["type"] == "bigint"
    code = field_of(specimens, "code")
    assert (code["unique"], code["required"], code["max_length"]) == (True, True, 12)
    assert code["pattern"] == "^[A-Z]{2}-[0-9]+$"
    count = field_of(specimens, "count")
    assert (count["min"], count["max"], count["default"]) == (0, 1000, 0)
    ratio = field_of(specimens, "ratio")
    assert (ratio["type"], ratio["min"], ratio["max"]) == ("float", -1, 1)
    price = field_of(specimens, "price")
    assert (price["type"], price["max_digits"], price["decimal_places"], price["min"]) == ("decimal", 8, 2, 0)
    assert field_of(specimens, "size")["choices"] == ["s", "m", "l"]
    assert field_of(specimens, "stamp")["readonly"] is True
    expected_types = {
        "big": "bigint",
        "label": "text",
        "active": "bool",
        "born_on": "date",
        "seen_at": "datetime",
        "attributes": "json",
        "contact": "email",
        "homepage": "url",
    }
    assert {name: field_of(specimens, name)["type"] for name in expected_types} == expected_types


def test_the_dictionary_gives_foreign_keys_with_their_delete_rule_and_the_owner(dictionary):
    tasks = table_of(dictionary, "tasks")

    project = field_of(tasks, "project_id")
    assert (project["foreign"], project["on_delete"], project["required"]) == ("projects.id", "cascade", True)
    status = field_of(tasks, "status_id")
    assert (status["foreign"], status["on_delete"], status["nullable"]) == ("statuses.id", "set_null", True)
    owner = field_of(tasks, "user_id")
    assert (owner["owner"], owner["readonly"], owner["foreign"]) == (True, True, "users.id")
    assert "required" not in owner  # set from the token, never by the client
    priority = field_of(tasks, "priority")
    assert (priority["choices"], priority["default"]) == (["low", "normal", "high", "urgent"], "normal")
    estimate = field_of(tasks, "estimate_hours")
    assert (estimate["max_digits"], estimate["decimal_places"]) == (6, 2)
    assert field_of(tasks, "meta")["type"] == "json"
    assert field_of(table_of(dictionary, "task_tags"), "tag_id")["foreign"] == "tags.id"


def test_the_dictionary_gives_includes_named_filters_sort_indexes_and_unique_groups(dictionary):
    tasks = table_of(dictionary, "tasks")
    assert tasks["includes"] == {
        "project": {"kind": "one", "table": "projects"},
        "status": {"kind": "one", "table": "statuses"},
        "task_tags": {"kind": "many", "table": "task_tags"},
        "tags": {"kind": "link", "table": "tags"},
    }
    assert tasks["named_filters"] == {
        "open": {"done": {"eq": False}},
        "due_today": {"due_date": {"eq": ":today"}, "done": {"eq": False}},
    }
    assert tasks["indexes"] == [["user_id", "project_id", "position"], ["user_id", "due_date"]]
    assert tasks["sort"] == ["position", "id"]

    projects = table_of(dictionary, "projects")
    assert projects["includes"] == {"tasks": {"kind": "many", "table": "tasks"}}
    assert projects["named_filters"] == {"active": {"archived": {"eq": False}}}
    assert projects["indexes"] == [["user_id", "position"]]
    assert projects["unique"] == [["user_id", "name"]]
    assert table_of(dictionary, "task_tags")["unique"] == [["task_id", "tag_id"]]
    assert table_of(dictionary, "specimens")["unique"] == []


def test_a_hidden_field_appears_nowhere_in_the_dictionary_or_the_openapi_document(
    alpha_api, root_token, dictionary
):
    specimens = table_of(dictionary, "specimens")
    assert "secret_note" not in {field["name"] for field in specimens["fields"]}
    for path, token in (("_schema", root_token), ("_schema/specimens", root_token), ("_openapi", None)):
        response = alpha_api.get(path, token=token)
        assert response.status_code == 200, path
        assert b"secret_note" not in response.content, path


def test_one_table_is_its_entry_of_the_dictionary(alpha_api, root_token, dictionary):
    tasks = data_of(alpha_api.get("_schema/tasks", token=root_token))

    assert tasks == table_of(dictionary, "tasks")


def test_an_unknown_table_and_a_table_without_operations_are_not_found(alpha_api, root_token):
    error_of(alpha_api.get("_schema/nope", token=root_token), 404, "NOT_FOUND")
    error_of(alpha_api.get("_schema/users", token=root_token), 404, "NOT_FOUND")


def test_the_dictionary_of_a_v1_query_app_reads_its_columns_from_the_database(beta_api, beta_root_token):
    dictionary = data_of(beta_api.get("_schema", token=beta_root_token))

    assert (dictionary["app"], dictionary["version"]) == ("beta", "2")
    assert [table["name"] for table in dictionary["tables"]] == ["projects", "tasks"]
    projects, tasks = dictionary["tables"]
    assert {projects["source"], tasks["source"]} == {"queries"}
    assert projects["operations"] == CRUD
    assert tasks["operations"] == ["list", "show", "create", "update"]
    assert [field["name"] for field in projects["fields"]] == [
        "id",
        "user_id",
        "name",
        "description",
        "position",
        "created_at",
    ]
    assert [field["name"] for field in tasks["fields"]] == [
        "id",
        "user_id",
        "project_id",
        "title",
        "done",
        "created_at",
    ]
    assert field_of(tasks, "project_id")["foreign"] == "projects.id"  # the database's own constraint
    identifier = field_of(projects, "id")
    assert (identifier["type"], identifier["primary"], identifier["auto"]) == ("int", True, True)
    assert field_of(projects, "user_id")["owner"] is True
    name = field_of(projects, "name")
    assert (name["type"], name["max_length"], name["required"]) == ("string", 120, True)
    assert field_of(projects, "description")["type"] == "text"
    assert field_of(projects, "description")["nullable"] is True  # TEXT NULL
    assert field_of(projects, "position")["type"] == "int"
    assert field_of(tasks, "title")["max_length"] == 200
    assert field_of(tasks, "done")["type"] == "bool"
    assert field_of(tasks, "project_id")["required"] is True


def test_a_not_null_column_with_a_database_default_is_not_described_as_nullable(beta_api, beta_root_token):
    # projects.position is `INT NOT NULL DEFAULT 0` and tasks.done `BOOLEAN NOT NULL DEFAULT 0`
    # (tests/conftest.py): null can never be stored there.
    dictionary = data_of(beta_api.get("_schema", token=beta_root_token))

    position = field_of(table_of(dictionary, "projects"), "position")
    done = field_of(table_of(dictionary, "tasks"), "done")
    assert not position.get("nullable"), position
    assert not done.get("nullable"), done


# --- OpenAPI --------------------------------------------------------------------------------


def test_the_openapi_document_is_public_raw_json_and_valid(alpha_api, alpha):
    response = alpha_api.get("_openapi")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    document = response.json()
    assert "success" not in document  # the document itself, not an envelope
    assert document["openapi"].startswith("3.0")
    validate(document)
    assert document == json.loads(json.dumps(openapi_document(alpha)))
    assert document["info"]["title"] == "alpha API"
    assert document["info"]["version"] == "1.0"
    assert document["servers"] == [{"url": "/api"}]


def test_the_openapi_document_has_the_auth_paths_and_a_path_per_resource(openapi):
    expected = {"/auth/register", "/auth/login", "/auth/refresh", "/auth/me", "/auth/logout"}
    expected |= {"/auth/sessions", "/auth/sessions/{session_id}"}
    expected |= {"/auth/password/forgot", "/auth/password/reset"}  # alpha has a password_reset template
    expected |= {"/auth/verify", "/auth/verify/resend"}  # and a verify_email one
    # no auth.oauth providers: the provider sign-in paths are served but not described
    for table in ALPHA_TABLES:
        expected |= {f"/{table}", f"/{table}/{{id}}"}

    # The `/_...` paths of the other apps are checked against the URL routes in tests/site/test_openapi.py.
    assert {path for path in openapi["paths"] if not path.startswith("/_")} == expected
    assert operations_of(openapi, "/auth/me") == {"get", "patch"}
    for path in (
        "/auth/register",
        "/auth/login",
        "/auth/refresh",
        "/auth/password/forgot",
        "/auth/password/reset",
        "/auth/verify",
        "/auth/verify/resend",
    ):
        assert openapi["paths"][path]["post"]["security"] == [], path
    assert "security" not in openapi["paths"]["/auth/logout"]["post"]  # needs the bearer token


def test_the_openapi_document_lists_only_the_operations_each_resource_allows(openapi, dictionary):
    methods = {
        "list": ("", "get"),
        "create": ("", "post"),
        "show": ("/{id}", "get"),
        "delete": ("/{id}", "delete"),
    }
    for table in dictionary["tables"]:
        expected: dict[str, set] = {f"/{table['name']}": set(), f"/{table['name']}/{{id}}": set()}
        for operation in table["operations"]:
            if operation == "update":
                expected[f"/{table['name']}/{{id}}"] |= {"put", "patch"}
            else:
                suffix, method = methods[operation]
                expected[f"/{table['name']}{suffix}"].add(method)
        for path, allowed in expected.items():
            assert operations_of(openapi, path) == allowed, path

    assert operations_of(openapi, "/task_tags/{id}") == {"get", "delete"}


def test_the_openapi_document_declares_bearer_auth_the_error_responses_and_the_error_schema(openapi):
    components = openapi["components"]

    assert components["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert openapi["security"] == [{"bearer": []}]
    assert set(components["responses"]) == {f"E{code}" for code in ERRORS}
    for code in ERRORS:
        schema = components["responses"][f"E{code}"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}
    error = components["schemas"]["Error"]
    assert error["required"] == ["success", "error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "details"]
    show = openapi["paths"]["/projects/{id}"]["get"]["responses"]
    assert show["404"] == {"$ref": "#/components/responses/E404"}
    assert openapi["paths"]["/projects"]["post"]["responses"]["409"] == {
        "$ref": "#/components/responses/E409"
    }


def test_the_openapi_document_describes_the_writable_fields_of_a_resource(openapi):
    create = openapi["paths"]["/tasks"]["post"]["requestBody"]["content"]["application/json"]["schema"]

    assert create["additionalProperties"] is False
    assert create["required"] == ["project_id", "title"]
    assert "user_id" not in create["properties"]  # the owner comes from the token
    assert "id" not in create["properties"]
    assert create["properties"]["title"]["maxLength"] == 200
    assert create["properties"]["priority"]["enum"] == ["low", "normal", "high", "urgent"]
    patch = openapi["paths"]["/tasks/{id}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert "required" not in patch
    specimens = openapi["paths"]["/specimens"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert specimens["properties"]["code"]["pattern"] == "^[A-Z]{2}-[0-9]+$"
    count = specimens["properties"]["count"]
    assert (count["minimum"], count["maximum"]) == (0, 1000)
    assert "stamp" not in specimens["properties"]


def test_the_openapi_document_of_a_v1_query_app_is_valid_and_served_under_its_base_path(beta_api):
    response = beta_api.get("_openapi")

    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert document["servers"] == [{"url": "/v1"}]
    assert operations_of(document, "/projects") == {"get", "post"}
    assert operations_of(document, "/projects/{id}") == {"get", "put", "patch", "delete"}
    assert operations_of(document, "/tasks") == {"get", "post"}
    assert operations_of(document, "/tasks/{id}") == {"get", "put", "patch"}
    assert "/auth/password/forgot" not in document["paths"]  # beta has no password_reset template


# --- Swagger UI -----------------------------------------------------------------------------


def test_the_docs_page_is_swagger_ui_from_this_server(alpha_api):
    response = alpha_api.get("_docs")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "/static/swagger-ui/swagger-ui-bundle.js" in html
    assert "/static/swagger-ui/swagger-ui.css" in html
    assert '"/api/_openapi"' in html
    for remote in ("unpkg", "cdn", "jsdelivr", "http://", "https://"):
        assert remote not in html.lower(), remote


def test_the_docs_page_of_another_base_path_reads_its_own_openapi_document(beta_api):
    response = beta_api.get("_docs")

    assert response.status_code == 200
    assert '"/v1/_openapi"' in response.content.decode()


def test_the_swagger_ui_files_are_served_by_this_server(alpha_api):
    for name, kind in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "text/css")):
        response = alpha_api.client.get(f"/static/swagger-ui/{name}", HTTP_HOST="alpha.test")
        assert response.status_code == 200, name
        assert kind in response["Content-Type"], name
        assert b"".join(response.streaming_content if response.streaming else [response.content])


def test_the_docs_view_answers_other_methods_with_405_in_the_envelope(alpha_api):
    # The view's own answer (the test client skips the CSRF middleware); see the next test.
    for method in ("post", "put", "delete"):
        response = alpha_api.call(method, "_docs", {})
        error_of(response, 405, "METHOD_NOT_ALLOWED")
        assert response["Content-Type"] == "application/json"


def test_a_post_to_the_docs_page_is_405_in_the_envelope(alpha):
    # A real client: Django's test client skips CSRF checks unless told not to.
    api = TenantApi(alpha, APIClient(enforce_csrf_checks=True), "alpha.test")

    response = api.post("_docs", {})

    error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert response["Content-Type"] == "application/json"


# --- real responses conform to the OpenAPI document ------------------------------------------


@pytest.fixture
def alice_api(alpha_api, alice_token):
    """alice's side of the API: (method, path, body) -> response."""

    def call(method: str, path: str, data=None):
        return alpha_api.call(method, path, data, alice_token)

    return call


FULL_SPECIMEN = {
    "code": "AB-1",
    "count": 7,
    "big": 2**40,
    "label": "every field",
    "active": False,
    "born_on": "2001-02-03",
    "seen_at": "2026-01-02T03:04:05Z",
    "price": "12.50",
    "ratio": -0.25,
    "attributes": {"nested": [1, "two", None, {"x": True}]},
    "contact": "someone@example.com",
    "homepage": "https://example.com/page",
    "size": "m",
}


NULLABLE_SPECIMEN_FIELDS = [name for name in FULL_SPECIMEN if name not in ("code", "count", "active")]


@pytest.fixture
def project_and_tasks(alice_api):
    project = data_of(
        alice_api(
            "post",
            "projects",
            {"name": "Work", "description": "d", "color": "#123abc", "position": 2, "archived": True},
        ),
        201,
    )
    status = data_of(alice_api("post", "statuses", {"name": "Doing", "is_done": False}), 201)
    full = {
        "project_id": project["id"],
        "status_id": status["id"],
        "title": "every field",
        "description": "text",
        "priority": "high",
        "due_date": "2026-03-04",
        "estimate_hours": "2.50",
        "done": True,
        "position": 3,
        "meta": {"labels": ["a", "b"], "n": 1.5},
    }
    sparse = {
        "project_id": project["id"],
        "status_id": None,
        "title": "nulls",
        "description": None,
        "due_date": None,
        "estimate_hours": None,
        "meta": None,
    }
    return project, full, sparse


def test_projects_list_show_create_update_and_delete_conform(openapi, alice_api, project_and_tasks):
    project, _, _ = project_and_tasks
    created = alice_api("post", "projects", {"name": "Bare"})
    assert_conforms(openapi, "/projects", "post", created)
    assert_conforms(openapi, "/projects", "get", alice_api("get", "projects"))
    assert_conforms(openapi, "/projects", "get", alice_api("get", "projects?include=tasks&sort=-name"))
    assert_conforms(openapi, "/projects", "get", alice_api("get", "projects?cursor="))
    assert_conforms(openapi, "/projects/{id}", "get", alice_api("get", f"projects/{project['id']}"))
    assert_conforms(
        openapi, "/projects/{id}", "patch", alice_api("patch", f"projects/{project['id']}", {"position": 5})
    )
    assert_conforms(
        openapi, "/projects/{id}", "put", alice_api("put", f"projects/{project['id']}", {"name": "Renamed"})
    )
    bare = created.json()["data"]["id"]
    assert_conforms(openapi, "/projects/{id}", "delete", alice_api("delete", f"projects/{bare}"))


def test_tasks_with_every_field_set_conform(openapi, alice_api, project_and_tasks):
    _, full, _ = project_and_tasks

    created = alice_api("post", "tasks", full)
    assert_conforms(openapi, "/tasks", "post", created)
    task = created.json()["data"]
    assert (task["estimate_hours"], task["due_date"], task["meta"]) == ("2.50", "2026-03-04", full["meta"])
    assert_conforms(openapi, "/tasks", "get", alice_api("get", "tasks"))
    assert_conforms(
        openapi, "/tasks", "get", alice_api("get", "tasks?include=project,status,tags&filter=open")
    )
    assert_conforms(openapi, "/tasks/{id}", "get", alice_api("get", f"tasks/{task['id']}"))
    assert_conforms(openapi, "/tasks/{id}", "get", alice_api("get", f"tasks/{task['id']}?include=project"))


def test_tasks_with_null_values_conform(openapi, alice_api, project_and_tasks):
    _, _, sparse = project_and_tasks

    created = alice_api("post", "tasks", sparse)
    assert_conforms(openapi, "/tasks", "post", created)
    task = created.json()["data"]
    assert (task["status_id"], task["estimate_hours"], task["meta"]) == (None, None, None)
    assert_conforms(openapi, "/tasks", "get", alice_api("get", "tasks"))
    assert_conforms(openapi, "/tasks/{id}", "get", alice_api("get", f"tasks/{task['id']}"))


def test_specimens_with_every_field_set_conform(openapi, alice_api):
    created = alice_api("post", "specimens", FULL_SPECIMEN)
    assert_conforms(openapi, "/specimens", "post", created)
    specimen = created.json()["data"]
    assert (specimen["big"], specimen["price"], specimen["seen_at"]) == (
        2**40,
        "12.50",
        "2026-01-02T03:04:05Z",
    )
    assert_conforms(openapi, "/specimens", "get", alice_api("get", "specimens"))
    assert_conforms(openapi, "/specimens/{id}", "get", alice_api("get", f"specimens/{specimen['id']}"))


def test_specimens_with_null_values_conform(openapi, alice_api):
    created = alice_api("post", "specimens", {"code": "AB-2"})
    assert_conforms(openapi, "/specimens", "post", created)
    specimen = created.json()["data"]
    assert all(specimen[name] is None for name in NULLABLE_SPECIMEN_FIELDS), specimen
    assert_conforms(openapi, "/specimens", "get", alice_api("get", "specimens"))
    assert_conforms(openapi, "/specimens/{id}", "get", alice_api("get", f"specimens/{specimen['id']}"))


def test_a_list_with_a_sparse_fieldset_conforms(openapi, alice_api, project_and_tasks):
    _, full, _ = project_and_tasks
    data_of(alice_api("post", "tasks", full), 201)

    response = alice_api("get", "tasks?fields=id,title")

    assert data_of(response)[0].keys() == {"id", "title"}
    assert_conforms(openapi, "/tasks", "get", response)


def test_error_responses_conform(openapi, alice_api, alpha_api):
    assert_conforms(openapi, "/tasks/{id}", "get", alice_api("get", "tasks/987654"))
    assert_conforms(openapi, "/tasks", "post", alice_api("post", "tasks", {"title": ""}))
    assert_conforms(openapi, "/tasks", "get", alice_api("get", "tasks?sort=nope"))
    assert_conforms(openapi, "/tasks", "get", alpha_api.get("tasks"))
    data_of(alice_api("post", "projects", {"name": "Twice"}), 201)
    assert_conforms(openapi, "/projects", "post", alice_api("post", "projects", {"name": "Twice"}))


def test_auth_responses_conform(openapi, alpha_api, alice, alice_token):
    registered = alpha_api.register("new@example.com", name="New")
    assert_conforms(openapi, "/auth/register", "post", registered)
    assert_conforms(openapi, "/auth/login", "post", alpha_api.login("alice@example.com"))
    assert_conforms(openapi, "/auth/login", "post", alpha_api.login("alice@example.com", "wrong password"))
    refresh = registered.json()["data"]["refresh_token"]
    assert_conforms(
        openapi, "/auth/refresh", "post", alpha_api.post("auth/refresh", {"refresh_token": refresh})
    )
    assert_conforms(openapi, "/auth/me", "get", alpha_api.get("auth/me", token=alice_token))
    assert_conforms(openapi, "/auth/logout", "post", alpha_api.post("auth/logout", token=alice_token))
    assert_conforms(openapi, "/auth/me", "get", alpha_api.get("auth/me", token=alice_token))
