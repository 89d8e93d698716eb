"""WSGI entry point, for servers without WebSocket needs; it too refuses a bad config."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sogoms_site.settings")

django_application = get_wsgi_application()

from sogoms_site import logredact  # noqa: E402  (needs Django set up)
from sogoms_site.bodylimit import WsgiBodyLimit  # noqa: E402
from sogoms_site.embedded import start_background_work  # noqa: E402
from tenants.registry import registry  # noqa: E402
from tenants.reload import install_sighup_handler  # noqa: E402

# Bodies are bounded before Django reads them; a chunked one is counted and cut at the limit.
application = WsgiBodyLimit(django_application)

logredact.install()
registry()
install_sighup_handler()
start_background_work()

# What the process has built by now (settings, URL patterns, the config of every tenant)
# lives as long as the process: leave it out of the collector's full passes, which
# otherwise walk it all and stall a request for tens of milliseconds each time.
gc.collect()
gc.freeze()
