"""`manage.py test` runs the pytest suite (Django's own runner found none of it and said OK)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def manage_test(*labels: str, var_dir: Path) -> subprocess.CompletedProcess:
    # a run of its own: its var dir, and the Redis database and queue of a worker no
    # xdist run here has (tests/settings.py names them by PYTEST_XDIST_WORKER)
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "SOGOMS_VAR"))
    }
    env.update(SOGOMS_VAR_DIR=str(var_dir), PYTEST_XDIST_WORKER="gw9")
    return subprocess.run(
        [sys.executable, "manage.py", "test", *labels],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_dotted_label_runs_that_modules_pytest_tests_with_the_suites_settings(tmp_path):
    done = manage_test("tests.site.test_negotiation", var_dir=tmp_path)

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "error" not in done.stdout.splitlines()[-1]


def test_a_failing_test_fails_the_command(tmp_path):
    failing = tmp_path / "test_fails.py"
    failing.write_text("def test_fails():\n    assert 1 == 2\n")
    done = manage_test(str(failing), var_dir=tmp_path / "var")

    assert done.returncode != 0
    assert "1 failed" in done.stdout
