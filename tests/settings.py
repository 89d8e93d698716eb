"""Test settings: the site's settings with the test tenants and per-worker isolation.

The tenants come from tests/config (alpha on /api, beta on /v1, sharing one JWT secret
so cross-tenant refusal is tested on the `app` claim, not on the signature). Their
development secrets are created under var/test/ before the registry loads.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")

os.environ["SOGOMS_CONFIG_DIR"] = str(BASE_DIR / "tests" / "config")
os.environ.setdefault("SOGOMS_VAR_DIR", str(BASE_DIR / "var" / "test" / WORKER))

from tenants.cli.devsecrets import ensure_development_secrets  # noqa: E402

ensure_development_secrets(BASE_DIR / "tests" / "config", BASE_DIR, BASE_DIR / "var")

from sogoms_site.settings import *  # noqa: E402, F403
from sogoms_site.settings import CACHES, REDIS_URL, VAR_DIR  # noqa: E402

# Fast hashing keeps the suite quick; the hasher choice itself is Django's, not ours.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
SOGOMS_LOG_DIR = VAR_DIR / "log"
# The operators' admin and probes answer in the tests on these hosts (testserver: the test
# client's default); tenant hosts do not serve them (tests/tenants/test_hosts.py).
SOGOMS_OPERATOR_HOSTS = ["localhost", "127.0.0.1", "testserver", "admin.example", "ops.example"]

if REDIS_URL:
    # One Redis database per xdist worker, after the one REDIS_URL names: clearing the
    # cache must not wipe a neighbour's (nor another checkout's run on /8).
    parts = urlsplit(REDIS_URL)
    index = int(parts.path.strip("/") or 0) + int(WORKER.removeprefix("gw") or 0) + 1
    CACHES["default"]["LOCATION"] = urlunsplit(parts._replace(path=f"/{index}"))

# The test runner makes a test database for each alias it finds when it starts (and
# pytest-django names them per xdist worker then): the tenants' aliases are registered at
# start here, not on first use as in a server (tenants/databases.py).
SOGOMS_TENANT_DATABASES_AT_START = True

# An empty tenant-engine database for the schema tools' round trip (tests/crud/test_schema_cli.py).
# Declared here so the test runner creates (and isolates) it like the tenants' own.
from sogoms_site.settings import DATABASES, SOGOMS_TENANT_DATABASE_URL, SOGOMS_TUNE_DATABASE  # noqa: E402

if SOGOMS_TENANT_DATABASE_URL:
    import dj_database_url

    _scratch = dj_database_url.parse(SOGOMS_TENANT_DATABASE_URL.replace("{app}", "scratch"))
else:
    _scratch = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "db" / "scratch.sqlite3")}
_scratch.pop("CONN_MAX_AGE", None)
DATABASES["tenant_scratch"] = SOGOMS_TUNE_DATABASE(_scratch)

# One Celery queue per xdist worker: with a shared Redis broker, a test's worker must not
# take a neighbour's tasks (they name rows of another test database).
CELERY_TASK_DEFAULT_QUEUE = f"sogoms-test-{WORKER}"

from sogoms_site.settings import CHANNEL_LAYERS  # noqa: E402

if REDIS_URL:
    # The channel layer stays on REDIS_URL's database; a prefix per worker and run keeps
    # user 1 of one worker's alpha from hearing user 1 of another's.
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"sogoms-test-{WORKER}-{os.getpid()}"

# The control database of the tests is a file, as in production: an in-memory SQLite test
# database shares one cache between threads, where a writer gets "table is locked" at once
# instead of waiting its turn (the mail race and worker tests write from two threads).
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(VAR_DIR / "db" / "test_control.sqlite3")
