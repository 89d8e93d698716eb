import pytest

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_registers_and_reads_me(alpha_api):
    response = alpha_api.register("new@example.com")
    assert response.status_code == 201, response.content
    token = response.json()["data"]["token"]
    me = alpha_api.get("auth/me", token=token)
    assert me.json()["data"]["user"]["email"] == "new@example.com"
