"""Settings of the drills' worker processes: the test settings with the configuration
directory the drill wrote (tests/settings.py fixes tests/config, which sends mail to files)."""

import os
from pathlib import Path

from tests.settings import *  # noqa: F403

SOGOMS_CONFIG_DIR = Path(os.environ["SOGOMS_DRILL_CONFIG_DIR"]).resolve()
