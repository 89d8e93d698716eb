"""A tenant's API routes: the resource routes are tried first (nearly every request is
one), and step aside for every route of the other apps, which resolve as before."""

from __future__ import annotations

import pytest
from django.urls import Resolver404, get_resolver

from crud import views
from crud.urls import ResourcePattern
from sogoms_site.api.urls import api_urlpatterns
from sogoms_site.urls import tenant_urlconf


@pytest.fixture
def resolve():
    return get_resolver(tenant_urlconf("/api")).resolve


def test_the_resource_routes_come_first_and_keep_their_route_text():
    first, second = api_urlpatterns()[:2]
    assert isinstance(first, ResourcePattern) and str(first.pattern) == "<str:resource>"
    assert isinstance(second, ResourcePattern) and str(second.pattern) == "<str:resource>/<str:pk>"


@pytest.mark.parametrize(
    ("path", "view", "kwargs"),
    [
        ("/api/projects", views.CollectionView, {"resource": "projects"}),
        ("/api/projects/12", views.ItemView, {"resource": "projects", "pk": "12"}),
        ("/api/authors/3", views.ItemView, {"resource": "authors", "pk": "3"}),  # not auth/
        ("/api/author", views.CollectionView, {"resource": "author"}),
    ],
)
def test_a_resource_path_resolves_to_the_resource_views(resolve, path, view, kwargs):
    match = resolve(path)
    assert match.func.view_class is view
    assert match.kwargs == kwargs


@pytest.mark.parametrize(
    "path",
    [
        "/api/auth/me",
        "/api/auth/login",
        "/api/_users",
        "/api/_users/4",
        "/api/_mail/send",
        "/api/_push/publish",
        "/api/_schema",
        "/api/_schema/projects",
        "/api/_openapi",
    ],
)
def test_the_other_apps_routes_are_not_taken_for_resources(resolve, path):
    view = resolve(path).func.view_class
    assert view not in (views.CollectionView, views.ItemView)


@pytest.mark.parametrize("path", ["/api/auth", "/api/auth/no-such-route", "/api/_nothing", "/api/_users/x/y"])
def test_an_unknown_route_under_a_reserved_name_is_no_resource(resolve, path):
    with pytest.raises(Resolver404):
        resolve(path)
