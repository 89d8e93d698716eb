"""docs/migration-from-go.md, followed as written against a Go-era MariaDB deployment.

The guide's bash blocks run in order, with the variables it asks the operator to set;
between "3." and "4." the test starts the server, as the guide asks the operator to.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.realtime.servers import BASE_DIR, free_port, site_env, uvicorn

from .godb import APP, PASSWORD, create_go_database, drop_go_database, go_config, go_era_rows, go_token

GUIDE = BASE_DIR / "docs" / "migration-from-go.md"


def bash_blocks(text: str) -> dict[str, list[str]]:
    """The bash blocks of each numbered section: {"1": [...], "2": [...]}."""
    blocks: dict[str, list[str]] = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        number = section.split(".", 1)[0]
        blocks[number] = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return blocks


def run_blocks(blocks: list[str], env: dict, cwd: Path) -> str:
    script = "set -euo pipefail\n" + "\n".join(blocks)
    done = subprocess.run(
        ["bash", "-c", script], env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done.stdout


def test_the_migration_guide_works_as_written(tmp_path):
    blocks = bash_blocks(GUIDE.read_text())
    assert [number for number, found in blocks.items() if found] == ["1", "2", "3", "4"]
    database = create_go_database("mariadb", tmp_path)
    try:
        users = go_era_rows(database)
        go = go_config(tmp_path, database)
        checkout = tmp_path / "checkout"  # "from the SOGOMS checkout", without writing into this one
        checkout.mkdir()
        (checkout / "manage.py").symlink_to(BASE_DIR / "manage.py")
        env = site_env(tmp_path / "sogoms-config", tmp_path / "var")
        env.update(
            GO_CONFIG=str(go),
            APP=APP,
            GO_DATABASE=database.name,
            PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",  # the virtualenv, active
        )

        prepared = run_blocks(blocks["1"] + blocks["2"] + blocks["3"], env, checkout)

        assert ": OK, 1 tenant(s)" in prepared
        routes = (tmp_path / "sogoms-config" / "routes" / f"{APP}.yaml").read_text()
        assert "legacy_tokens_until:" in routes and "password_hash: bcrypt" in routes
        assert "CREATE TABLE `users`" in (checkout / f"{APP}-before-sogoms.sql").read_text()
        assert {"is_active", "updated_at"} <= set(database.columns("users"))
        alice = users["alice@example.com"]
        secret = (tmp_path / "secrets" / "prokov_jwt_secret").read_text()
        with uvicorn(env, free_port()) as address:
            env.update(
                SOGOMS_URL=f"http://{address}",
                APP_HOST="prokov.sogoms.test",
                CHECK_EMAIL=alice["email"],
                CHECK_PASSWORD=PASSWORD,
                GO_TOKEN=go_token(secret, alice),
            )
            checked = run_blocks(blocks["4"], env, checkout)
        assert checked.count('"success":true') == 2  # login and the Go token's list; /ready is plain
        assert '"name":"Roadmap"' in checked
    finally:
        drop_go_database(database)
