"""Keyset pages (`?cursor=`): every row once, in order, across ties and directions; and the
page after a cursor is an index seek, not a walk from the owner's first row.

The tasks of alice's project sort by `position, id` by default, and the schema declares
the index `[user_id, project_id, position]` (the key follows in the index), so a list
filtered on the project can seek straight to a cursor's place.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from crud.runtime import bound_resource

from ..conftest import data_of

pytestmark = pytest.mark.django_db(databases="__all__")

TIED = 60


@pytest.fixture
def token(alpha_api, alice) -> str:
    return alpha_api.token_for(alice.email)


@pytest.fixture
def project(alpha, alice, bob) -> int:
    """alice's project of TIED tasks: three positions, titles repeated, one timestamp shared
    by half of them; beside it, tasks of another project of hers and of bob's."""
    projects = bound_resource(alpha, "projects").model
    tasks = bound_resource(alpha, "tasks").model
    mine = projects.objects.create(user_id=alice.id, name="mine").pk
    other = projects.objects.create(user_id=alice.id, name="other").pk
    bobs = projects.objects.create(user_id=bob.id, name="bob's").pk
    tasks.objects.bulk_create(
        [
            tasks(user_id=alice.id, project_id=mine, title=f"t{index % 7}", position=index % 3)
            for index in range(TIED)
        ]
        + [tasks(user_id=alice.id, project_id=other, title="elsewhere", position=1) for _ in range(5)]
        + [tasks(user_id=bob.id, project_id=bobs, title="bob's", position=1) for _ in range(5)]
    )
    shared = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    half = list(tasks.objects.filter(project_id=mine).order_by("id").values_list("id", flat=True))[::2]
    tasks.objects.filter(id__in=half).update(created_at=shared)
    return mine


def follow(alpha_api, token: str, params: dict) -> list[list[dict]]:
    pages, cursor = [], ""
    for _ in range(TIED + 2):
        body = alpha_api.get(f"tasks?{urlencode({**params, 'cursor': cursor})}", token=token).json()
        assert body["success"] is True, body
        pages.append(body["data"])
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the cursor never ended")


def expected(alpha, project: int, sort: list[tuple[str, bool]]) -> list[int]:
    """alice's tasks of the project in this order, the id last and ascending (Python's sort)."""
    rows = list(bound_resource(alpha, "tasks").model.objects.filter(project_id=project).values())
    rows.sort(key=lambda row: row["id"])
    for name, desc in reversed(sort):  # stable sorts, last key first
        rows.sort(key=lambda row, name=name: row[name], reverse=desc)
    return [row["id"] for row in rows]


@pytest.mark.parametrize(
    ("sort", "keys"),
    [
        (None, [("position", False)]),  # the default order
        ("-position", [("position", True)]),  # mixed: the id stays ascending
        ("title,position", [("title", False), ("position", False)]),
        ("-title,position", [("title", True), ("position", False)]),
        ("position,-title", [("position", False), ("title", True)]),
        ("-position,-title,-id", [("position", True), ("title", True), ("id", True)]),
        ("-id", [("id", True)]),
        ("created_at", [("created_at", False)]),
        ("-created_at,-id", [("created_at", True), ("id", True)]),
    ],
)
@pytest.mark.parametrize("per_page", [7, 20])
def test_cursor_pages_visit_every_row_once_in_order(alpha, alpha_api, token, project, sort, keys, per_page):
    params = {"per_page": per_page, "filter[project_id]": project, **({"sort": sort} if sort else {})}

    pages = follow(alpha_api, token, params)

    seen = [row["id"] for page in pages for row in page]
    assert seen == expected(alpha, project, keys)
    assert all(len(page) == per_page for page in pages[:-1])
    assert 0 < len(pages[-1]) <= per_page


def test_a_last_page_that_is_full_has_no_next_cursor(alpha_api, token, project):
    pages = follow(alpha_api, token, {"per_page": TIED // 3, "filter[project_id]": project})

    assert [len(page) for page in pages] == [TIED // 3] * 3


def test_a_cursor_page_carries_the_include_keys_and_the_fields_asked(alpha_api, token, project):
    first = alpha_api.get(
        f"tasks?per_page=3&fields=title&include=project&filter[project_id]={project}&cursor=", token=token
    )
    cursor = first.json()["meta"]["next_cursor"]

    rows = data_of(
        alpha_api.get(
            f"tasks?per_page=3&fields=title&include=project&filter[project_id]={project}&cursor={cursor}",
            token=token,
        )
    )

    assert [set(row) for row in rows] == [{"title", "project"}] * 3
    assert {row["project"]["id"] for row in rows} == {project}


def seek_queries(alpha, alpha_api, token: str, project: int) -> list[str]:
    """The SQL that finds the 15 rows after the 30th: 10 of the cursor's position, then 5."""
    middle = alpha_api.get(f"tasks?per_page={TIED // 2}&filter[project_id]={project}&cursor=", token=token)
    cursor = middle.json()["meta"]["next_cursor"]
    assert json.loads(base64.urlsafe_b64decode(cursor + "==="))[0] == 1
    with CaptureQueriesContext(connections[alpha.db_alias]) as queries:
        response = alpha_api.get(
            f"tasks?per_page=15&filter[project_id]={project}&cursor={cursor}", token=token
        )
    assert [row["position"] for row in data_of(response)] == [1] * 10 + [2] * 5
    return [q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"] and "tasks" in q["sql"]]


def test_the_page_after_a_cursor_seeks_the_index_on_every_sort_key(alpha, alpha_api, token, project):
    found = seek_queries(alpha, alpha_api, token, project)
    cursor = connections[alpha.db_alias].cursor()

    if connections[alpha.db_alias].vendor == "sqlite":
        # One range per part: on the key after the cursor's position, then on the position.
        # One OR (or a row value) gave SQLite a range on the position alone: every row of the
        # cursor's position was read to find its place.
        plans = []
        for sql in found:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plans.append(" ".join(row[-1] for row in cursor.fetchall()))
        index = r"SEARCH tasks USING COVERING INDEX \S+ \(user_id=\? AND project_id=\? AND "
        assert len(plans) == 2, plans
        assert re.fullmatch(index + r"position=\? AND rowid>\?\)", plans[0]), plans
        assert re.fullmatch(index + r"position>\?\)", plans[1]), plans
    else:
        # MariaDB: one query, the parts' OR, a range into the declared index past the owner
        # and the project, from the index alone (with the rows to read too, it chose ref on
        # those two columns and read every earlier row of the project).
        assert len(found) == 1, found
        cursor.execute("EXPLAIN FORMAT=JSON " + found[0])
        table = json.loads(cursor.fetchone()[0])["query_block"]["nested_loop"][0]["table"]
        assert table["access_type"] == "range", table
        assert table.get("using_index") is True, table
        assert table["used_key_parts"] == ["user_id", "project_id", "position", "id"], table
