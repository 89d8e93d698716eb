"""`?total=false` on a list: a page without its count; anything but true/false is a 400.

The default is unchanged (`meta` has `total` and `pages`); with `total=false` the count
query is not made at all, and `meta` is `{page, per_page}`.
"""

from __future__ import annotations

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from crud.runtime import bound_resource

from ..conftest import data_of, error_of

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def token(alpha, alpha_api, alice) -> str:
    model = bound_resource(alpha, "projects").model
    for position in range(5):
        model.objects.create(user_id=alice.id, name=f"P{position}", position=position)
    return alpha_api.token_for(alice.email)


def test_the_default_list_keeps_total_and_pages(alpha_api, token):
    response = alpha_api.get("projects?per_page=2", token=token)

    assert response.json()["meta"] == {"page": 1, "per_page": 2, "total": 5, "pages": 3}
    assert len(data_of(response)) == 2


def test_total_true_is_the_default(alpha_api, token):
    assert alpha_api.get("projects?per_page=2&total=true", token=token).json()["meta"]["total"] == 5


def test_total_false_omits_the_count_and_does_not_make_it(alpha, alpha_api, token):
    with CaptureQueriesContext(connections[alpha.db_alias]) as queries:
        response = alpha_api.get("projects?per_page=2&page=3&total=false", token=token)

    assert response.json()["meta"] == {"page": 3, "per_page": 2}
    assert [row["name"] for row in data_of(response)] == ["P4"]
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_total_false_with_a_search_omits_the_count_too(alpha_api, alpha, alice):
    as_token = alpha_api.token_for(alice.email)
    model = bound_resource(alpha, "tasks").model
    project = bound_resource(alpha, "projects").model.objects.create(user_id=alice.id, name="P")
    model.objects.create(user_id=alice.id, project_id=project.pk, title="buy milk")
    resource = bound_resource(alpha, "tasks").resource
    if not resource.search_fields:
        pytest.fail("tasks of alpha declare search fields in the test config")

    response = alpha_api.get("tasks?q=milk&total=false", token=as_token)

    assert response.json()["meta"] == {"page": 1, "per_page": 20}
    assert [row["title"] for row in data_of(response)] == ["buy milk"]


@pytest.mark.parametrize("value", ["no", "False", "0", "", "true,false"])
def test_any_other_value_of_total_is_a_validation_error(alpha_api, token, value):
    error = error_of(alpha_api.get(f"projects?total={value}", token=token), 400, "VALIDATION_ERROR")

    assert list(error["details"]) == ["total"]


def test_the_openapi_of_a_list_names_total(alpha_api):
    document = alpha_api.get("_openapi").json()
    parameters = {p["name"]: p for p in document["paths"]["/projects"]["get"]["parameters"]}

    assert parameters["total"]["schema"]["enum"] == ["true", "false"]
