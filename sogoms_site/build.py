"""Which build a process runs: the project's version and the code's commit.

Read once per process: the version from pyproject.toml, the commit from
`SOGOMS_BUILD_COMMIT` or, in a checkout, `git rev-parse` (a packaged deployment sets
the variable instead). Used by the metrics (`sogoms_build_info`) and backup manifests.
"""

from __future__ import annotations

import subprocess
import tomllib
from functools import cache

from django.conf import settings


@cache
def build_version() -> str:
    try:
        with (settings.BASE_DIR / "pyproject.toml").open("rb") as file:
            return str(tomllib.load(file)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


@cache
def build_commit() -> str:
    """SOGOMS_BUILD_COMMIT, else the checkout's HEAD, else ""."""
    commit = str(getattr(settings, "SOGOMS_BUILD_COMMIT", "") or "")
    if commit:
        return commit
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],  # noqa: S607
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()
