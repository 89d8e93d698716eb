"""The resource engine over HTTP, on tenant alpha's schema (the Prokov tables and `specimens`).

alice and bob are users of alpha, charlie of beta. Rows are written through the API
when the behaviour under test is the write, and with the ORM when they are only the
setting of a read test (faster, and independent of the write path).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.db import transaction
from django.utils import timezone

from crud import events
from crud.events import DomainEvent
from crud.params import encode_cursor
from crud.runtime import bound_resource
from tenants.logs import log_path
from tests.conftest import create_user

from ..conftest import data_of, error_of

pytestmark = pytest.mark.django_db(databases="__all__")

MISSING_ID = 987654


# --- helpers ----------------------------------------------------------------------------


def with_query(path: str, params) -> str:
    return f"{path}?{urlencode(params)}"


def seed(tenant, table: str, **values) -> int:
    """A row written with the ORM, bypassing the API; returns its id."""
    return bound_resource(tenant, table).model.objects.create(**values).pk


def row_exists(tenant, table: str, pk: int) -> bool:
    return bound_resource(tenant, table).model.objects.filter(pk=pk).exists()


@dataclass
class Caller:
    """One user's side of the API: every request carries their token."""

    api: object
    token: str
    user: object

    def get(self, path: str, params=None):
        return self.api.get(with_query(path, params) if params else path, token=self.token)

    def post(self, path: str, data):
        return self.api.call("post", path, data, self.token)

    def put(self, path: str, data):
        return self.api.call("put", path, data, self.token)

    def patch(self, path: str, data):
        return self.api.call("patch", path, data, self.token)

    def delete(self, path: str):
        return self.api.call("delete", path, None, self.token)

    def create(self, resource: str, **fields) -> dict:
        return data_of(self.post(resource, fields), 201)

    def rows(self, resource: str, params=None) -> list[dict]:
        return data_of(self.get(resource, params))


@pytest.fixture
def as_alice(alpha_api, alice) -> Caller:
    return Caller(alpha_api, alpha_api.token_for(alice.email), alice)


@pytest.fixture
def as_bob(alpha_api, bob) -> Caller:
    return Caller(alpha_api, alpha_api.token_for(bob.email), bob)


@pytest.fixture
def as_admin(alpha, alpha_api) -> Caller:
    admin = create_user(alpha, "root@example.com", name="Root", role="admin")
    return Caller(alpha_api, alpha_api.token_for(admin.email), admin)


def today_utc() -> date:
    return datetime.now(UTC).date()


def event_entries(name: str) -> list[dict]:
    path = log_path("alpha", "event", today_utc())
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [entry for entry in entries if entry["event"] == name]


# --- routes ---------------------------------------------------------------------------------


def test_a_resource_answers_on_its_collection_and_item_routes(as_alice):
    created = as_alice.create("projects", name="Inbox")
    path = f"projects/{created['id']}"

    assert [row["id"] for row in as_alice.rows("projects")] == [created["id"]]
    assert data_of(as_alice.get(path))["name"] == "Inbox"
    assert data_of(as_alice.put(path, {"name": "Home"}))["name"] == "Home"
    assert data_of(as_alice.patch(path, {"position": 3}))["position"] == 3
    assert data_of(as_alice.delete(path)) == {"affected_rows": 1}
    error_of(as_alice.get(path), 404, "NOT_FOUND")


@pytest.mark.parametrize("method", ["put", "patch"])
def test_an_operation_the_resource_does_not_list_is_405(alpha, as_alice, method):
    task = as_alice.create("tasks", project_id=as_alice.create("projects", name="P")["id"], title="T")
    tag = as_alice.create("tags", name="red")
    link = as_alice.create("task_tags", task_id=task["id"], tag_id=tag["id"])

    response = getattr(as_alice, method)(f"task_tags/{link['id']}", {"tag_id": tag["id"]})

    error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert response.has_header("Allow")
    assert row_exists(alpha, "task_tags", link["id"])


def test_the_allow_header_of_a_405_names_only_the_operations_the_resource_lists(as_alice):
    response = as_alice.put("task_tags/1", {"tag_id": 1})

    error_of(response, 405, "METHOD_NOT_ALLOWED")
    allowed = {method.strip() for method in response["Allow"].split(",")}
    assert {"GET", "DELETE"} <= allowed
    assert not allowed & {"PUT", "PATCH", "POST"}, response["Allow"]


def test_an_unknown_resource_is_404(as_alice):
    error_of(as_alice.get("nothing_here"), 404, "NOT_FOUND")
    error_of(as_alice.get("nothing_here/1"), 404, "NOT_FOUND")
    error_of(as_alice.post("nothing_here", {"name": "x"}), 404, "NOT_FOUND")


@pytest.mark.parametrize("raw_id", ["abc", "1.5", "-1", "1e3", "0x1", "1%20", "%201"])
def test_a_non_numeric_id_is_404(as_alice, raw_id):
    as_alice.create("projects", name="Inbox")

    error_of(as_alice.get(f"projects/{raw_id}"), 404, "NOT_FOUND")
    error_of(as_alice.patch(f"projects/{raw_id}", {"name": "x"}), 404, "NOT_FOUND")
    error_of(as_alice.delete(f"projects/{raw_id}"), 404, "NOT_FOUND")


@pytest.mark.parametrize("zero", ["\u0660", "\u0966", "\uff10"])  # Arabic-Indic, Devanagari, full-width
def test_an_id_written_in_other_digits_than_0_to_9_is_404(as_alice, zero):
    project = as_alice.create("projects", name="Inbox")
    raw_id = "".join(chr(ord(zero) + int(digit)) for digit in str(project["id"]))

    error_of(as_alice.get(f"projects/{raw_id}"), 404, "NOT_FOUND")
    error_of(as_alice.delete(f"projects/{raw_id}"), 404, "NOT_FOUND")
    assert len(as_alice.rows("projects")) == 1


@pytest.mark.parametrize("raw_id", ["\u00b2", "1\u00b9", "\u2460"])  # isdigit() but not int()
def test_an_id_of_superscript_or_circled_digits_is_404_not_a_server_error(as_alice, raw_id):
    as_alice.create("projects", name="Inbox")

    error_of(as_alice.get(f"projects/{raw_id}"), 404, "NOT_FOUND")
    error_of(as_alice.patch(f"projects/{raw_id}", {"name": "x"}), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "projects"),
        ("post", "projects"),
        ("get", "projects/1"),
        ("put", "projects/1"),
        ("patch", "projects/1"),
        ("delete", "projects/1"),
        ("get", "nothing_here"),
    ],
)
def test_every_resource_route_needs_a_token(alpha, alpha_api, alice, method, path):
    pk = seed(alpha, "projects", user_id=alice.id, name="Inbox")

    response = alpha_api.call(method, path.replace("/1", f"/{pk}"), {"name": "Stolen"})

    error_of(response, 401, "UNAUTHORIZED")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert bound_resource(alpha, "projects").model.objects.get(pk=pk).name == "Inbox"


# --- create -------------------------------------------------------------------------------


def test_create_answers_201_with_the_record_and_its_insert_id(alpha, as_alice):
    response = as_alice.post("projects", {"name": "Inbox", "description": "Everything new"})

    data = data_of(response, 201)
    assert response.json()["message"] == "Created"
    assert data["insert_id"] == data["id"]
    assert data["name"] == "Inbox"
    assert data["description"] == "Everything new"
    assert {"created_at", "updated_at"} <= set(data)
    stored = bound_resource(alpha, "projects").model.objects.get(pk=data["id"])
    assert stored.name == "Inbox"


def test_create_applies_the_declared_defaults(as_alice):
    data = as_alice.create("projects", name="Inbox")

    assert data["color"] == "#4f46e5"
    assert data["position"] == 0
    assert data["archived"] is False
    assert data["description"] is None


def test_the_owner_column_is_set_from_the_token(as_alice, as_bob):
    mine = as_alice.create("projects", name="Inbox")
    his = as_bob.create("projects", name="Inbox")

    assert mine["user_id"] == as_alice.user.id
    assert his["user_id"] == as_bob.user.id


@pytest.mark.parametrize(
    ("name", "value"), [("user_id", None), ("id", 4242), ("created_at", "2020-01-01T00:00:00Z")]
)
def test_a_client_cannot_write_the_owner_the_primary_key_or_a_timestamp(alpha, as_alice, as_bob, name, value):
    value = as_bob.user.id if value is None else value

    error = error_of(as_alice.post("projects", {"name": "Inbox", name: value}), 400, "VALIDATION_ERROR")

    assert error["details"] == {name: ["read-only field"]}
    assert not bound_resource(alpha, "projects").model.objects.exists()


def test_a_client_cannot_change_the_owner_of_an_existing_row(alpha, as_alice, as_bob):
    project = as_alice.create("projects", name="Inbox")

    error = error_of(
        as_alice.patch(f"projects/{project['id']}", {"user_id": as_bob.user.id}), 400, "VALIDATION_ERROR"
    )

    assert error["details"] == {"user_id": ["read-only field"]}
    assert bound_resource(alpha, "projects").model.objects.get(pk=project["id"]).user_id == as_alice.user.id


def test_an_unknown_field_is_refused(alpha, as_alice):
    error = error_of(
        as_alice.post("projects", {"name": "Inbox", "colour": "#000000"}), 400, "VALIDATION_ERROR"
    )

    assert error["details"] == {"colour": ["unknown field"]}
    assert not bound_resource(alpha, "projects").model.objects.exists()


def test_every_error_of_a_request_is_reported_together(as_alice):
    body = {"color": "red", "position": -1, "archived": "perhaps", "user_id": 1, "owner": "me"}

    error = error_of(as_alice.post("projects", body), 400, "VALIDATION_ERROR")

    assert set(error["details"]) == {"name", "color", "position", "archived", "user_id", "owner"}
    assert error["details"]["user_id"] == ["read-only field"]
    assert error["details"]["owner"] == ["unknown field"]


def test_a_body_that_is_not_an_object_is_refused(as_alice):
    error = error_of(as_alice.post("projects", [{"name": "Inbox"}]), 400, "VALIDATION_ERROR")

    assert error["details"]


# --- validation, one field type at a time (specimens) --------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("count", -1),
        ("count", 1001),
        ("count", "ten"),
        ("count", 1.5),
        ("big", 2**63),
        ("big", -(2**63) - 1),
        ("code", "AB-1234567890"),  # matches the pattern, 13 characters: one too many
        ("code", "ab-1"),
        ("code", "AB1"),
        ("code", ""),
        ("code", None),
        ("active", "perhaps"),
        ("born_on", "2024-02-30"),
        ("born_on", "yesterday"),
        ("seen_at", "not a time"),
        ("price", "abc"),
        ("price", "-1.00"),
        ("price", "1.234"),
        ("price", "1234567.00"),  # 9 digits, max_digits is 8
        ("ratio", 1.5),
        ("ratio", -1.01),
        ("ratio", "abc"),
        ("contact", "not-an-email"),
        ("homepage", "not a url"),
        ("size", "xl"),
    ],
)
def test_a_value_of_the_wrong_type_or_out_of_bounds_is_refused(alpha, as_alice, name, value):
    body = {"code": "AB-1", name: value}

    error = error_of(as_alice.post("specimens", body), 400, "VALIDATION_ERROR")

    assert list(error["details"]) == [name]
    assert not bound_resource(alpha, "specimens").model.objects.exists()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("count", 0, 0),
        ("count", 1000, 1000),
        ("big", 2**63 - 1, 2**63 - 1),
        ("big", -(2**63), -(2**63)),
        ("label", "x" * 5000, "x" * 5000),
        ("active", False, False),
        ("born_on", "2024-02-29", "2024-02-29"),
        ("price", "1.50", "1.50"),
        ("price", 2.5, "2.50"),
        ("price", "999999.99", "999999.99"),
        ("ratio", -1, -1.0),
        ("ratio", 0.25, 0.25),
        ("attributes", {"tags": ["a", "b"], "nested": {"n": 1, "none": None}}, None),
        ("attributes", [1, "two", 3.5], None),
        ("contact", "x@example.com", "x@example.com"),
        ("homepage", "https://example.com/a?b=c", "https://example.com/a?b=c"),
        ("size", "m", "m"),
    ],
)
def test_a_valid_value_is_stored_and_read_back(as_alice, name, value, expected):
    expected = value if expected is None else expected

    created = as_alice.create("specimens", code="AB-1", **{name: value})

    assert created[name] == expected
    assert data_of(as_alice.get(f"specimens/{created['id']}"))[name] == expected


def test_a_datetime_is_read_back_in_utc(as_alice):
    created = as_alice.create("specimens", code="AB-1", seen_at="2024-05-01T12:30:00+02:00")

    assert created["seen_at"].startswith("2024-05-01T10:30:00")
    assert created["seen_at"].endswith("Z")


def test_a_required_field_must_be_given(alpha, as_alice):
    error = error_of(as_alice.post("specimens", {"count": 1}), 400, "VALIDATION_ERROR")

    assert list(error["details"]) == ["code"]
    assert not bound_resource(alpha, "specimens").model.objects.exists()


def test_a_taken_unique_value_is_a_conflict(alpha, as_alice, as_bob):
    as_alice.create("specimens", code="AB-1")

    error_of(as_bob.post("specimens", {"code": "AB-1"}), 409, "CONFLICT")
    error_of(as_alice.post("specimens", {"code": "AB-1"}), 409, "CONFLICT")
    as_alice.create("specimens", code="AB-2")
    assert bound_resource(alpha, "specimens").model.objects.count() == 2


def test_changing_a_row_to_a_taken_unique_value_is_a_conflict(alpha, as_alice):
    as_alice.create("projects", name="Inbox")
    other = as_alice.create("projects", name="Home")

    error_of(as_alice.patch(f"projects/{other['id']}", {"name": "Inbox"}), 409, "CONFLICT")

    assert bound_resource(alpha, "projects").model.objects.get(pk=other["id"]).name == "Home"


def test_a_unique_group_with_the_owner_lets_two_users_use_the_same_name(as_alice, as_bob):
    as_alice.create("projects", name="Inbox")

    as_bob.create("projects", name="Inbox")
    error_of(as_alice.post("projects", {"name": "Inbox"}), 409, "CONFLICT")


def test_a_hidden_field_never_appears_in_a_response(alpha, as_alice):
    pk = seed(alpha, "specimens", code="AB-1", secret_note="the combination is 1234")

    responses = [
        as_alice.get("specimens"),
        as_alice.get(f"specimens/{pk}"),
        as_alice.patch(f"specimens/{pk}", {"count": 2}),
        as_alice.put(f"specimens/{pk}", {"code": "AB-1"}),
        as_alice.post("specimens", {"code": "AB-2"}),
    ]

    for response in responses:
        assert response.status_code in (200, 201), response.content
        assert b"secret_note" not in response.content
        assert b"combination" not in response.content


def test_a_hidden_field_cannot_be_written(alpha, as_alice):
    pk = seed(alpha, "specimens", code="AB-1", secret_note="original")

    created = as_alice.post("specimens", {"code": "AB-2", "secret_note": "mine"})
    patched = as_alice.patch(f"specimens/{pk}", {"secret_note": "changed"})

    assert error_of(created, 400, "VALIDATION_ERROR")["details"] == {"secret_note": ["unknown field"]}
    assert error_of(patched, 400, "VALIDATION_ERROR")["details"] == {"secret_note": ["unknown field"]}
    assert bound_resource(alpha, "specimens").model.objects.get(pk=pk).secret_note == "original"


def test_a_readonly_field_is_shown_but_cannot_be_written(alpha, as_alice):
    pk = seed(alpha, "specimens", code="AB-1", stamp="set by the operator")

    created = as_alice.post("specimens", {"code": "AB-2", "stamp": "mine"})
    patched = as_alice.patch(f"specimens/{pk}", {"stamp": "changed"})

    assert error_of(created, 400, "VALIDATION_ERROR")["details"] == {"stamp": ["read-only field"]}
    assert error_of(patched, 400, "VALIDATION_ERROR")["details"] == {"stamp": ["read-only field"]}
    assert data_of(as_alice.get(f"specimens/{pk}"))["stamp"] == "set by the operator"


def test_put_requires_every_required_field_and_patch_does_not(alpha, as_alice):
    pk = as_alice.create("specimens", code="AB-1")["id"]

    error = error_of(as_alice.put(f"specimens/{pk}", {"count": 3}), 400, "VALIDATION_ERROR")
    assert list(error["details"]) == ["code"]
    assert bound_resource(alpha, "specimens").model.objects.get(pk=pk).count == 0

    patched = data_of(as_alice.patch(f"specimens/{pk}", {"count": 3}))
    assert (patched["code"], patched["count"]) == ("AB-1", 3)


def test_patch_validates_the_fields_it_is_given(alpha, as_alice):
    pk = as_alice.create("specimens", code="AB-1")["id"]

    error = error_of(
        as_alice.patch(f"specimens/{pk}", {"count": 5000, "size": "xxl"}), 400, "VALIDATION_ERROR"
    )

    assert set(error["details"]) == {"count", "size"}
    assert bound_resource(alpha, "specimens").model.objects.get(pk=pk).count == 0


# --- isolation ------------------------------------------------------------------------------


def test_a_user_does_not_see_another_users_projects(as_alice, as_bob):
    as_alice.create("projects", name="Alice's")
    as_bob.create("projects", name="Bob's")

    bobs_view = as_bob.get("projects").json()

    assert [row["name"] for row in bobs_view["data"]] == ["Bob's"]
    assert bobs_view["meta"]["total"] == 1
    assert [row["name"] for row in as_alice.rows("projects")] == ["Alice's"]


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_another_users_row_answers_exactly_like_a_missing_one(alpha, as_alice, as_bob, method):
    project = as_alice.create("projects", name="Alice's", position=1)

    def attempt(pk):
        path = f"projects/{pk}"
        if method in ("get", "delete"):
            return getattr(as_bob, method)(path)
        return getattr(as_bob, method)(path, {"name": "Taken over", "position": 9})

    foreign = error_of(attempt(project["id"]), 404, "NOT_FOUND")
    missing = error_of(attempt(MISSING_ID), 404, "NOT_FOUND")

    assert set(foreign) == set(missing)
    assert foreign["details"] == missing["details"]
    assert foreign["message"].replace(str(project["id"]), "<id>") == missing["message"].replace(
        str(MISSING_ID), "<id>"
    )
    stored = bound_resource(alpha, "projects").model.objects.get(pk=project["id"])
    assert (stored.name, stored.position) == ("Alice's", 1)


def test_a_token_of_one_tenant_is_refused_by_another(alpha_api, beta_api, as_alice, charlie):
    charlie_token = beta_api.token_for(charlie.email)

    error_of(beta_api.get("projects", token=as_alice.token), 401, "UNAUTHORIZED")
    error_of(alpha_api.get("projects", token=charlie_token), 401, "UNAUTHORIZED")


def test_an_admin_sees_every_users_rows(as_alice, as_bob, as_admin):
    alices = as_alice.create("projects", name="Alice's")
    bobs = as_bob.create("projects", name="Bob's")

    rows = as_admin.rows("projects")

    assert {row["id"] for row in rows} == {alices["id"], bobs["id"]}
    assert data_of(as_admin.get(f"projects/{bobs['id']}"))["name"] == "Bob's"


def test_an_admin_changing_a_users_row_keeps_its_owner(as_alice, as_admin):
    project = as_alice.create("projects", name="Alice's")

    updated = data_of(as_admin.patch(f"projects/{project['id']}", {"name": "Renamed"}))

    assert updated["user_id"] == as_alice.user.id
    assert data_of(as_alice.get(f"projects/{project['id']}"))["name"] == "Renamed"


def test_a_task_cannot_be_created_in_another_users_project(alpha, as_alice, as_bob):
    alices = as_alice.create("projects", name="Alice's")

    error = error_of(
        as_bob.post("tasks", {"project_id": alices["id"], "title": "Sneak"}), 400, "VALIDATION_ERROR"
    )

    assert list(error["details"]) == ["project_id"]
    assert not bound_resource(alpha, "tasks").model.objects.exists()


def test_a_task_cannot_be_moved_into_another_users_project(alpha, as_alice, as_bob):
    alices = as_alice.create("projects", name="Alice's")
    bobs = as_bob.create("projects", name="Bob's")
    task = as_bob.create("tasks", project_id=bobs["id"], title="Mine")

    for method in ("patch", "put"):
        response = getattr(as_bob, method)(
            f"tasks/{task['id']}", {"project_id": alices["id"], "title": "Mine"}
        )
        error = error_of(response, 400, "VALIDATION_ERROR")
        assert list(error["details"]) == ["project_id"]
    assert bound_resource(alpha, "tasks").model.objects.get(pk=task["id"]).project_id == bobs["id"]


def test_a_task_cannot_use_another_users_status(as_alice, as_bob):
    status = as_alice.create("statuses", name="Doing")
    bobs = as_bob.create("projects", name="Bob's")

    body = {"project_id": bobs["id"], "title": "T", "status_id": status["id"]}
    error = error_of(as_bob.post("tasks", body), 400, "VALIDATION_ERROR")

    assert list(error["details"]) == ["status_id"]


def test_a_link_cannot_point_at_another_users_tag(alpha, as_alice, as_bob):
    alices_tag = as_alice.create("tags", name="urgent")
    bobs = as_bob.create("projects", name="Bob's")
    bobs_task = as_bob.create("tasks", project_id=bobs["id"], title="T")

    response = as_bob.post("task_tags", {"task_id": bobs_task["id"], "tag_id": alices_tag["id"]})

    error = error_of(response, 400, "VALIDATION_ERROR")
    assert list(error["details"]) == ["tag_id"]
    assert not bound_resource(alpha, "task_tags").model.objects.exists()


def test_a_foreign_key_to_a_missing_row_is_refused(alpha, as_alice):
    error = error_of(
        as_alice.post("tasks", {"project_id": MISSING_ID, "title": "T"}), 400, "VALIDATION_ERROR"
    )

    assert list(error["details"]) == ["project_id"]
    assert not bound_resource(alpha, "tasks").model.objects.exists()


def test_a_foreign_key_must_be_a_positive_integer(as_alice):
    for value in (0, -3, "one"):
        error = error_of(as_alice.post("tasks", {"project_id": value, "title": "T"}), 400, "VALIDATION_ERROR")
        assert list(error["details"]) == ["project_id"]


# --- update and delete ------------------------------------------------------------------------


def test_put_answers_the_updated_record(as_alice):
    project = as_alice.create("projects", name="Inbox", description="old", position=2)

    response = as_alice.put(f"projects/{project['id']}", {"name": "Home", "description": "new"})

    data = data_of(response)
    assert response.json()["message"] == "Updated"
    assert (data["id"], data["name"], data["description"]) == (project["id"], "Home", "new")
    assert data_of(as_alice.get(f"projects/{project['id']}")) == data


def test_patch_changes_only_the_given_fields(as_alice):
    project = as_alice.create("projects", name="Inbox", description="keep me", position=2, color="#000000")

    data = data_of(as_alice.patch(f"projects/{project['id']}", {"position": 5}))

    assert data["position"] == 5
    for name in ("name", "description", "color", "archived", "user_id", "created_at"):
        assert data[name] == project[name], name


def test_an_update_moves_updated_at_and_keeps_created_at(as_alice):
    project = as_alice.create("projects", name="Inbox")
    time.sleep(0.02)

    data = data_of(as_alice.patch(f"projects/{project['id']}", {"name": "Home"}))

    assert data["created_at"] == project["created_at"]
    assert data["updated_at"] > project["updated_at"]


def test_delete_answers_the_affected_rows_and_removes_the_row(alpha, as_alice):
    project = as_alice.create("projects", name="Inbox")

    response = as_alice.delete(f"projects/{project['id']}")

    assert data_of(response) == {"affected_rows": 1}
    assert response.json()["message"] == "Deleted"
    assert not row_exists(alpha, "projects", project["id"])
    error_of(as_alice.delete(f"projects/{project['id']}"), 404, "NOT_FOUND")


def test_deleting_a_project_deletes_its_tasks_and_their_links(alpha, as_alice):
    doomed = as_alice.create("projects", name="Doomed")
    kept = as_alice.create("projects", name="Kept")
    task = as_alice.create("tasks", project_id=doomed["id"], title="goes")
    other = as_alice.create("tasks", project_id=kept["id"], title="stays")
    tag = as_alice.create("tags", name="red")
    as_alice.create("task_tags", task_id=task["id"], tag_id=tag["id"])

    data_of(as_alice.delete(f"projects/{doomed['id']}"))

    assert [row["id"] for row in as_alice.rows("tasks")] == [other["id"]]
    assert not row_exists(alpha, "tasks", task["id"])
    assert not bound_resource(alpha, "task_tags").model.objects.exists()
    assert row_exists(alpha, "tags", tag["id"])


def test_deleting_a_status_leaves_its_tasks_without_a_status(alpha, as_alice):
    project = as_alice.create("projects", name="P")
    status = as_alice.create("statuses", name="Doing")
    task = as_alice.create("tasks", project_id=project["id"], title="T", status_id=status["id"])

    data_of(as_alice.delete(f"statuses/{status['id']}"))

    data = data_of(as_alice.get(f"tasks/{task['id']}"))
    assert data["status_id"] is None
    assert data["title"] == "T"


# --- reads: filters ----------------------------------------------------------------------------


@pytest.fixture
def alices_tasks(alpha, alice, bob):
    """Four tasks of alice's, and one of bob's that must never show up for her."""
    project = seed(alpha, "projects", user_id=alice.id, name="Work")
    rows = [
        ("Write report", 1, "high", date(2024, 1, 10), None, False),
        ("Read book", 2, "low", None, "A long novel", True),
        ("write tests", 3, "normal", date(2024, 3, 1), "Unit tests", False),
        ("Review code", 4, "urgent", None, "PR 12", False),
    ]
    for title, position, priority, due, description, done in rows:
        seed(
            alpha,
            "tasks",
            user_id=alice.id,
            project_id=project,
            title=title,
            position=position,
            priority=priority,
            due_date=due,
            description=description,
            done=done,
        )
    bobs_project = seed(alpha, "projects", user_id=bob.id, name="Work")
    seed(
        alpha,
        "tasks",
        user_id=bob.id,
        project_id=bobs_project,
        title="Write bob",
        priority="high",
        position=1,
    )
    return project


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"filter[priority][eq]": "high"}, {"Write report"}),
        ({"filter[priority]": "low"}, {"Read book"}),
        ({"filter[priority][ne]": "high"}, {"Read book", "write tests", "Review code"}),
        ({"filter[position][lt]": "3"}, {"Write report", "Read book"}),
        ({"filter[position][lte]": "3"}, {"Write report", "Read book", "write tests"}),
        ({"filter[position][gt]": "3"}, {"Review code"}),
        ({"filter[position][gte]": "3"}, {"write tests", "Review code"}),
        ({"filter[priority][in]": "low,urgent"}, {"Read book", "Review code"}),
        ({"filter[position][in]": "1,4,99"}, {"Write report", "Review code"}),
        ({"filter[title][contains]": "te"}, {"Write report", "write tests"}),
        ({"filter[title][icontains]": "WRITE"}, {"Write report", "write tests"}),
        ({"filter[title][startswith]": "Re"}, {"Read book", "Review code"}),
        ({"filter[due_date][isnull]": "true"}, {"Read book", "Review code"}),
        ({"filter[due_date][isnull]": "false"}, {"Write report", "write tests"}),
        ({"filter[due_date][lt]": "2024-02-01"}, {"Write report"}),
        ({"filter[done][eq]": "true"}, {"Read book"}),
        ({"filter[description][ne]": "Unit tests"}, {"Write report", "Read book", "Review code"}),
        ({"filter[priority][ne]": "high", "filter[position][gt]": "2"}, {"write tests", "Review code"}),
        ({"filter[title][eq]": "Nothing like it"}, set()),
    ],
)
def test_a_field_filter_selects_the_matching_rows(as_alice, alices_tasks, params, expected):
    rows = as_alice.rows("tasks", params)

    assert {row["title"] for row in rows} == expected


def test_named_filters_select_their_rows(alpha, as_alice, alice):
    seed(alpha, "projects", user_id=alice.id, name="live", archived=False)
    seed(alpha, "projects", user_id=alice.id, name="old", archived=True)
    project = seed(alpha, "projects", user_id=alice.id, name="p")
    today = timezone.localdate()
    for title, due, done in [
        ("today open", today, False),
        ("today done", today, True),
        ("tomorrow", today + timedelta(days=1), False),
        ("undated", None, False),
    ]:
        seed(alpha, "tasks", user_id=alice.id, project_id=project, title=title, due_date=due, done=done)

    assert {row["name"] for row in as_alice.rows("projects", {"filter": "active"})} == {"live", "p"}
    titles = {row["title"] for row in as_alice.rows("tasks", {"filter": "open"})}
    assert titles == {"today open", "tomorrow", "undated"}
    assert [row["title"] for row in as_alice.rows("tasks", {"filter": "due_today"})] == ["today open"]
    both = as_alice.rows("tasks", {"filter": "open,due_today"})
    assert [row["title"] for row in both] == ["today open"]


def test_an_unknown_named_filter_is_refused(as_alice):
    error = error_of(as_alice.get("tasks", {"filter": "overdue"}), 400, "VALIDATION_ERROR")

    assert list(error["details"]) == ["filter"]


# --- reads: sort and pages ------------------------------------------------------------------------


def test_sort_orders_by_the_given_fields_descending_with_a_minus(alpha, as_alice, alice):
    for name, position in [("b", 1), ("a", 2), ("c", 2), ("d", 0)]:
        seed(alpha, "projects", user_id=alice.id, name=name, position=position)

    assert [row["name"] for row in as_alice.rows("projects", {"sort": "-position,name"})] == [
        "a",
        "c",
        "b",
        "d",
    ]
    assert [row["name"] for row in as_alice.rows("projects", {"sort": "name"})] == ["a", "b", "c", "d"]
    assert [row["name"] for row in as_alice.rows("projects")] == ["d", "b", "a", "c"]  # declared sort


@pytest.fixture
def many_projects(alpha, alice, bob):
    """25 projects of alice's (positions 0..24) and 3 of bob's."""
    model = bound_resource(alpha, "projects").model
    model.objects.bulk_create(
        [model(user_id=alice.id, name=f"p{index:02d}", position=index) for index in range(25)]
        + [model(user_id=bob.id, name=f"bob{index}", position=index) for index in range(3)]
    )


def test_a_list_is_paged_twenty_rows_at_a_time_by_default(as_alice, many_projects):
    body = as_alice.get("projects").json()

    assert [row["name"] for row in body["data"]] == [f"p{index:02d}" for index in range(20)]
    assert body["meta"] == {"page": 1, "per_page": 20, "total": 25, "pages": 2}


def test_page_and_per_page_choose_the_slice(as_alice, many_projects):
    body = as_alice.get("projects", {"page": 3, "per_page": 10}).json()
    wide = as_alice.get("projects", {"per_page": 100}).json()

    assert [row["name"] for row in body["data"]] == [f"p{index:02d}" for index in range(20, 25)]
    assert body["meta"] == {"page": 3, "per_page": 10, "total": 25, "pages": 3}
    assert len(wide["data"]) == 25
    assert wide["meta"]["pages"] == 1


def test_a_page_beyond_the_end_is_empty_with_the_right_total(as_alice, many_projects):
    body = as_alice.get("projects", {"page": 4, "per_page": 10}).json()

    assert body["data"] == []
    assert body["meta"] == {"page": 4, "per_page": 10, "total": 25, "pages": 3}


@pytest.mark.parametrize(
    ("param", "value"),
    [("per_page", "101"), ("per_page", "0"), ("page", "0"), ("page", "-1"), ("page", "two")],
)
def test_a_bad_page_parameter_is_refused_by_name(as_alice, param, value):
    error = error_of(as_alice.get("projects", {param: value}), 400, "VALIDATION_ERROR")

    assert list(error["details"]) == [param]


def follow_cursor(caller: Caller, resource: str, params: dict) -> list[list[dict]]:
    pages = []
    cursor = ""
    for _ in range(50):
        body = caller.get(resource, {**params, "cursor": cursor}).json()
        assert body["success"] is True, body
        assert set(body["meta"]) == {"per_page", "next_cursor"}
        pages.append(body["data"])
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the cursor never ended")


def test_cursor_pages_visit_every_row_once_in_sort_order(alpha, as_alice, alice, bob):
    project = seed(alpha, "projects", user_id=alice.id, name="p")
    for index in range(11):
        seed(alpha, "tasks", user_id=alice.id, project_id=project, title=f"t{index:02d}", position=index % 4)
    bobs = seed(alpha, "projects", user_id=bob.id, name="p")
    seed(alpha, "tasks", user_id=bob.id, project_id=bobs, title="bob's", position=1)

    pages = follow_cursor(as_alice, "tasks", {"per_page": 3})

    assert [len(page) for page in pages] == [3, 3, 3, 2]
    seen = [row["id"] for page in pages for row in page]
    assert len(seen) == len(set(seen)) == 11
    expected = [row["id"] for row in as_alice.rows("tasks", {"per_page": 100})]  # position, id
    assert seen == expected


def test_cursor_pages_follow_an_explicit_descending_sort(alpha, as_alice, alice):
    project = seed(alpha, "projects", user_id=alice.id, name="p")
    for index in range(7):
        seed(alpha, "tasks", user_id=alice.id, project_id=project, title=f"t{index % 3}", position=index)

    pages = follow_cursor(as_alice, "tasks", {"per_page": 2, "sort": "-title"})

    rows = [row for page in pages for row in page]
    assert len({row["id"] for row in rows}) == len(rows) == 7
    by_id = sorted(rows, key=lambda row: row["id"])
    assert rows == sorted(by_id, key=lambda row: row["title"], reverse=True)  # stable: ties by id


def test_cursor_pages_accept_a_sort_on_a_field_that_has_a_default_and_is_never_null(as_alice, many_projects):
    pages = follow_cursor(as_alice, "projects", {"per_page": 10, "sort": "-position,name"})

    names = [row["name"] for page in pages for row in page]
    assert names == [f"p{index:02d}" for index in reversed(range(25))]


def test_a_cursor_on_a_nullable_sort_field_is_refused(as_alice):
    error = error_of(as_alice.get("tasks", {"sort": "due_date", "cursor": ""}), 400, "VALIDATION_ERROR")

    assert list(error["details"]) == ["cursor"]


@pytest.mark.parametrize("cursor", ["garbage!!", "e30", "W10", "bm90IGpzb24", encode_cursor([1])])
def test_a_cursor_this_api_did_not_give_is_refused(as_alice, many_projects, cursor):
    error = error_of(as_alice.get("projects", {"cursor": cursor}), 400, "VALIDATION_ERROR")

    assert list(error["details"]) == ["cursor"]


@pytest.mark.parametrize("values", [["x", "y"], [{"a": 1}, 2], [[1], [2]], [1, "not an id"]])
def test_a_forged_cursor_of_the_right_length_is_refused_not_a_server_error(as_alice, alices_tasks, values):
    response = as_alice.get("tasks", {"cursor": encode_cursor(values)})

    error = error_of(response, 400, "VALIDATION_ERROR")
    assert list(error["details"]) == ["cursor"]


# --- reads: fields, includes, search ----------------------------------------------------------


def test_fields_selects_the_returned_fields(as_alice, alices_tasks):
    rows = as_alice.rows("tasks", {"fields": "id,title"})
    task_id = rows[0]["id"]

    assert rows
    assert all(set(row) == {"id", "title"} for row in rows)
    assert set(data_of(as_alice.get(f"tasks/{task_id}", {"fields": "title"}))) == {"title"}


def test_include_adds_the_project_and_the_linked_tags_of_each_task(as_alice):
    project = as_alice.create("projects", name="Work")
    first = as_alice.create("tasks", project_id=project["id"], title="first")
    second = as_alice.create("tasks", project_id=project["id"], title="second", position=1)
    red = as_alice.create("tags", name="red")
    blue = as_alice.create("tags", name="blue")
    as_alice.create("task_tags", task_id=first["id"], tag_id=red["id"])
    as_alice.create("task_tags", task_id=first["id"], tag_id=blue["id"])

    rows = as_alice.rows("tasks", {"include": "project,tags"})

    by_title = {row["title"]: row for row in rows}
    assert by_title["first"]["project"]["id"] == project["id"]
    assert by_title["first"]["project"]["name"] == "Work"
    assert {tag["name"] for tag in by_title["first"]["tags"]} == {"red", "blue"}
    assert by_title["second"]["tags"] == []
    shown = data_of(as_alice.get(f"tasks/{second['id']}", {"include": "project"}))
    assert shown["project"]["id"] == project["id"]


def test_include_adds_the_tasks_of_each_project(as_alice):
    work = as_alice.create("projects", name="Work")
    home = as_alice.create("projects", name="Home")
    as_alice.create("tasks", project_id=work["id"], title="a")
    as_alice.create("tasks", project_id=work["id"], title="b")

    rows = as_alice.rows("projects", {"include": "tasks"})

    by_name = {row["name"]: row for row in rows}
    assert {task["title"] for task in by_name["Work"]["tasks"]} == {"a", "b"}
    assert by_name["Home"]["tasks"] == []
    assert home["id"] in {row["id"] for row in rows}


@pytest.mark.parametrize(
    ("resource", "include"),
    [
        ("tasks", "project.tasks"),
        ("tasks", "user"),
        ("projects", "tags"),
        ("tags", "owner"),
        ("tasks", "secret"),
    ],
)
def test_including_what_cannot_be_included_is_refused(as_alice, resource, include):
    error = error_of(as_alice.get(resource, {"include": include}), 400, "VALIDATION_ERROR")

    assert list(error["details"]) == ["include"]


def test_an_admin_made_link_does_not_show_another_users_tag_to_the_task_owner(as_alice, as_bob, as_admin):
    project = as_alice.create("projects", name="Work")
    task = as_alice.create("tasks", project_id=project["id"], title="mine")
    bobs_tag = as_bob.create("tags", name="bob-only")
    as_admin.create("task_tags", task_id=task["id"], tag_id=bobs_tag["id"])

    rows = as_alice.rows("tasks", {"include": "tags"})

    assert [row["tags"] for row in rows] == [[]]
    assert b"bob-only" not in as_alice.get("tasks", {"include": "tags"}).content
    assert b"bob-only" not in as_alice.get(f"tasks/{task['id']}", {"include": "tags"}).content


def test_included_rows_follow_the_owner_rules_even_when_a_row_points_at_another_users_row(
    alpha, as_alice, alice, bob
):
    bobs_project = seed(alpha, "projects", user_id=bob.id, name="bob's project")
    bobs_tag = seed(alpha, "tags", user_id=bob.id, name="bob's tag")
    task = seed(alpha, "tasks", user_id=alice.id, project_id=bobs_project, title="crossed")
    seed(alpha, "task_tags", user_id=alice.id, task_id=task, tag_id=bobs_tag)

    rows = as_alice.rows("tasks", {"include": "project,tags"})

    assert [(row["title"], row["project"], row["tags"]) for row in rows] == [("crossed", None, [])]


def test_q_searches_the_declared_search_fields_case_insensitively(as_alice, alices_tasks):
    assert {row["title"] for row in as_alice.rows("tasks", {"q": "NOVEL"})} == {"Read book"}
    assert {row["title"] for row in as_alice.rows("tasks", {"q": "write"})} == {"Write report", "write tests"}
    assert {row["title"] for row in as_alice.rows("tasks", {"q": "tests"})} == {"write tests"}
    assert as_alice.rows("tasks", {"q": "high"}) == []  # priority is not a search field


def test_q_does_not_search_a_hidden_field(alpha, as_alice):
    seed(alpha, "specimens", code="AB-1", label="plain", secret_note="needle")

    assert as_alice.rows("specimens", {"q": "needle"}) == []
    assert [row["code"] for row in as_alice.rows("specimens", {"q": "plain"})] == ["AB-1"]


def test_q_on_a_table_without_search_fields_is_refused(as_alice):
    error = error_of(as_alice.get("statuses", {"q": "x"}), 400, "VALIDATION_ERROR")

    assert list(error["details"]) == ["q"]


def test_a_single_row_refuses_list_only_parameters(as_alice):
    project = as_alice.create("projects", name="Inbox")

    error = error_of(as_alice.get(f"projects/{project['id']}", {"sort": "name"}), 400, "VALIDATION_ERROR")

    assert list(error["details"]) == ["sort"]


# --- injection and hidden fields --------------------------------------------------------------------


def test_sql_in_a_sort_is_refused_and_the_table_still_works(as_alice):
    as_alice.create("projects", name="Inbox")

    error = error_of(as_alice.get("projects", {"sort": "name;DROP TABLE projects"}), 400, "VALIDATION_ERROR")

    assert list(error["details"]) == ["sort"]
    assert [row["name"] for row in as_alice.rows("projects")] == ["Inbox"]
    as_alice.create("projects", name="Second")


@pytest.mark.parametrize(
    "params",
    [
        {"filter[secret_note][eq]": "x"},
        {"filter[secret_note][isnull]": "false"},
        {"filter[secret_note]": "x"},
        {"sort": "secret_note"},
        {"fields": "code,secret_note"},
    ],
)
def test_a_hidden_field_cannot_be_filtered_sorted_or_selected(alpha, as_alice, params):
    seed(alpha, "specimens", code="AB-1", secret_note="needle")

    error = error_of(as_alice.get("specimens", params), 400, "VALIDATION_ERROR")

    assert list(error["details"]) == list(params)
    assert b"needle" not in as_alice.get("specimens", params).content


@pytest.mark.parametrize(
    "value", ["' OR 1=1 --", "x' OR '1'='1", '" OR ""="', "%", "_", "1); DELETE FROM tasks; --"]
)
def test_a_quoted_value_in_a_filter_matches_literally(alpha, as_alice, alices_tasks, value):
    rows = as_alice.rows("tasks", {"filter[title][eq]": value})
    contains = as_alice.rows("tasks", {"filter[title][contains]": value})

    assert rows == []
    assert contains == []
    assert bound_resource(alpha, "tasks").model.objects.count() == 5


@pytest.mark.parametrize("param", ["limit", "offset", "order", "filter[title]]", "where", "sort[]"])
def test_an_unknown_query_parameter_is_refused_by_name(as_alice, param):
    error = error_of(as_alice.get("projects", {param: "1"}), 400, "VALIDATION_ERROR")

    assert param in error["details"]


BAD_READS = [
    ("projects", {"sort": "name;DROP TABLE projects"}),
    ("projects", {"sort": "nme"}),
    ("projects", {"filter[nme][eq]": "x"}),
    ("projects", {"filter[name][like]": "x"}),
    ("projects", {"filter[position][eq]": "1 OR 1=1"}),
    ("projects", {"filter[position][contains]": "1"}),
    ("projects", {"filter[archived][gt]": "true"}),
    ("projects", {"filter[created_at][gt]": "yesterday"}),
    ("projects", {"filter[id][in]": ""}),
    ("projects", {"fields": "id,password"}),
    ("tasks", {"filter[meta][eq]": "{}"}),
    ("tasks", {"filter[due_date][eq]": "2024-13-01"}),
    ("tasks", {"include": "user"}),
    ("tasks", {"q": "x" * 201}),
    ("tasks", {"per_page": "100000000000"}),
    ("projects", {"cursor": "%%%"}),
    ("users", {}),
]


@pytest.mark.parametrize(("resource", "params"), BAD_READS)
def test_no_error_body_shows_sql_or_a_traceback(as_alice, alices_tasks, resource, params):
    response = as_alice.get(resource, params)

    assert 400 <= response.status_code < 500, response.content
    text = response.content.decode()
    for word in ("SELECT", "Traceback", "sqlite", "MySQL", 'File "'):
        assert word not in text, text


HUGE = "9999999999999999999"  # 19 digits, beyond any SQL integer column


@pytest.mark.parametrize(
    "params",
    [
        {"filter[id][eq]": HUGE},
        {"filter[position][gt]": HUGE},
        {"filter[id][in]": HUGE},
        {"filter[id][in]": f"-{HUGE}"},
        {"filter[estimate_hours][gt]": "1e999"},
        {"filter[created_at][gt]": "9999-12-31T23:00:00-05:00"},  # year 10000 in UTC
        {"filter[created_at][lt]": "0001-01-01T00:00:00+01:00"},  # year 0 in UTC
    ],
)
def test_an_extreme_value_in_a_filter_is_no_server_error(as_alice, alices_tasks, params):
    response = as_alice.get("tasks", params)

    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        assert response.json()["data"] == []
    else:
        assert list(response.json()["error"]["details"]) == list(params)


# --- login enrichment --------------------------------------------------------------------------------


def test_the_login_response_lists_only_the_users_own_projects_and_tasks(alpha, alpha_api, alice, bob):
    mine = seed(alpha, "projects", user_id=alice.id, name="mine")
    seed(alpha, "tasks", user_id=alice.id, project_id=mine, title="my task")
    his = seed(alpha, "projects", user_id=bob.id, name="his")
    seed(alpha, "tasks", user_id=bob.id, project_id=his, title="his task")

    data = data_of(alpha_api.login(alice.email))

    assert [row["name"] for row in data["projects"]] == ["mine"]
    assert [row["title"] for row in data["tasks"]] == ["my task"]
    assert {row["user_id"] for row in data["projects"] + data["tasks"]} == {alice.id}


def test_an_admins_login_lists_only_the_admins_own_rows(alpha, alpha_api, alice):
    admin = create_user(alpha, "root@example.com", name="Root", role="admin")
    seed(alpha, "projects", user_id=admin.id, name="admin's")
    seed(alpha, "projects", user_id=alice.id, name="alice's")

    data = data_of(alpha_api.login(admin.email))

    assert [row["name"] for row in data["projects"]] == ["admin's"]


# --- events ----------------------------------------------------------------------------------------------


def test_changes_through_the_api_are_written_to_the_event_log(
    alpha, as_alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(using=alpha.db_alias, execute=True):
        project = as_alice.create("projects", name="Inbox", description="d")
    with django_capture_on_commit_callbacks(using=alpha.db_alias, execute=True):
        data_of(as_alice.patch(f"projects/{project['id']}", {"name": "Home"}))
    with django_capture_on_commit_callbacks(using=alpha.db_alias, execute=True):
        data_of(as_alice.delete(f"projects/{project['id']}"))

    (created,) = event_entries("projects.create")
    (updated,) = event_entries("projects.update")
    (deleted,) = event_entries("projects.delete")
    assert created["details"]["id"] == project["id"]
    assert set(created["details"]["changed"]) == {"name", "description"}
    assert updated["details"] == {"id": project["id"], "changed": ["name"]}
    assert deleted["details"]["id"] == project["id"]
    assert {entry["user_id"] for entry in (created, updated, deleted)} == {as_alice.user.id}
    assert {entry["app"] for entry in (created, updated, deleted)} == {"alpha"}


def test_an_admins_change_is_logged_under_the_rows_owner(
    alpha, as_alice, as_admin, django_capture_on_commit_callbacks
):
    project = as_alice.create("projects", name="Inbox")

    with django_capture_on_commit_callbacks(using=alpha.db_alias, execute=True):
        data_of(as_admin.patch(f"projects/{project['id']}", {"position": 4}))
    with django_capture_on_commit_callbacks(using=alpha.db_alias, execute=True):
        data_of(as_admin.delete(f"projects/{project['id']}"))

    (updated,) = event_entries("projects.update")
    (deleted,) = event_entries("projects.delete")
    assert updated["user_id"] == deleted["user_id"] == as_alice.user.id


def test_a_refused_change_writes_no_event(alpha, as_alice, as_bob, django_capture_on_commit_callbacks):
    project = as_alice.create("projects", name="Inbox")

    with django_capture_on_commit_callbacks(using=alpha.db_alias, execute=True) as callbacks:
        error_of(as_bob.patch(f"projects/{project['id']}", {"name": "x"}), 404, "NOT_FOUND")
        error_of(as_alice.post("projects", {"name": "Inbox"}), 409, "CONFLICT")
        error_of(as_alice.post("projects", {"name": ""}), 400, "VALIDATION_ERROR")

    assert callbacks == []
    assert event_entries("projects.update") == []


@pytest.fixture
def subscribe():
    """crud.events.subscribe, undone after the test."""
    added = []

    def add(handler):
        events.subscribe(handler)
        added.append(handler)

    yield add
    for handler in added:
        while handler in events._subscribers:
            events._subscribers.remove(handler)


def an_event(action: str = "create") -> DomainEvent:
    return DomainEvent("alpha", "projects", action, 7, 1, ("name",))


def test_a_subscriber_is_called_only_after_the_commit(alpha, subscribe, django_capture_on_commit_callbacks):
    heard = []
    subscribe(heard.append)
    event = an_event()

    with django_capture_on_commit_callbacks(using=alpha.db_alias, execute=True):
        with transaction.atomic(using=alpha.db_alias):
            events.emit(event, using=alpha.db_alias)
            assert heard == []
        assert heard == []

    assert heard == [event]


def test_a_rolled_back_change_calls_no_subscriber(alpha, subscribe, django_capture_on_commit_callbacks):
    heard = []
    subscribe(heard.append)

    with (
        django_capture_on_commit_callbacks(using=alpha.db_alias, execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(using=alpha.db_alias),
    ):
        events.emit(an_event(), using=alpha.db_alias)
        raise RuntimeError("undo")

    assert callbacks == []
    assert heard == []


def test_a_failing_subscriber_does_not_stop_the_others(subscribe, caplog):
    heard = []

    def broken(event):
        raise ValueError("subscriber fault")

    subscribe(broken)
    subscribe(heard.append)

    with caplog.at_level("ERROR", logger="sogoms.events"):
        events.dispatch(an_event("delete"))

    assert [event.action for event in heard] == ["delete"]
    assert any("subscriber" in record.getMessage() for record in caplog.records)


def test_subscribing_twice_calls_a_subscriber_once(subscribe):
    heard = []
    subscribe(heard.append)
    subscribe(heard.append)

    events.dispatch(an_event())

    assert len(heard) == 1
