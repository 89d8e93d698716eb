"""Settings of the server processes of the operations tests: the site, plus one slow path.

`/test-only/slow` exists only here (tests.ops.slow_urls), never in the site's own URL
conf: it stands for a long request that is in flight when the server is told to stop.
"""

from sogoms_site.settings import *  # noqa: F403
from sogoms_site.settings import SOGOMS_SITE_PATHS

ROOT_URLCONF = "tests.ops.slow_urls"
SOGOMS_SITE_PATHS = (*SOGOMS_SITE_PATHS, "/test-only/slow")
