"""The operator admin: tenant records (read-only) and each tenant's users, superusers only."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from tenants.models import TenantRecord
from tenants.registry import registry
from tenants.services import tenant_records_sync
from tenants.usermodel import user_model

pytestmark = pytest.mark.django_db(databases="__all__")

HOST = "admin.example"
RECORDS = "/admin/tenants/tenantrecord/"


@pytest.fixture(autouse=True)
def _fresh_content_types():
    """Tenant user models get their content type on first admin save, inside the test's
    rolled-back transaction; Django's process-wide cache would keep the vanished id."""
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_user("staff", "staff@example.com", "staff pass 123", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def records():
    tenant_records_sync(registry=registry())


def alpha_users() -> str:
    return reverse("admin:tenants_user_alpha_changelist")


def beta_users() -> str:
    return reverse("admin:tenants_user_beta_changelist")


def alice_change(alice) -> str:
    return reverse("admin:tenants_user_alpha_change", args=[alice.pk])


def refused(response) -> bool:
    return response.status_code == 403 or (
        response.status_code == 302 and "/admin/login/" in response["Location"]
    )


@pytest.mark.parametrize("host", [HOST, "localhost:8000"])
def test_the_admin_index_opens_for_a_superuser_on_an_operator_host(operator, host):
    response = operator.get("/admin/", HTTP_HOST=host)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"alpha users" in response.content.lower()


def test_the_admin_redirects_an_anonymous_visitor_to_the_login(client):
    response = client.get("/admin/", HTTP_HOST=HOST)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_tenant_record_list_shows_every_configured_tenant(operator, records):
    response = operator.get(RECORDS, HTTP_HOST=HOST)

    assert response.status_code == 200
    assert set(TenantRecord.objects.values_list("app", flat=True)) == {"alpha", "beta", "gamma"}
    html = response.content.decode()
    assert "alpha.test" in html
    assert "beta.test" in html
    assert "/v1" in html
    assert alpha_users() in html


def test_the_tenant_record_admin_offers_no_add_change_or_delete(operator, records):
    listing = operator.get(RECORDS, HTTP_HOST=HOST).content.decode()

    assert f'href="{RECORDS}add/"' not in listing
    assert "delete_selected" not in listing
    assert operator.get(f"{RECORDS}add/", HTTP_HOST=HOST).status_code == 403
    assert operator.get(f"{RECORDS}alpha/delete/", HTTP_HOST=HOST).status_code == 403
    response = operator.post(f"{RECORDS}alpha/change/", {"base_path": "/hacked"}, HTTP_HOST=HOST)
    assert response.status_code == 403
    assert TenantRecord.objects.get(app="alpha").base_path == "/api"


def test_the_tenant_record_detail_is_viewable(operator, records):
    response = operator.get(f"{RECORDS}alpha/change/", HTTP_HOST=HOST)

    assert response.status_code == 200
    assert b"alpha.test" in response.content
    assert b'name="_save"' not in response.content


def test_the_alpha_users_list_shows_alpha_users_only(operator, alice, charlie):
    response = operator.get(alpha_users(), HTTP_HOST=HOST)

    assert response.status_code == 200
    assert b"alice@example.com" in response.content
    assert b"charlie@example.com" not in response.content


def test_the_beta_users_list_shows_beta_users_only(operator, alice, charlie):
    response = operator.get(beta_users(), HTTP_HOST=HOST)

    assert response.status_code == 200
    assert b"charlie@example.com" in response.content
    assert b"alice@example.com" not in response.content


def test_the_users_list_searches_by_email(operator, alice, bob):
    response = operator.get(alpha_users(), {"q": "alice@"}, HTTP_HOST=HOST)

    assert response.status_code == 200
    assert b"alice@example.com" in response.content
    assert b"bob@example.com" not in response.content


def test_the_user_change_form_shows_the_email_read_only(operator, alice):
    response = operator.get(alice_change(alice), HTTP_HOST=HOST)

    assert response.status_code == 200
    html = response.content.decode()
    assert "alice@example.com" in html
    assert 'name="email"' not in html
    for field in ("name", "role", "is_active"):
        assert f'name="{field}"' in html


def test_a_superuser_changes_a_users_role_in_the_tenant_database(operator, alpha, alice):
    form = {"name": "Alice", "role": "admin", "is_active": "on", "_save": "Save"}

    response = operator.post(alice_change(alice), form, HTTP_HOST=HOST)

    assert response.status_code == 302, response.content
    saved = user_model(alpha).objects.using(alpha.db_alias).get(pk=alice.pk)
    assert saved.role == "admin"
    assert saved.email == "alice@example.com"


def test_the_change_form_ignores_an_attempt_to_change_the_email(operator, alpha, alice):
    form = {"email": "mallory@example.com", "name": "Alice", "role": "default", "is_active": "on"}

    response = operator.post(alice_change(alice), form, HTTP_HOST=HOST)

    assert response.status_code == 302, response.content
    assert user_model(alpha).objects.get(pk=alice.pk).email == "alice@example.com"


def test_the_change_form_refuses_an_unknown_role(operator, alpha, alice):
    form = {"name": "Alice", "role": "root", "is_active": "on"}

    response = operator.post(alice_change(alice), form, HTTP_HOST=HOST)

    assert response.status_code == 200  # the form again, with its errors
    assert user_model(alpha).objects.get(pk=alice.pk).role == "default"


def test_a_superuser_deactivates_a_user(operator, alpha, alice):
    form = {"name": "Alice", "role": "default"}  # an unchecked box is absent

    response = operator.post(alice_change(alice), form, HTTP_HOST=HOST)

    assert response.status_code == 302, response.content
    assert user_model(alpha).objects.get(pk=alice.pk).is_active is False


def test_a_staff_user_who_is_not_superuser_is_refused_tenant_pages(staff, records, alice):
    for url in (RECORDS, f"{RECORDS}alpha/change/", alpha_users(), alice_change(alice)):
        assert refused(staff.get(url, HTTP_HOST=HOST)), url

    index = staff.get("/admin/", HTTP_HOST=HOST)
    assert b"alpha users" not in index.content.lower()


def test_a_staff_user_who_is_not_superuser_cannot_change_a_role(staff, alpha, alice):
    form = {"name": "Alice", "role": "admin", "is_active": "on"}

    response = staff.post(alice_change(alice), form, HTTP_HOST=HOST)

    assert refused(response)
    assert user_model(alpha).objects.get(pk=alice.pk).role == "default"


def test_an_inactive_superuser_is_refused(client, alice):
    user = get_user_model().objects.create_superuser("gone", "gone@example.com", "gone pass 123")
    user.is_active = False
    user.save()
    client.force_login(user)

    assert refused(client.get(alpha_users(), HTTP_HOST=HOST))
