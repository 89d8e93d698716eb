"""Settings of the server processes of the operations tests: the site, plus two test-only paths.

They exist only here (tests.ops.slow_urls), never in the site's own URL conf:
`/test-only/slow` stands for a long request in flight when the server is told to stop,
`/test-only/release` says which release (code) a worker runs across a rolling restart.
"""

from sogoms_site.settings import *  # noqa: F403
from sogoms_site.settings import SOGOMS_SITE_PATHS

ROOT_URLCONF = "tests.ops.slow_urls"
SOGOMS_SITE_PATHS = (*SOGOMS_SITE_PATHS, "/test-only/slow", "/test-only/release")
