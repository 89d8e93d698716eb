"""The production HTTP server command, defined once.

granian's WSGI interface serves the API (chosen by measurement; docs/performance.md):
`WORKERS` processes (`default_workers()`), each running Django on one blocking thread, HTTP/1.1 keep-alive on
(granian's default), a worker that dies is started again. `sogoms ctl` runs this
command; `make serve-prod` and deploy/systemd/sogoms-http.service spell it out and
tests/site/test_serving.py holds them to it. The push socket is a process of its own
(sogoms-socket: uvicorn on the ASGI application), see docs/operations.md.

Extra granian settings come from its own environment variables (`GRANIAN_*`, e.g.
`GRANIAN_LOG_ACCESS_ENABLED=1` for an access log), so the command stays the same.
"""

from __future__ import annotations

from sogoms_site.env import env_int, env_secret

WSGI_APPLICATION = "sogoms_site.wsgi:application"
# One worker per core of the 2-core machine the figures are from, on the embedded SQLite:
# a request there waits for nothing but the CPU.
DEFAULT_WORKERS = 2
# Twice that on a database server (DATABASE_URL): a worker waits for each statement's and
# each commit's answer, and on MariaDB four workers served 16 % more writes than two, with
# reads unchanged (docs/performance.md).
DEFAULT_WORKERS_SERVER_DATABASE = 4
DEFAULT_THREADS = 1
DEFAULT_GRACE_SECONDS = 30  # requests in flight at SIGTERM may finish within this
# On SIGHUP granian starts each new worker, waits this long, then stops the old one: the
# new one must be serving by then (importing the site takes seconds on a busy machine).
RELOAD_OVERLAP_SECONDS = 15


def default_workers(database_url: str | None = None) -> int:
    """The documented number of HTTP workers for the control database `database_url`
    (default: this process's DATABASE_URL)."""
    url = env_secret("DATABASE_URL") if database_url is None else database_url
    return DEFAULT_WORKERS_SERVER_DATABASE if url else DEFAULT_WORKERS


def http_server_args(
    host: str,
    port: int | str,
    workers: int | str = DEFAULT_WORKERS,
    threads: int | str = DEFAULT_THREADS,
    *,
    grace: int | str = DEFAULT_GRACE_SECONDS,
    application: str = WSGI_APPLICATION,
) -> list[str]:
    """The arguments of `granian` (after the program name) serving `application` on host:port."""
    return [
        "--interface",
        "wsgi",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--respawn-failed-workers",
        "--workers-kill-timeout",
        str(grace),
        "--respawn-interval",
        str(RELOAD_OVERLAP_SECONDS),
        application,
    ]


def grace_seconds() -> int:
    """How long requests and tasks in flight may take to finish after SIGTERM
    (`SOGOMS_CTL_GRACE`): the servers are given it, and `sogoms ctl` kills a process still
    running `KILL_MARGIN` s after it."""
    return env_int("SOGOMS_CTL_GRACE", DEFAULT_GRACE_SECONDS)
