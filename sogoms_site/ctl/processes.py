"""The processes `sogoms ctl` runs, in start order, with the commands that run them."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from django.conf import settings

from sogoms_site.env import env_int, env_str
from sogoms_site.serving import default_workers, grace_seconds, http_server_args


@dataclass(frozen=True)
class Process:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)  # beside the supervisor's own


def _host_port(bind: str) -> tuple[str, str]:
    host, _, port = bind.rpartition(":")
    return host or "127.0.0.1", port


def separate_workers() -> bool:
    """Worker and beat are processes of their own only with a real broker (REDIS_URL);
    otherwise each server process runs them in threads (sogoms_site.embedded)."""
    return not settings.SOGOMS_EMBEDDED_WORKER


def processes() -> list[Process]:
    """http, socket, then worker and beat when they do not run embedded."""
    # `python -m` of this interpreter, so the processes run in the same virtualenv.
    python = [sys.executable, "-m"]
    workers = env_int("SOGOMS_HTTP_WORKERS", default_workers())
    grace = str(grace_seconds())
    http_host, http_port = _host_port(env_str("SOGOMS_HTTP_BIND", "127.0.0.1:8000"))
    socket_host, socket_port = _host_port(env_str("SOGOMS_SOCKET_BIND", "127.0.0.1:8001"))
    found = [
        Process("http", [*python, "granian", *http_server_args(http_host, http_port, workers, grace=grace)]),
        Process(
            "socket",
            [
                *python,
                "sogoms_site.socketserver",  # uvicorn, closing push sockets with 1001 when it stops
                "--host",
                socket_host,
                "--port",
                socket_port,
                "--timeout-graceful-shutdown",
                grace,
            ],
        ),
    ]
    if separate_workers():
        # SIGTERM as a soft shutdown: tasks finish within SOGOMS_WORKER_SOFT_SHUTDOWN_SECONDS,
        # those still running go back to the queue (docs/operations.md, "Graceful shutdown").
        worker = [*python, "celery", "-A", "sogoms_site", "worker", "-l", "info"]
        found.append(Process("worker", worker, {"REMAP_SIGTERM": "SIGQUIT"}))
        found.append(Process("beat", [*python, "celery", "-A", "sogoms_site", "beat", "-l", "info"]))
    return found


# The servers' own bound ends first; this margin is for their exit after it.
KILL_MARGIN = 5
