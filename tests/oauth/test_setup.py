"""The OpenID provider of these tests: missing in CI is a failure, elsewhere a skip."""

from __future__ import annotations

import pytest

from tests.oauth import conftest


def test_a_missing_node_fails_when_services_are_required(monkeypatch):
    monkeypatch.setattr(conftest.shutil, "which", lambda _name: None)
    monkeypatch.setenv("SOGOMS_REQUIRE_SERVICES", "1")

    with pytest.raises(pytest.fail.Exception, match="node is not installed"):
        conftest._node_or_fail()


def test_a_missing_package_skips_otherwise(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SERVER_DIR", tmp_path)
    monkeypatch.delenv("SOGOMS_REQUIRE_SERVICES", raising=False)

    with pytest.raises(pytest.skip.Exception, match="oidc-provider is not installed"):
        conftest._node_or_fail()
