"""Tenant tables in the operator admin: listed, searched, edited through the API's validation."""

from __future__ import annotations

import dataclasses
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from crud.admin import table_admin
from crud.runtime import bound_resource
from sogoms_site.tenant_admin import open_tenant
from tenants.auth.passwords import verify_password
from tenants.usermodel import user_model

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(autouse=True)
def _alpha_open_in_the_admin(alpha):
    """A tenant's admin entries (and their URL names) exist once it is opened there."""
    open_tenant(alpha)


@pytest.fixture
def project(alpha, alice):
    bound = bound_resource(alpha, "projects")
    return bound.model.objects.create(user_id=alice.id, name="Garden", position=1)


def test_the_operator_lists_and_searches_a_tenant_table(operator, project):
    url = reverse("admin:crud_projects_alpha_changelist")
    page = operator.get(url, HTTP_HOST="ops.example")
    assert page.status_code == 200
    assert b"Garden" in page.content
    assert b"Garden" not in operator.get(url + "?q=kitchen", HTTP_HOST="ops.example").content


def test_an_admin_edit_passes_the_api_validation(operator, alpha, project, alice):
    url = reverse("admin:crud_projects_alpha_change", args=[project.pk])
    form = {
        "user": alice.id,
        "name": "Garden",
        "description": "",
        "color": "red",  # the schema's pattern wants #rrggbb
        "position": 1,
        "archived": "",
    }
    refused = operator.post(url, form, HTTP_HOST="ops.example")
    assert refused.status_code == 200  # the form again, with the error
    assert b"Enter a valid value" in refused.content
    assert bound_resource(alpha, "projects").model.objects.get(pk=project.pk).color == "#4f46e5"

    saved = operator.post(url, {**form, "color": "#112233"}, HTTP_HOST="ops.example")
    assert saved.status_code == 302
    assert bound_resource(alpha, "projects").model.objects.get(pk=project.pk).color == "#112233"


def test_hidden_fields_never_reach_the_admin_form(operator, alpha):
    page = operator.get(reverse("admin:crud_specimens_alpha_add"), HTTP_HOST="ops.example")
    assert page.status_code == 200
    assert b"secret_note" not in page.content
    assert b"code" in page.content


def test_a_read_only_tenant_can_be_looked_at_but_not_changed(alpha, rf):
    bound = bound_resource(alpha, "projects")
    locked = dataclasses.replace(alpha, admin_read_only=True)
    request = rf.get("/")
    request.user = get_user_model()(is_superuser=True, is_active=True, is_staff=True)
    model_admin = table_admin(locked, bound)(bound.model, admin_site=None)
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_delete_permission(request)
    open_admin = table_admin(alpha, bound)(bound.model, admin_site=None)
    assert open_admin.has_change_permission(request)


def test_the_password_reset_action_sets_a_new_password_and_ends_sessions(operator, alpha, alpha_api, alice):
    refresh = alpha_api.login("alice@example.com").json()["data"]["refresh_token"]
    url = reverse("admin:tenants_user_alpha_changelist")

    response = operator.post(
        url,
        {"action": "reset_password", "_selected_action": [alice.id]},
        HTTP_HOST="ops.example",
        follow=True,
    )

    assert response.status_code == 200
    shown = re.search(r"new password ([A-Za-z0-9_-]+)", response.content.decode())
    assert shown, response.content.decode()[:2000]
    stored = user_model(alpha).objects.get(pk=alice.pk).password
    assert verify_password(shown[1], stored)[0]
    assert alpha_api.post("auth/refresh", {"refresh_token": refresh}).status_code == 401
