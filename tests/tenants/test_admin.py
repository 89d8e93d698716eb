"""The operator admin: tenant records (read-only) and each tenant's users, superusers only."""

from __future__ import annotations

import dataclasses

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from sogoms_site.tenant_admin import open_tenant
from tenants import registry as registry_module
from tenants.config import LoadResult, Registry
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


def opened(app: str, name: str, *args) -> str:
    """A URL of a tenant's admin entries, which exist once the tenant was opened there."""
    open_tenant(registry().get(app))
    return reverse(f"admin:{name}", args=args)


def alpha_users() -> str:
    return opened("alpha", "tenants_user_alpha_changelist")


def beta_users() -> str:
    return opened("beta", "tenants_user_beta_changelist")


def alice_change(alice) -> str:
    return opened("alpha", "tenants_user_alpha_change", alice.pk)


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


def test_the_index_lists_every_tenant_with_a_link_to_its_page(operator):
    page = operator.get("/admin/", HTTP_HOST=HOST).content.decode()

    for app in ("alpha", "beta", "gamma"):
        assert f'href="/admin/tenant/{app}/"' in page
        assert f'href="/admin/tenants/user_{app}/"' in page
    assert 'href="/admin/tenants/tenantrecord/"' in page  # where tenants are searched


def test_a_tenants_page_lists_its_users_and_tables(operator):
    response = operator.get("/admin/tenant/alpha/", HTTP_HOST=HOST)

    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{alpha_users()}"' in html
    assert f'href="{opened("alpha", "crud_projects_alpha_changelist")}"' in html
    assert "/admin/tenants/user_beta/" not in html


def test_an_unknown_tenants_page_is_not_found(operator):
    assert operator.get("/admin/tenant/nobody/", HTTP_HOST=HOST).status_code == 404
    assert operator.get("/admin/tenants/user_nobody/", HTTP_HOST=HOST).status_code == 404


def test_tenant_pages_are_refused_to_staff_who_are_not_superusers(staff):
    assert refused(staff.get("/admin/tenant/alpha/", HTTP_HOST=HOST))
    assert refused(staff.get("/admin/tenants/user_alpha/", HTTP_HOST=HOST))
    assert refused(staff.get("/admin/crud/projects_alpha/", HTTP_HOST=HOST))


def test_tenant_records_are_searched_by_app(operator, records):
    page = operator.get(RECORDS, {"q": "bet"}, HTTP_HOST=HOST).content.decode()

    assert "beta.test" in page
    assert "alpha.test" not in page


@pytest.fixture
def delta(alpha):
    """A tenant never opened in the admin of this process: a copy of alpha (its database too)."""
    saved = registry_module._state["result"]
    copy = dataclasses.replace(alpha, app="delta", hosts=("delta.test",))
    registry_module._state["result"] = LoadResult(Registry.of([*registry(), copy]))
    yield copy
    registry_module._state["result"] = saved


def test_a_model_page_of_a_tenant_not_opened_yet_opens_it_and_serves_the_page(operator, delta, alice):
    listing = operator.get("/admin/tenants/user_delta/", HTTP_HOST=HOST)

    assert listing.status_code == 200
    assert b"alice@example.com" in listing.content
    assert admin.site.is_registered(user_model(delta))


def test_a_form_posted_to_a_tenant_not_opened_yet_is_served(operator, delta, alice):
    form = {"name": "Alice", "role": "admin", "is_active": "on", "_save": "Save"}

    response = operator.post(f"/admin/tenants/user_delta/{alice.pk}/change/", form, HTTP_HOST=HOST)

    assert response.status_code == 302, response.content
    assert user_model(delta).objects.get(pk=alice.pk).role == "admin"


def test_a_reloaded_tenant_is_registered_again_when_opened(operator, reconfigure, alice):
    open_tenant(registry().get("alpha"))
    before = user_model(registry().get("alpha"))

    changed = reconfigure("alpha", admin_read_only=True)
    assert operator.get("/admin/tenant/alpha/", HTTP_HOST=HOST).status_code == 200

    assert not admin.site.is_registered(before) or user_model(changed) is before
    assert admin.site.get_model_admin(user_model(changed)).sogoms_tenant is changed
