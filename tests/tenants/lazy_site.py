"""A site process with many tenants, observed from inside: run by test_many_tenants.py.

`python -m tests.tenants.lazy_site` with SOGOMS_CONFIG_DIR naming a config of tenants
g00..gNN (SQLite, migrated) loads the server application as a server would, drives it
with Django's test client (no test database: the config's own files) and prints, as one
JSON object, what it saw: which tenants had models built when, the answers of the
requests, the statements /ready ran, and the same after a config reload.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

PASSWORD = "correct horse battery staple"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sogoms_site.settings")
    from sogoms_site.wsgi import application  # noqa: F401  (the server's start, admin included)

    # isort: split
    from django.test import Client
    from prometheus_client import REGISTRY

    from crud.dynamic import schema_models
    from tenants.databases import registered_tenant_aliases
    from tenants.registry import registry
    from tenants.reload import reload_now
    from tenants.usermodel import user_model

    client = Client()
    facts: dict[str, Any] = {"tenants": len(registry())}

    def built() -> list[str]:
        return sorted(
            tenant.app
            for tenant in registry()
            if schema_models.built_for(tenant) or user_model.built_for(tenant)
        )

    def call(method: str, app: str, path: str, body: dict | None = None, token: str = "") -> tuple[int, Any]:
        headers = {"HTTP_HOST": f"{app}.localhost"}
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        response = client.generic(
            method,
            f"/api/{path}",
            json.dumps(body) if body is not None else "",
            "application/json",
            **headers,
        )
        return response.status_code, json.loads(response.content)

    def register(app: str, email: str) -> str:
        status, answer = call(
            "POST", app, "auth/register", {"email": email, "password": PASSWORD, "name": "N"}
        )
        assert status == 201, answer
        return str(answer["data"]["token"])

    def queries() -> float:
        value = REGISTRY.get_sample_value
        return sum(
            value("sogoms_db_query_duration_seconds_count", {"app": app}) or 0.0
            for app in ["-", *registry().tenants]
        )

    facts["built_at_start"] = built()
    facts["aliases_at_start"] = registered_tenant_aliases()
    alice = register("g07", "alice@example.com")
    facts["built_after_first_request"] = built()
    facts["aliases_after_first_request"] = registered_tenant_aliases()
    status, _answer = call("POST", "g07", "projects", {"name": "Alice's"}, alice)
    facts["create_on_g07"] = status
    bob = register("g08", "bob@example.com")
    facts["bob_lists_g08"] = call("GET", "g08", "projects", token=bob)[1]["meta"]["total"]
    facts["alice_token_on_g08"] = call("GET", "g08", "projects", token=alice)[0]
    facts["alice_lists_g07"] = call("GET", "g07", "projects", token=alice)[1]["meta"]["total"]
    facts["aliases_after_two_tenants"] = registered_tenant_aliases()

    from tenants.availability import wait_for_sweep

    first = client.get("/ready", HTTP_HOST="localhost").json()
    facts["first_ready"] = {"status": first["status"], "tenants_listed": len(first["checks"]) - 1}
    wait_for_sweep()
    ready = []
    for _ in range(3):
        before = queries()
        body = client.get("/ready", HTTP_HOST="localhost").json()
        ok = sum(
            check["status"] == "ok" for name, check in body["checks"].items() if name != "database:default"
        )
        ready.append({"status": body["status"], "queries": queries() - before, "tenants_ok": ok})
    facts["ready"] = ready
    facts["aliases_after_the_sweep"] = len(registered_tenant_aliases())

    config = Path(os.environ["SOGOMS_CONFIG_DIR"])
    for kind in ("routes", "schema"):
        source = (config / kind / "g00.yaml").read_text()
        (config / kind / "gnew.yaml").write_text(source.replace("g00", "gnew"))
    facts["reloaded"] = reload_now()
    facts["built_after_reload"] = built()
    facts["register_on_new_tenant"] = call(
        "POST", "gnew", "auth/register", {"email": "carol@example.com", "password": PASSWORD, "name": "C"}
    )[0]
    facts["alice_lists_g07_after_reload"] = call("GET", "g07", "projects", token=alice)[1]["meta"]["total"]
    facts["built_at_end"] = built()
    from django.db import connections

    from mail.pending import pending_flush_all, pending_model

    def open_aliases() -> set[str]:
        return {c.alias for c in connections.all(initialized_only=True) if c.connection is not None}

    before_sweep = open_aliases()
    pending_flush_all(queue=lambda **_message: None)
    facts["mail_sweep_opened_and_kept"] = sorted(open_aliases() - before_sweep)
    facts["mail_sweep_built_models_of"] = [t.app for t in registry() if pending_model.built_for(t)]

    from django.contrib.auth import get_user_model

    operator = get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    client.force_login(operator)
    built_before = built()
    index = client.get("/admin/", HTTP_HOST="localhost")
    page = index.content.decode()
    facts["admin_index"] = index.status_code
    facts["admin_index_built"] = sorted(set(built()) - set(built_before))
    facts["admin_index_lists_tenants"] = len(set(re.findall(r'href="/admin/tenant/(\w+)/"', page)))
    tenant_page = client.get("/admin/tenant/g20/", HTTP_HOST="localhost")
    facts["admin_tenant_page"] = tenant_page.status_code
    facts["admin_tenant_page_built"] = sorted(set(built()) - set(built_before))
    # the page lists each model's plural name, capitalised: "G20 users", "G20 projects"
    facts["admin_tenant_page_lists"] = sorted(
        set(re.findall(r">(G\w+ \w+)</a>", tenant_page.content.decode()))
    )
    paths = {
        "projects_g21": "/admin/crud/projects_g21/",
        "users_g22": "/admin/tenants/user_g22/",
        "no_table_g23": "/admin/crud/nosuch_g23/",
    }
    facts["admin_model_pages"] = {
        name: client.get(path, HTTP_HOST="localhost").status_code for name, path in paths.items()
    }
    facts["admin_built_at_end"] = sorted(set(built()) - set(built_before))
    print(json.dumps(facts))


if __name__ == "__main__":
    sys.exit(main())
