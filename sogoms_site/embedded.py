"""Background work inside the server process, for the embedded default (no broker).

With the in-memory broker only this process can see its tasks, so it runs a Celery
worker and beat in daemon threads: the same tasks and schedule as the separate `celery
worker` and `celery beat` processes of a production set-up, with nothing else to start.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings

logger = logging.getLogger("sogoms.embedded")
_started: dict[str, object] = {}
_lock = threading.Lock()


def start_background_work() -> bool:
    """Start the worker and beat threads once per process; False when not embedded."""
    if not settings.SOGOMS_EMBEDDED_WORKER:
        return False
    with _lock:
        if _started:
            return True
        from celery.beat import EmbeddedService
        from celery.worker import WorkController

        from sogoms_site.celery import app

        worker = WorkController(
            app=app,
            hostname=f"embedded@{threading.get_native_id()}",
            pool="threads",
            concurrency=2,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="WARNING",
        )
        threading.Thread(target=worker.start, name="celery-worker", daemon=True).start()
        beat = EmbeddedService(app, thread=True)
        beat.start()
        _started.update(worker=worker, beat=beat)
        logger.info("background work runs in this process (embedded worker and beat)")
    return True
