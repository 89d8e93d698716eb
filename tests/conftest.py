"""Shared fixtures: the test tenants, an API client per host, users, isolated logs.

The alice/bob/charlie pattern: alice and bob are users of tenant alpha, charlie is a
user of tenant beta (an outsider to alpha).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import jwt
import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tenants import registry as registry_module
from tenants.auth.passwords import hash_password
from tenants.config import LoadResult, Registry
from tenants.registry import registry
from tenants.usermodel import user_model

PASSWORD = "correct horse battery staple"


def pytest_sessionstart(session) -> None:
    """With SOGOMS_REQUIRE_SERVICES=1 (CI), unreachable MariaDB or Redis fails the run."""
    if os.environ.get("SOGOMS_REQUIRE_SERVICES") != "1":
        return
    missing = []
    for name in ("DATABASE_URL", "SOGOMS_TENANT_DATABASE_URL", "REDIS_URL"):
        url = os.environ.get(name, "")
        if not url:
            missing.append(f"{name} is not set")
            continue
        parts = urlsplit(url.replace("{app}", "x"))
        try:
            socket.create_connection((parts.hostname, parts.port or 3306), timeout=3).close()
        except OSError as exc:
            missing.append(f"{name}: {parts.hostname}:{parts.port} unreachable ({exc})")
    if missing:
        pytest.exit("required services are missing:\n  " + "\n  ".join(missing), returncode=3)


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    """Every test gets its own log directory and empty caches (rate-limit counters, the
    auth state a process remembers: user ids are reused from one test to the next)."""
    from tenants.auth import current

    settings.SOGOMS_LOG_DIR = tmp_path / "log"
    cache.clear()
    current.forget_all()
    yield
    cache.clear()
    current.forget_all()


@pytest.fixture
def reconfigure():
    """Swap a tenant of the running registry for a copy with other settings; restored after."""
    saved = registry_module._state["result"]

    def apply(app: str, **changes):
        tenants = [
            dataclasses.replace(tenant, **changes) if tenant.app == app else tenant
            for tenant in registry_module.registry()
        ]
        registry_module._state["result"] = LoadResult(Registry.of(tenants))
        return registry_module.registry().get(app)

    yield apply
    registry_module._state["result"] = saved


@pytest.fixture
def alpha():
    return registry().get("alpha")


@pytest.fixture
def beta():
    return registry().get("beta")


@dataclass
class TenantApi:
    """A DRF test client bound to one tenant's host and base path."""

    tenant: object
    client: APIClient
    host: str

    def url(self, path: str) -> str:
        return f"{self.tenant.base_path}/{path.lstrip('/')}"

    def call(self, method: str, path: str, data=None, token: str | None = None, **extra):
        headers = {"HTTP_HOST": self.host, **extra}
        if token is not None:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return getattr(self.client, method)(self.url(path), data=data, format="json", **headers)

    def get(self, path, token=None, **extra):
        return self.call("get", path, None, token, **extra)

    def post(self, path, data=None, token=None, **extra):
        return self.call("post", path, data, token, **extra)

    def register(self, email: str, password: str = PASSWORD, name: str = "Someone"):
        return self.post("auth/register", {"email": email, "password": password, "name": name})

    def login(self, email: str, password: str = PASSWORD):
        return self.post("auth/login", {"email": email, "password": password})

    def token_for(self, email: str, password: str = PASSWORD) -> str:
        response = self.login(email, password)
        assert response.status_code == 200, response.content
        return response.json()["data"]["token"]


@pytest.fixture
def operator(client):
    """The Django test client, signed in as a superuser of the operators' admin."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser("root", "root@example.com", "operator pass 123")
    client.force_login(user)
    return client


@pytest.fixture
def alpha_api(alpha):
    return TenantApi(alpha, APIClient(), "alpha.test")


@pytest.fixture
def beta_api(beta):
    return TenantApi(beta, APIClient(), "beta.test")


def create_user(tenant, email: str, *, password: str = PASSWORD, role: str = "default", **fields):
    return user_model(tenant).objects.create(
        email=email,
        password=hash_password(password, tenant),
        name=fields.pop("name", email.split("@")[0]),
        role=role,
        **fields,
    )


@pytest.fixture
def alice(alpha):
    return create_user(alpha, "alice@example.com", name="Alice")


@pytest.fixture
def bob(alpha):
    return create_user(alpha, "bob@example.com", name="Bob")


@pytest.fixture
def charlie(beta):
    return create_user(beta, "charlie@example.com", name="Charlie")


DROP = object()  # a claim to leave out of a Go token


def go_token(tenant, user, *, secret: str | None = None, algorithm: str = "HS256", **claims) -> str:
    """A token exactly as the Go original signed it (no jti, no type, no session)."""
    now = int(time.time())
    payload = {
        "sub": user.id,
        "email": user.email,
        "name": user.name,
        "app": tenant.app,
        "exp": now + 86400,
        "iat": now,
    }
    payload.update(claims)
    payload = {key: value for key, value in payload.items() if value is not DROP}
    return jwt.encode(payload, tenant.jwt_secret if secret is None else secret, algorithm=algorithm)


def reset_code_for(tenant, user, code: str = "a reset code the e-mail carried") -> str:
    """A password-reset code of `user`, as the reset e-mail would have carried it."""
    import hashlib
    from datetime import timedelta

    from django.utils import timezone

    from tenants.models import PasswordResetToken

    PasswordResetToken.objects.create(
        app=tenant.app,
        user_id=user.id,
        token_hash=hashlib.sha256(code.encode()).hexdigest(),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    return code


def data_of(response, status: int = 200):
    """The data of a success envelope, after checking status and shape."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is True, body
    return body["data"]


def error_of(response, status: int, code: str) -> dict:
    """The error of an error envelope, after checking status, shape and code."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False, body
    assert body["error"]["code"] == code, body
    return body["error"]


# As the Go system's SQL made them: columns filled by the database (created_at), and a
# foreign key only the database declares.
GO_ERA_TABLES = {
    "projects": "user_id INT NOT NULL, name VARCHAR(120) NOT NULL, description TEXT NULL, "
    "position INT NOT NULL DEFAULT 0, created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP",
    "tasks": "user_id INT NOT NULL, project_id INT NOT NULL, title VARCHAR(200) NOT NULL, "
    "done BOOLEAN NOT NULL DEFAULT 0, created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "
    "FOREIGN KEY (project_id) REFERENCES projects (id)",
}


def create_go_era_tables(alias: str) -> None:
    """Tables as the Go system left them (no SOGOMS schema), for the v1 query YAML app."""
    from django.db import connections

    connection = connections[alias]
    key = (
        "INTEGER PRIMARY KEY AUTOINCREMENT"
        if connection.vendor == "sqlite"
        else "INT AUTO_INCREMENT PRIMARY KEY"
    )
    with connection.cursor() as cursor:
        existing = connection.introspection.table_names(cursor)
        for table, columns in GO_ERA_TABLES.items():
            if table not in existing:
                cursor.execute(f"CREATE TABLE {table} (id {key}, {columns})")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.db import connections
    from django.db.backends.base.creation import TEST_DATABASE_PREFIX

    beta = connections["tenant_beta"]
    # On MariaDB only when this run set up beta's test database: a run of tests that never
    # use it leaves the alias on the real database's name, which is not the tests' to touch
    # (SQLite's files are under the tests' own var directory).
    if beta.vendor != "mysql" or beta.settings_dict["NAME"].startswith(TEST_DATABASE_PREFIX):
        with django_db_blocker.unblock():
            create_go_era_tables("tenant_beta")


def run_concurrently(function, times: int) -> tuple[list, list[str]]:
    """Call `function` from `times` threads at once: (results, errors as reprs).

    Each thread closes its own database connections; an exception is returned, not lost
    in the thread."""
    import threading

    from django.db import connections

    results: list = []
    errors: list[str] = []

    def call() -> None:
        try:
            results.append(function())
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors
