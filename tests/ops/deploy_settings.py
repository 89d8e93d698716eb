"""Settings of the rolling-deploy tests' `sogoms migrate` runs: the site plus tests.ops.deployapp,
whose migrations come from the release named by SOGOMS_TEST_RELEASE (expand or contract)."""

import os

from sogoms_site.settings import *  # noqa: F403
from sogoms_site.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.ops.deployapp"]
MIGRATION_MODULES = {"deployapp": f"tests.ops.deployapp.{os.environ.get('SOGOMS_TEST_RELEASE', 'expand')}"}
