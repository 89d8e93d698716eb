"""Seed files' users: vouched for by the operator (verified, no code mailed, no session)."""

from __future__ import annotations

import pytest

from crud.seeding import seed_tenant
from tenants.models import AuthSession, EmailVerificationCode
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_seeded_user_can_sign_in_where_verification_is_required(reconfigure, alpha_api, tmp_path):
    alpha = reconfigure("alpha", verify_email="required")
    seed = tmp_path / "seed.yaml"
    seed.write_text(f"users:\n  - email: ' Sam@Example.com'\n    password: {PASSWORD}\n    name: Sam\n")

    assert seed_tenant(alpha, seed) == [" Sam@Example.com: created (default)"]
    assert not EmailVerificationCode.objects.exists()
    assert not AuthSession.objects.exists()
    login = alpha_api.post("auth/login", {"email": "sam@example.com", "password": PASSWORD})
    assert login.status_code == 200, login.json()
    assert login.json()["data"]["user"]["email_verified"] is True
