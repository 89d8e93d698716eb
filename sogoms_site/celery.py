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
# Celery's Django fixup runs every system check when a worker starts; the URL check then
# builds the admin, hence every tenant's models (seconds and megabytes with a thousand
# tenants) in each worker and in the embedded one of the server. `sogoms check` runs them
# before a start (make serve-prod, the deploy); workers need not again.
os.environ.setdefault("CELERY_SKIP_CHECKS", "1")

app = Celery("sogoms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
instrument_celery()
