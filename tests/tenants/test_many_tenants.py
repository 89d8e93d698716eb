"""Fifty tenants in one process: nothing of a tenant is built before its first request,
which works, tenants stay apart, /ready costs the same as with one tenant, reload works.

The site runs in a process of its own (tests/tenants/lazy_site.py) on a generated config:
fifty copies of the demo tenant, each on its host and SQLite file.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from tests.realtime.servers import BASE_DIR, site_env

TENANTS = 50


@pytest.fixture(scope="module")
def facts(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("many")
    config, var = root / "config", root / "var"
    secret = root / "jwt_secret"
    secret.write_text("m" * 64)
    secret.chmod(0o600)
    routes = (BASE_DIR / "config" / "routes" / "prokov.yaml").read_text()
    routes = routes.replace("jwt_secret_file: var/secrets/prokov_jwt_secret", f"jwt_secret_file: {secret}")
    schema = (BASE_DIR / "config" / "schema" / "prokov.yaml").read_text()
    for kind in ("routes", "schema"):
        (config / kind).mkdir(parents=True)
    first_only = root / "first"
    for i in range(TENANTS):
        app = f"g{i:02d}"
        text = re.sub(r"hosts:\n(  - .*\n)+", f"hosts:\n  - {app}.localhost\n", routes.replace("prokov", app))
        (config / "routes" / f"{app}.yaml").write_text(text)
        (config / "schema" / f"{app}.yaml").write_text(schema)
    # One tenant migrated, its database copied for the others (the same schema): fast.
    for kind in ("routes", "schema"):
        (first_only / kind).mkdir(parents=True)
        shutil.copy(config / kind / "g00.yaml", first_only / kind / "g00.yaml")
    env = site_env(first_only, var)
    migrate = [sys.executable, str(BASE_DIR / "manage.py"), "sogoms", "migrate"]
    subprocess.run(migrate, env=env, cwd=BASE_DIR, check=True, capture_output=True, timeout=120)
    for i in range(1, TENANTS):
        shutil.copy(var / "db" / "g00.sqlite3", var / "db" / f"g{i:02d}.sqlite3")
    shutil.copy(var / "db" / "g00.sqlite3", var / "db" / "gnew.sqlite3")
    named = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "showmigrations", "--database", "tenant_g03", "auth"],
        env=site_env(config, var),
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.tenants.lazy_site"],
        env={**site_env(config, var), "SOGOMS_TENANT_PROBE_SECONDS": "300"},
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    facts["command_naming_g03"] = (named.returncode, named.stderr[-500:])
    return facts


def test_no_tenant_is_built_at_start_and_a_first_request_builds_its_own_alone(facts):
    assert facts["tenants"] == TENANTS
    assert facts["built_at_start"] == []
    assert facts["built_after_first_request"] == ["g07"]


def test_no_database_alias_is_registered_at_start_and_a_first_request_registers_its_own(facts):
    assert facts["aliases_at_start"] == []
    assert facts["aliases_after_first_request"] == ["tenant_g07"]
    assert facts["aliases_after_two_tenants"] == ["tenant_g07", "tenant_g08"]
    assert facts["aliases_after_the_sweep"] == 2  # the /ready sweep dropped those only it used


def test_a_command_naming_a_tenants_database_finds_it(facts):
    assert facts["command_naming_g03"] == (0, "")


def test_tenants_built_on_first_use_stay_apart(facts):
    assert facts["create_on_g07"] == 201
    assert facts["bob_lists_g08"] == 0  # alice's row is on g07's database only
    assert facts["alice_token_on_g08"] == 401
    assert facts["alice_lists_g07"] == 1


def test_ready_costs_the_control_database_alone_and_sweeps_the_tenants_in_the_background(facts):
    assert facts["first_ready"] == {"status": "ok", "tenants_listed": 0}  # answered at once
    assert [call["queries"] for call in facts["ready"]] == [1, 1, 1]  # SELECT 1 on the control database
    assert [call["tenants_ok"] for call in facts["ready"]] == [TENANTS] * 3
    assert all(call["status"] == "ok" for call in facts["ready"])


def test_a_reload_serves_a_new_tenant_and_rebuilds_the_old_ones_on_use(facts):
    assert facts["reloaded"] is True
    assert facts["built_after_reload"] == []  # the old config's models are dropped
    assert facts["register_on_new_tenant"] == 201
    assert facts["alice_lists_g07_after_reload"] == 1
    assert facts["built_at_end"] == ["g07", "gnew"]


def test_the_mail_sweep_visits_every_tenant_without_keeping_a_connection_or_building_models(facts):
    assert facts["mail_sweep_opened_and_kept"] == []
    assert facts["mail_sweep_built_models_of"] == []  # no tenant had a deferred e-mail


def test_the_admin_index_lists_every_tenant_and_builds_none(facts):
    assert facts["admin_index"] == 200
    assert facts["admin_index_lists_tenants"] == TENANTS + 1  # g00..g49 and gnew
    assert facts["admin_index_built"] == []


def test_a_tenants_admin_page_builds_that_tenant_alone_and_lists_its_models(facts):
    assert facts["admin_tenant_page"] == 200
    assert facts["admin_tenant_page_built"] == ["g20"]
    assert {"G20 users", "G20 projects", "G20 tasks"} <= set(facts["admin_tenant_page_lists"])


def test_a_model_page_of_a_tenant_not_opened_yet_opens_it(facts):
    assert facts["admin_model_pages"] == {"projects_g21": 200, "users_g22": 200, "no_table_g23": 404}
    assert facts["admin_built_at_end"] == ["g20", "g21", "g22", "g23"]
