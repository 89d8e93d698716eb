"""The processes `sogoms ctl` runs, in start order, with the commands that run them."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from django.conf import settings

from sogoms_site.env import env_int, env_str
from sogoms_site.serving import DEFAULT_WORKERS, http_server_args


@dataclass(frozen=True)
class Process:
    name: str
    command: list[str]


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
    workers = env_int("SOGOMS_HTTP_WORKERS", DEFAULT_WORKERS)
    http_host, http_port = _host_port(env_str("SOGOMS_HTTP_BIND", "127.0.0.1:8000"))
    socket_host, socket_port = _host_port(env_str("SOGOMS_SOCKET_BIND", "127.0.0.1:8001"))
    found = [
        Process("http", [*python, "granian", *http_server_args(http_host, http_port, workers)]),
        Process(
            "socket",
            [
                *python,
                "uvicorn",
                "sogoms_site.asgi:application",
                "--host",
                socket_host,
                "--port",
                socket_port,
            ],
        ),
    ]
    if separate_workers():
        found.append(Process("worker", [*python, "celery", "-A", "sogoms_site", "worker", "-l", "info"]))
        found.append(Process("beat", [*python, "celery", "-A", "sogoms_site", "beat", "-l", "info"]))
    return found


def grace_seconds() -> int:
    """How long a process may take to stop after SIGTERM before it is killed."""
    return env_int("SOGOMS_CTL_GRACE", 30)
