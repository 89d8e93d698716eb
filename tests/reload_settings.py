"""tests.settings on another config directory, named by SOGOMS_TEST_CONFIG_DIR.

For the worker processes a test starts on an edited copy of the test config (tests.settings
itself always reads tests/config).
"""

import os
from pathlib import Path

from tests.settings import *  # noqa: F403

if os.environ.get("SOGOMS_TEST_CONFIG_DIR"):
    SOGOMS_CONFIG_DIR = Path(os.environ["SOGOMS_TEST_CONFIG_DIR"])
