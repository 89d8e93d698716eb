"""The Celery app of SOGOMS: background work (mail delivery, outbox sweeps, scheduled jobs).

With REDIS_URL the broker is Redis and `celery -A sogoms_site worker` / `beat` run as
their own processes. Without it (the embedded default) the broker is in memory and the
server process runs a worker and beat in threads (sogoms_site.embedded), so the same
tasks run with no service at all. Mail tasks carry only row ids: the rows name their tenant.
"""

from __future__ import annotations

import os

from celery import Celery

from sogoms_site.metrics import instrument_celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sogoms_site.settings")

app = Celery("sogoms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
instrument_celery()
