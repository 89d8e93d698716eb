"""ASGI entry point (uvicorn, gunicorn with uvicorn workers): HTTP and the push socket.

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

http_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402  (needs Django set up)

from realtime.layer import LoopRecorder  # noqa: E402
from realtime.routing import websocket_application  # noqa: E402
from sogoms_site import logredact  # noqa: E402
from sogoms_site.bodylimit import AsgiBodyLimit  # noqa: E402
from sogoms_site.embedded import start_background_work  # noqa: E402
from tenants.registry import registry  # noqa: E402
from tenants.reload import ReloadingApplication, install_sighup_handler  # noqa: E402

# HTTP bodies are bounded before Django reads them (it would spool any size to a temp file).
# No origin check on the socket: it authenticates by token, never by cookie, so a
# foreign page cannot ride on a user's session.
application = LoopRecorder(
    ProtocolTypeRouter(
        {"http": AsgiBodyLimit(http_application), "websocket": ReloadingApplication(websocket_application())}
    )
)

logredact.install()
registry()
install_sighup_handler()
start_background_work()
