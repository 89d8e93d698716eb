"""Roles per tenant (routes: roles) and `<base>/_users`, where role admin manages users.

alice and bob are users of alpha; root is alpha's admin; charlie is a user of beta.
"""

from __future__ import annotations

import pytest

from tenants.config.loader import LoadOptions, load_config
from tenants.usermodel import user_model
from tests.conftest import create_user, data_of, error_of

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def root(alpha):
    return create_user(alpha, "root@example.com", name="Root", role="admin")


@pytest.fixture
def root_token(alpha_api, root):
    return alpha_api.token_for(root.email)


def test_only_role_admin_manages_users(alpha_api, alice):
    token = alpha_api.token_for(alice.email)
    error_of(alpha_api.get("_users", token=token), 403, "FORBIDDEN")
    error_of(alpha_api.call("patch", f"_users/{alice.id}", {"role": "admin"}, token=token), 403, "FORBIDDEN")
    error_of(alpha_api.get("_users"), 401, "UNAUTHORIZED")
    assert user_model(alpha_api.tenant).objects.get(pk=alice.id).role == "default"


def test_the_admin_lists_the_users_of_their_tenant_only(alpha_api, root_token, alice, bob, charlie):
    body = alpha_api.get("_users?per_page=2", token=root_token).json()

    assert [user["email"] for user in body["data"]] == ["root@example.com", "alice@example.com"]
    assert body["meta"] == {"page": 1, "per_page": 2, "total": 3, "pages": 2}
    assert set(body["data"][0]) >= {"id", "email", "name", "role", "is_active"}
    assert "password" not in body["data"][0]
    assert [u["email"] for u in data_of(alpha_api.get("_users?q=BOB", token=root_token))] == [
        "bob@example.com"
    ]
    assert [u["email"] for u in data_of(alpha_api.get("_users?role=admin", token=root_token))] == [
        "root@example.com"
    ]
    error_of(alpha_api.get("_users?sort=email", token=root_token), 400, "VALIDATION_ERROR")
    error_of(alpha_api.get("_users?per_page=101", token=root_token), 400, "VALIDATION_ERROR")


def test_a_role_change_holds_at_once_for_the_users_current_token(alpha_api, root_token, alice):
    alices = alpha_api.token_for(alice.email)

    changed = data_of(alpha_api.call("patch", f"_users/{alice.id}", {"role": "admin"}, token=root_token))

    assert changed["role"] == "admin"
    assert data_of(alpha_api.get("auth/me", token=alices))["user"]["role"] == "admin"
    assert alpha_api.get("_users", token=alices).status_code == 200  # her old token, her new power


def test_a_deactivation_ends_the_users_sessions_at_once(alpha_api, root_token, bob):
    bobs = alpha_api.token_for(bob.email)

    data_of(alpha_api.call("patch", f"_users/{bob.id}", {"is_active": False}, token=root_token))

    error_of(alpha_api.get("auth/me", token=bobs), 401, "UNAUTHORIZED")
    error_of(alpha_api.login(bob.email), 401, "INVALID_CREDENTIALS")
    data_of(alpha_api.call("patch", f"_users/{bob.id}", {"is_active": True}, token=root_token))
    data_of(alpha_api.login(bob.email))


def test_bad_changes_are_refused_and_change_nothing(alpha_api, root, root_token, alice):
    unknown = alpha_api.call("patch", f"_users/{alice.id}", {"role": "owner"}, token=root_token)
    assert error_of(unknown, 400, "VALIDATION_ERROR")["details"] == {"role": ["unknown role"]}
    error_of(
        alpha_api.call("patch", f"_users/{alice.id}", {"password": "x"}, token=root_token),
        400,
        "VALIDATION_ERROR",
    )
    error_of(alpha_api.call("patch", "_users/999999", {"role": "admin"}, token=root_token), 404, "NOT_FOUND")
    error_of(
        alpha_api.call("patch", f"_users/{root.id}", {"role": "default"}, token=root_token), 409, "CONFLICT"
    )
    error_of(
        alpha_api.call("patch", f"_users/{root.id}", {"is_active": False}, token=root_token), 409, "CONFLICT"
    )
    assert user_model(alpha_api.tenant).objects.get(pk=root.id).role == "admin"
    assert user_model(alpha_api.tenant).objects.get(pk=alice.id).role == "default"


def test_a_tenant_declares_its_roles_and_registration_gives_the_first(alpha_api, reconfigure, root_token):
    reconfigure("alpha", roles=("member", "editor", "admin"))

    user = data_of(alpha_api.register("dora@example.com"), 201)["user"]

    assert user["role"] == "member"
    changed = alpha_api.call("patch", f"_users/{user['id']}", {"role": "editor"}, token=root_token)
    assert data_of(changed)["role"] == "editor"
    refused = alpha_api.call("patch", f"_users/{user['id']}", {"role": "default"}, token=root_token)
    error_of(refused, 400, "VALIDATION_ERROR")
    schema = alpha_api.get("_openapi").json()["components"]["schemas"]["Role"]
    assert schema["enum"] == ["member", "editor", "admin"]


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ("[member]", None),
        ("[member, member]", "a role is named twice"),
        ("[Member]", "is not a role name"),
        ("[]", "at least 1"),
    ],
)
def test_roles_are_checked_at_load_and_admin_always_exists(tmp_path, roles, expected):
    (tmp_path / "routes").mkdir()
    (tmp_path / "secret").write_text("s" * 40)
    (tmp_path / "routes" / "club.yaml").write_text(
        f"app: club\nhosts: [club.test]\nauth: {{jwt_secret_file: secret}}\nroles: {roles}\n"
    )

    result = load_config(LoadOptions(config_dir=tmp_path, base_dir=tmp_path, var_dir=tmp_path))

    if expected is None:
        assert result.registry.get("club").roles == ("member", "admin")
    else:
        assert [problem.path for problem in result.problems] == ["roles"]
        assert expected in result.problems[0].message
