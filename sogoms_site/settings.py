"""Django settings for SOGOMS, driven by the environment.

With no environment at all this is the embedded default: SQLite files under `var/`, the
in-memory cache and channel layer, nothing else to run. `DATABASE_URL`,
`SOGOMS_TENANT_DATABASE_URL` and `REDIS_URL` switch to MariaDB and Redis. The variables
are listed in docs/configuration.md.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
import swagger_ui_bundle
from django.core.exceptions import ImproperlyConfigured

from sogoms_site.clientip import parse_trusted_proxies
from sogoms_site.env import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SOGOMS_VAR_DIR", str(BASE_DIR / "var"))).resolve()
SOGOMS_CONFIG_DIR = Path(env_str("SOGOMS_CONFIG_DIR", str(BASE_DIR / "config"))).resolve()
SOGOMS_LOG_DIR = Path(env_str("SOGOMS_LOG_DIR", str(VAR_DIR / "log"))).resolve()
# Relative paths inside tenant YAML (secret files, SQLite files) resolve against this.
SOGOMS_BASE_DIR = Path(env_str("SOGOMS_BASE_DIR", str(BASE_DIR))).resolve()
# Template for tenants without a `database:` block, e.g. mysql://u@db/sogoms_{app}.
SOGOMS_TENANT_DATABASE_URL = env_secret("SOGOMS_TENANT_DATABASE_URL") or ""
SOGOMS_MAX_BODY_BYTES = env_int("SOGOMS_MAX_BODY_BYTES", 1024 * 1024)
SOGOMS_MAX_JSON_DEPTH = env_int("SOGOMS_MAX_JSON_DEPTH", 64)  # arrays and objects in a JSON body
SOGOMS_TRUST_X_FORWARDED_FOR = env_bool("SOGOMS_TRUST_X_FORWARDED_FOR", False)  # = TRUSTED_PROXIES=1
# The proxies in front: a count (`1`) or addresses/networks (`10.0.0.0/8,127.0.0.1`); see clientip.
SOGOMS_TRUSTED_PROXIES = env_str("SOGOMS_TRUSTED_PROXIES") or ("1" if SOGOMS_TRUST_X_FORWARDED_FOR else "")
try:
    parse_trusted_proxies(SOGOMS_TRUSTED_PROXIES)
except ValueError as _exc:
    raise ImproperlyConfigured(f"SOGOMS_TRUSTED_PROXIES: {_exc}") from None
# Config sections that apps add to a tenant, beside routes/<app>.yaml.
SOGOMS_CONFIG_SECTIONS = [
    "crud.config.load_resources",
    "mail.config.load_mail",
    "realtime.config.load_push",
    "cron.config.load_cron",
]
# Paths served whatever the Host header says (probes and the operators' admin).
SOGOMS_SITE_PATHS = ("/health",)  # on every host, before any tenant
SOGOMS_SITE_PATH_PREFIXES = ("/static/",)
# The operators' paths (admin, readiness, metrics) answer only on these hosts; elsewhere
# they are an unknown path like any other. A host may serve a tenant and these at once.
SOGOMS_OPERATOR_HOSTS = env_list("SOGOMS_OPERATOR_HOSTS", ["localhost", "127.0.0.1"])
SOGOMS_OPERATOR_PATHS = ("/ready", "/metrics")
SOGOMS_OPERATOR_PATH_PREFIXES = ("/admin/",)
# /metrics also answers on any host to `Authorization: Bearer <this token>` (a file, ideally).
SOGOMS_METRICS_TOKEN = env_secret("SOGOMS_METRICS_TOKEN") or ""
# The commit in sogoms_build_info; unset, `git rev-parse` of the checkout, else "unknown".
SOGOMS_BUILD_COMMIT = env_str("SOGOMS_BUILD_COMMIT")
# prometheus-client's multiprocess mode: every process of the machine writes its samples
# there and /metrics sums them (docs/operations.md, Metrics). Unset: one process's own.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
# Failed admin sign-ins allowed per client IP and per username in the window (then 429).
SOGOMS_ADMIN_LOGIN_ATTEMPTS = env_int("SOGOMS_ADMIN_LOGIN_ATTEMPTS", 10)
SOGOMS_ADMIN_LOGIN_WINDOW_SECONDS = env_int("SOGOMS_ADMIN_LOGIN_WINDOW_SECONDS", 900)
# `(base_path) -> URL conf` of a tenant's API, which the tenant middleware sets per request.
SOGOMS_TENANT_URLCONF = "sogoms_site.urls.tenant_urlconf"


def _development_secret_key() -> str:
    """A per-checkout key kept under var/, so sessions survive restarts in development."""
    path = VAR_DIR / "secrets" / "django_secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_secret("SOGOMS_SECRET_KEY") or _development_secret_key()
DEBUG = env_bool("SOGOMS_DEBUG", False)
# The tenant middleware is the host check: an unknown host gets TENANT_NOT_FOUND.
ALLOWED_HOSTS = env_list("SOGOMS_ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = env_list("SOGOMS_CSRF_TRUSTED_ORIGINS", [])

# Behind TLS (docs/operations.md, "Running behind a proxy"). All off by default, so the
# embedded default keeps working over plain http on 127.0.0.1.
# The proxy says the client came over https (it must overwrite the header, never pass it on).
if env_bool("SOGOMS_TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The admin's session and CSRF cookies only travel over https.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SOGOMS_SECURE_COOKIES", False)
# Strict-Transport-Security on https answers; start small (300), then a year (31536000).
SECURE_HSTS_SECONDS = env_int("SOGOMS_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SOGOMS_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SOGOMS_HSTS_PRELOAD", False)
# Plain http is redirected to https, except the probes (load balancers call them directly).
SECURE_SSL_REDIRECT = env_bool("SOGOMS_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "sogoms_site",
    "tenants",
    "crud",
    "mail",
    "realtime",
    "cron",
]

MIDDLEWARE = [
    "sogoms_site.middleware.MetricsMiddleware",  # first: times and counts every answer
    "sogoms_site.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenants.middleware.TenantMiddleware",
    "sogoms_site.middleware.ApiErrorMiddleware",
    "tenants.availability.TenantAvailabilityMiddleware",  # after ApiErrorMiddleware: sees errors first
    # sessions, Django's common middleware (www and slash redirects, Content-Length), CSRF,
    # the admin's user and messages: on the site's paths only, not the API's
    "sogoms_site.middleware.SitePathsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The admin checks for the session, authentication and message middleware by name; they
# run inside SitePathsMiddleware (tests/site/test_site_paths_middleware.py shows the admin works).
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410"]

ROOT_URLCONF = "sogoms_site.urls"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "sogoms_site.wsgi.application"
ASGI_APPLICATION = "sogoms_site.asgi.application"


def _control_database() -> dict[str, Any]:
    url = env_secret("DATABASE_URL")
    config: dict[str, Any]
    if url:
        config = dict(dj_database_url.parse(url))
        config.pop("CONN_MAX_AGE", None)  # _tuned() gives the site default
    else:
        (VAR_DIR / "db").mkdir(parents=True, exist_ok=True)
        config = {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "db" / "control.sqlite3"),
        }
    return _tuned(config)


def _tuned(config: dict[str, Any]) -> dict[str, Any]:
    """Engine options every SOGOMS database gets, control plane and tenants alike."""
    engine = config["ENGINE"]
    # Persistent connections: opening one (and, for SQLite, its PRAGMAs) per request
    # costs more than most requests themselves. Health checks drop dead ones first.
    config.setdefault("CONN_MAX_AGE", env_int("SOGOMS_CONN_MAX_AGE", 60))
    config["CONN_HEALTH_CHECKS"] = True
    options = config.setdefault("OPTIONS", {})
    if engine.endswith("sqlite3"):
        # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN
        # so two writers queue instead of failing with "database is locked" mid-transaction.
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault("timeout", 20)
        options.setdefault(
            "init_command",
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
    elif engine.endswith("mysql"):
        if engine == "django.db.backends.mysql":  # the same backend, pinging idle connections only
            config["ENGINE"] = "sogoms_site.db.mysql"
        options.setdefault("charset", "utf8mb4")
        # A database host that does not answer fails its tenant's requests in seconds
        # (503 TENANT_UNAVAILABLE) instead of holding a worker for the system's timeout.
        options.setdefault("connect_timeout", env_int("SOGOMS_DB_CONNECT_TIMEOUT", 5))
        # UTC sessions: Django reads and writes datetimes as UTC, and so must the database's
        # own clock (CURRENT_TIMESTAMP defaults of adopted tables, NOW() in v1 SQL) on a
        # server whose zone is another.
        options.setdefault("init_command", "SET sql_mode='STRICT_TRANS_TABLES', time_zone='+00:00'")
        config.setdefault("TEST", {}).setdefault("CHARSET", "utf8mb4")
        config["TEST"].setdefault("COLLATION", "utf8mb4_unicode_ci")
    return config


DATABASES = {"default": _control_database()}
DATABASE_ROUTERS = ["tenants.databases.TenantRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
SOGOMS_TUNE_DATABASE = _tuned
# A tenant whose database was found down answers 503 at once, without trying, this long.
SOGOMS_TENANT_RETRY_SECONDS = env_int("SOGOMS_TENANT_RETRY_SECONDS", 5)
# /ready and /metrics check the tenant databases at most this often (in the background
# once a first check is known), not on every call; 0: on every call.
SOGOMS_TENANT_PROBE_SECONDS = env_int("SOGOMS_TENANT_PROBE_SECONDS", 30)
# Sign-in providers (auth.oauth) on private or loopback addresses: refused like any SSRF
# target unless this is on (tests with local providers, an intranet identity provider).
SOGOMS_OAUTH_ALLOW_PRIVATE_NETWORK = env_bool("SOGOMS_OAUTH_ALLOW_PRIVATE_NETWORK", False)

REDIS_URL = env_secret("REDIS_URL") or ""
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "sogoms",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Background work. Redis when REDIS_URL is set (worker and beat as their own processes);
# otherwise in memory, with a worker and beat in the server process (sogoms_site.embedded).
CELERY_BROKER_URL = env_secret("SOGOMS_BROKER_URL") or REDIS_URL or "memory://localhost/"
SOGOMS_EMBEDDED_WORKER = env_bool("SOGOMS_EMBEDDED_WORKER", CELERY_BROKER_URL.startswith("memory://"))
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a task lost with its worker runs again (claims make that safe)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# With REMAP_SIGTERM=SIGQUIT (the worker's unit and `sogoms ctl`), SIGTERM lets running tasks
# finish for this long, then puts those still running back in the queue and exits.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = float(env_int("SOGOMS_WORKER_SOFT_SHUTDOWN_SECONDS", 25))
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request must not hang on a stopped broker: the outbox row is written already and the
# sweep sends it once the broker is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5}
# A task taken by a worker that was then killed (not stopped) is given out again after this
# long; longer than the longest task, or a task still running is given out twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("SOGOMS_BROKER_VISIBILITY_TIMEOUT", 3600)}
(VAR_DIR / "run").mkdir(parents=True, exist_ok=True)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "run" / "celerybeat-schedule")
# Built-in jobs, beside the tenants' own (config/cron/<app>.yaml, run by the tick).
CELERY_BEAT_SCHEDULE = {
    "cron-tick": {"task": "cron.tick", "schedule": env_int("SOGOMS_CRON_TICK_SECONDS", 30)},
    "mail-outbox-sweep": {"task": "mail.sweep", "schedule": env_int("SOGOMS_MAIL_SWEEP_SECONDS", 30)},
    "logs-purge": {"task": "logs.purge", "schedule": env_int("SOGOMS_LOG_PURGE_SECONDS", 24 * 3600)},
}
# Data lifecycle: what the daily purge (logs.purge) deletes, in days; 0 keeps for ever.
SOGOMS_RETENTION_OUTBOX_DAYS = env_int("SOGOMS_RETENTION_OUTBOX_DAYS", 30)  # sent and dead mail
SOGOMS_RETENTION_JOB_RUNS_DAYS = env_int("SOGOMS_RETENTION_JOB_RUNS_DAYS", 30)  # finished cron runs
SOGOMS_RETENTION_RESET_TOKENS_DAYS = env_int("SOGOMS_RETENTION_RESET_TOKENS_DAYS", 7)  # after expiry
# A tick also looks at the minutes just before it, so a late tick does not miss a minute.
SOGOMS_CRON_LOOKBACK_MINUTES = env_int("SOGOMS_CRON_LOOKBACK_MINUTES", 2)

# Mail delivery: attempts and back-off (30 s, 1 min, 2 min, ... capped at an hour).
SOGOMS_MAIL_MAX_ATTEMPTS = env_int("SOGOMS_MAIL_MAX_ATTEMPTS", 6)
SOGOMS_MAIL_RETRY_BASE_SECONDS = env_int("SOGOMS_MAIL_RETRY_BASE_SECONDS", 30)
SOGOMS_MAIL_RETRY_MAX_SECONDS = env_int("SOGOMS_MAIL_RETRY_MAX_SECONDS", 3600)
SOGOMS_MAIL_CLAIM_SECONDS = env_int("SOGOMS_MAIL_CLAIM_SECONDS", 300)  # a worker's lease on its rows
SOGOMS_MAIL_BATCH_SIZE = env_int("SOGOMS_MAIL_BATCH_SIZE", 200)  # messages per task
# Connections one delivery task keeps open to the tenant's server at once, each in a thread:
# a connection mostly waits for replies, so several let a process's waits overlap.
SOGOMS_MAIL_CONNECTIONS = env_int("SOGOMS_MAIL_CONNECTIONS", 4)
# Messages handed to the transport per database round: fewer commits, but a worker that
# dies mid-chunk leaves up to this many messages with an unknown outcome (1: at most one).
SOGOMS_MAIL_HANDOVER_CHUNK = env_int("SOGOMS_MAIL_HANDOVER_CHUNK", 20)
SOGOMS_MAIL_SWEEP_LIMIT = env_int("SOGOMS_MAIL_SWEEP_LIMIT", 20000)
SOGOMS_MAIL_MAX_BULK = env_int("SOGOMS_MAIL_MAX_BULK", 10000)  # recipients in one bulk send

# Push events between processes go through Redis; without it, the in-memory layer
# reaches the sockets of this one process (the embedded default).
if REDIS_URL:
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    CHANNEL_LAYERS = {
        "default": {
            # The pub/sub flavour: a group message is one PUBLISH, and each process hands it
            # to its own sockets of that group (the list flavour writes once per socket of
            # the group: thousands of Redis writes for one event to a busy topic).
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                # redis-py's pool refuses (MaxConnectionsError) rather than waits past its
                # limit, 100 by default: a burst of socket connections needs more.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": env_int("SOGOMS_CHANNEL_REDIS_CONNECTIONS", 1000),
                        # A pooled connection idle for a second is pinged before use and,
                        # if Redis restarted meanwhile, reconnected once instead of failing.
                        "health_check_interval": 1,
                        "retry": Retry(NoBackoff(), 1),
                    }
                ],
                "prefix": env_str("SOGOMS_CHANNEL_PREFIX", "sogoms"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {
                "capacity": env_int("SOGOMS_CHANNEL_CAPACITY", 1000),
                # the process's one push channel (realtime.fanout) takes every event of the
                # process's topics; its receive loop hands them on at once. (Pairs of a
                # compiled pattern and a size: this layer does not compile a dict's globs.)
                "channel_capacity": [(re.compile(r"^push\.process\."), 100_000)],
            },
        }
    }
# How often a process asks, in one query, which sessions of its open sockets ended (in
# seconds). An ending announced through tenants.auth.current wakes the check at once; this
# is the fallback for endings it did not hear of (another process without Redis).
SOGOMS_PUSH_REVOCATION_CHECK_SECONDS = env_int("SOGOMS_PUSH_REVOCATION_CHECK_SECONDS", 2)
# How long a process trusts what it read of a user (role, active) and a session (ended?),
# in seconds; changes made through the services reach every process at once anyway
# (directly, or through Redis pub/sub with REDIS_URL). 0: read on every request.
SOGOMS_AUTH_STATE_SECONDS = float(env_str("SOGOMS_AUTH_STATE_SECONDS", "1"))
# The Redis pub/sub channel those changes travel on (with REDIS_URL).
SOGOMS_AUTH_CHANGES_CHANNEL = env_str("SOGOMS_CHANNEL_PREFIX", "sogoms") + ":auth-changes"
# A session's last_used_at is written at most this often (and on every refresh).
SOGOMS_SESSION_TOUCH_SECONDS = env_int("SOGOMS_SESSION_TOUCH_SECONDS", 60)

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# `manage.py test` runs pytest, as `make test` does (the tests are pytest functions)
TEST_RUNNER = "sogoms_site.testrunner.PytestRunner"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Swagger UI for <base>/_docs, shipped by a Python package: no CDN at run time.
STATICFILES_DIRS = [("swagger-ui", swagger_ui_bundle.swagger_ui_path)]
# A container image collects them at build time, outside the var volume (SOGOMS_STATIC_ROOT).
STATIC_ROOT = Path(env_str("SOGOMS_STATIC_ROOT", str(VAR_DIR / "static"))).resolve()
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["sogoms_site.api.renderers.EnvelopeRenderer"],
    "DEFAULT_PARSER_CLASSES": ["sogoms_site.api.parsers.BoundedJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "sogoms_site.api.negotiation.EnvelopeNegotiation",
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.auth.authentication.TenantJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # the tenant's per-user and per-operation API limits (per-IP ones run at the edge)
    "DEFAULT_THROTTLE_CLASSES": ["tenants.auth.apilimits.TenantApiThrottle"],
    "EXCEPTION_HANDLER": "sogoms_site.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "USER_ID_CLAIM": "sub",
    "USER_ID_FIELD": "id",
    "TOKEN_TYPE_CLAIM": "type",
    "JTI_CLAIM": "jti",
    "LEEWAY": 0,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # `?token=` values become [redacted] in every line; the servers' own loggers get the
    # same filter from sogoms_site.logredact.install() (asgi.py, wsgi.py).
    "filters": {"redact_tokens": {"()": "sogoms_site.logredact.RedactTokens"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_tokens"]}
    },
    "root": {"handlers": ["console"], "level": env_str("SOGOMS_LOG_LEVEL", "INFO")},
    "loggers": {
        # Error responses are logged by SOGOMS itself, with the request id, in the
        # tenant's error log; Django's own request logger would print them twice.
        "django.request": {"level": "CRITICAL", "filters": ["redact_tokens"]},
    },
}
