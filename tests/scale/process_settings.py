"""Settings of the scale-out tests' Celery processes: the site's own settings, with the
Celery queue the test names (SOGOMS_SCALE_QUEUE), so that its beats and workers share
a queue no other run on the same Redis takes tasks from."""

import os

from sogoms_site.settings import *  # noqa: F403

CELERY_TASK_DEFAULT_QUEUE = os.environ["SOGOMS_SCALE_QUEUE"]
