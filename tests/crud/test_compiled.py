"""Compiled reads: the SQL of a shape is compiled once and re-bound for every request.

The cache must never carry one request's values into another: alice and bob read the
same shapes and each sees only their own rows.
"""

from __future__ import annotations

import pytest

from crud import compiled
from crud.runtime import bound_resource

from ..conftest import create_user

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(autouse=True)
def _empty_cache():
    compiled.clear()
    yield
    compiled.clear()


@pytest.fixture
def tokens(alpha_api, alice, bob):
    return {
        "alice": alpha_api.token_for("alice@example.com"),
        "bob": alpha_api.token_for("bob@example.com"),
    }


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["data"]]


def make_projects(api, token, *names_and_positions):
    for name, position in names_and_positions:
        assert api.post("projects", {"name": name, "position": position}, token=token).status_code == 201


def cache_entries(kind: str) -> list:
    return [value for key, value in compiled._cache.items() if key[0] == kind]


def test_one_shape_serves_each_caller_their_own_rows(alpha_api, tokens):
    make_projects(alpha_api, tokens["alice"], ("A1", 1), ("A2", 2))
    make_projects(alpha_api, tokens["bob"], ("B1", 1))
    path = "projects?filter[position][gte]=1&sort=name"

    assert names(alpha_api.get(path, token=tokens["alice"])) == ["A1", "A2"]
    assert names(alpha_api.get(path, token=tokens["bob"])) == ["B1"]
    assert names(alpha_api.get(path, token=tokens["alice"])) == ["A1", "A2"]
    pages = [entry for entry in cache_entries("list") if entry is not compiled.UNCACHEABLE]
    assert len(pages) == 2  # one page shape and one count shape, shared by both callers


def test_values_are_rebound_not_remembered(alpha_api, tokens):
    make_projects(alpha_api, tokens["alice"], ("Low", 1), ("High", 9))
    assert names(alpha_api.get("projects?filter[position][gt]=5", token=tokens["alice"])) == ["High"]
    assert names(alpha_api.get("projects?filter[position][gt]=0&sort=position", token=tokens["alice"])) == [
        "Low",
        "High",
    ]
    assert names(
        alpha_api.get("projects?filter[name][in]=Low,High&sort=-position", token=tokens["alice"])
    ) == [
        "High",
        "Low",
    ]
    assert names(alpha_api.get("projects?filter[name][in]=Low", token=tokens["alice"])) == ["Low"]


def test_a_search_pattern_is_not_cached_and_still_answers(alpha_api, tokens):
    make_projects(alpha_api, tokens["alice"], ("Garden", 1), ("Kitchen", 2))
    assert names(alpha_api.get("projects?q=gard", token=tokens["alice"])) == ["Garden"]
    assert names(alpha_api.get("projects?q=kitch", token=tokens["alice"])) == ["Kitchen"]
    assert cache_entries("list") == []  # searches take the ORM path


def test_show_is_compiled_once_and_isolated(alpha_api, tokens):
    make_projects(alpha_api, tokens["alice"], ("Mine", 1))
    project = alpha_api.get("projects", token=tokens["alice"]).json()["data"][0]["id"]

    assert alpha_api.get(f"projects/{project}", token=tokens["alice"]).status_code == 200
    assert alpha_api.get(f"projects/{project}", token=tokens["bob"]).status_code == 404
    assert alpha_api.get(f"projects/{project}", token=tokens["alice"]).json()["data"]["name"] == "Mine"
    assert len(cache_entries("show")) == 1


def test_an_admin_shape_is_not_shared_with_users(alpha, alpha_api, tokens):
    make_projects(alpha_api, tokens["alice"], ("A", 1))
    make_projects(alpha_api, tokens["bob"], ("B", 1))
    create_user(alpha, "root@example.com", role="admin")
    admin = alpha_api.token_for("root@example.com")

    assert names(alpha_api.get("projects?sort=name", token=tokens["bob"])) == ["B"]
    assert names(alpha_api.get("projects?sort=name", token=admin)) == ["A", "B"]
    assert names(alpha_api.get("projects?sort=name", token=tokens["bob"])) == ["B"]


def test_converters_still_turn_columns_into_python_values(alpha, alpha_api, tokens):
    make_projects(alpha_api, tokens["alice"], ("Typed", 1))
    for _ in range(2):  # first through the ORM, then through the compiled SQL
        row = alpha_api.get("projects", token=tokens["alice"]).json()["data"][0]
        assert row["archived"] is False
        assert row["created_at"].endswith("Z")
    bound = bound_resource(alpha, "projects")
    assert bound.model.objects.filter(name="Typed").exists()


def test_the_cache_is_bounded(monkeypatch, alpha_api, tokens):
    monkeypatch.setattr(compiled, "MAX_SHAPES", 3)
    for per_page in range(1, 6):
        alpha_api.get(f"projects?per_page={per_page}", token=tokens["alice"])
    assert len(compiled._cache) <= 3


def test_stored_datetimes_convert_as_djangos_own_converter_does(alpha_api, tokens):
    from datetime import UTC, datetime

    from django.db import connections

    make_projects(alpha_api, tokens["alice"], ("Timed", 1))
    first = alpha_api.get("projects", token=tokens["alice"]).json()["data"][0]  # the ORM's
    again = alpha_api.get("projects", token=tokens["alice"]).json()["data"][0]  # compiled
    assert again["created_at"] == first["created_at"]
    converted = [
        functions
        for entry in cache_entries("list")
        if entry is not compiled.UNCACHEABLE
        for functions, _ in entry.converters.values()
    ]
    assert any(compiled.utc_datetime in functions for functions in converted)

    connection = connections["default"]
    stock = connection.ops.convert_datetimefield_value
    stored: list = [None, datetime(2026, 11, 22, 8, 30, 1, 250000)]  # MariaDB's driver: naive, UTC
    if connection.vendor == "sqlite":  # SQLite: the text Django (or another writer) stored
        stored += [
            datetime(2026, 11, 22, 8, 30, 1, tzinfo=UTC),
            "2026-11-22 08:30:01",
            "2026-11-22 08:30:01.250000",
            "2026-11-22T08:30:01.25",
            "2026-11-22 08:30:01+02:00",
            "2026-11-22 08:30:01.123456789",  # fromisoformat refuses it; Django's regex reads it
        ]
    for value in stored:
        assert compiled.utc_datetime(value, None, connection) == stock(value, None, connection), value
        if value is not None:
            assert compiled.utc_datetime(value, None, connection).tzinfo is not None
