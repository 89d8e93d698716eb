"""Settings of the hand-written DRF baseline: the smallest sensible production project.

One app (`projects`), JWT auth (simplejwt), no admin, no sessions, no templates.
The database comes from DRF_BENCH_DATABASE_URL (sqlite:////abs/path or
mysql://root@127.0.0.1:3306/name). SQLite gets the same tuning SOGOMS gives its own
SQLite files (WAL, IMMEDIATE transactions). CONN_MAX_AGE comes from
DRF_BENCH_CONN_MAX_AGE, which the benchmark sets to what Django recommends for the
server: 0 under ASGI (Django's docs: persistent connections must be disabled there;
each request runs in its own thread and context, so a kept connection is never reused
and piles up until MariaDB answers "Too many connections"), 60 under WSGI workers.
"""

import os
from datetime import timedelta

import dj_database_url

SECRET_KEY = os.environ.get("DRF_BENCH_SECRET_KEY", "drf-baseline-bench-only-not-a-secret-0123456789abcdef")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "projects",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "drf_baseline.urls"
ASGI_APPLICATION = "drf_baseline.asgi.application"
APPEND_SLASH = False

_url = os.environ.get("DRF_BENCH_DATABASE_URL", "sqlite:////tmp/drf_baseline.sqlite3")
_db = dj_database_url.parse(_url, conn_max_age=int(os.environ.get("DRF_BENCH_CONN_MAX_AGE", "0")))
_options = _db.setdefault("OPTIONS", {})
if _db["ENGINE"].endswith("sqlite3"):
    _options.update(
        transaction_mode="IMMEDIATE",
        timeout=20,
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    )
else:
    _options.update(charset="utf8mb4", init_command="SET sql_mode='STRICT_TRANS_TABLES'")
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Fast hashing: users are created once by the seed command, never logged in during the run.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

USE_TZ = True
TIME_ZONE = "UTC"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(hours=24),
    "ALGORITHM": "HS256",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
