"""ASGI entry point (uvicorn, gunicorn with uvicorn workers).

It refuses to start on an invalid tenant config: every problem is printed and the
import fails, so a process manager sees the failure instead of a half-working server.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sogoms_site.settings")
# Under ASGI each request's sync work may run on a different thread, and each thread
# keeps its own connection: persistent connections pile up (Django's advice is to turn
# them off here). WSGI workers keep the default reuse.
os.environ.setdefault("SOGOMS_CONN_MAX_AGE", "0")

application = get_asgi_application()

from sogoms_site.embedded import start_background_work  # noqa: E402  (needs Django set up)
from tenants.registry import registry  # noqa: E402
from tenants.reload import install_sighup_handler  # noqa: E402

registry()
install_sighup_handler()
start_background_work()
