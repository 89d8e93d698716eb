"""`manage.py test` runs the suite with pytest, as `make test` does.

The tests are pytest functions with pytest-django's fixtures and their own settings
(`tests.settings`, named in pyproject.toml): Django's own runner would find none of them
and report success. This runner hands the labels to pytest in a process of its own (this
one already runs the site's settings), so `manage.py test` passes or fails as the suite
does. A label is a path (`tests/site`), a node id (`tests/site/test_envelope.py::test_x`)
or a dotted module (`tests.site.test_envelope`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class PytestRunner:
    def __init__(self, verbosity: int = 1, failfast: bool = False, **_options: Any) -> None:
        self.verbosity = verbosity
        self.failfast = failfast

    def run_tests(self, test_labels: list[str], **_options: Any) -> int:
        """pytest's exit status for `test_labels` (all of tests/ when none): 0 when it passed."""
        args = [_path_of(label) for label in test_labels]
        if self.failfast:
            args.append("--exitfirst")
        if self.verbosity == 0:
            args.append("--quiet")
        elif self.verbosity > 1:
            args.append("--verbose")
        # the suite's settings are pyproject.toml's, not the ones manage.py put in the environment
        env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
        return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env)  # noqa: S603 (no shell)


def _path_of(label: str) -> str:
    if "/" in label or "::" in label or label.endswith(".py"):
        return label
    dotted = ROOT.joinpath(*label.split("."))
    if dotted.with_suffix(".py").is_file():
        return str(dotted.with_suffix(".py"))
    return str(dotted) if dotted.is_dir() else label
