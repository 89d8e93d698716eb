"""Probes of the services a request needs: a database alias, Redis. They never raise."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db import connections


def _timed(probe: Callable[[], None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # a probe reports any failure; it must not raise
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}


def check_database(alias: str) -> dict[str, Any]:
    """`{"status": "ok", "ms": ...}` or `{"status": "down", "error": <exception class>}`."""

    def probe() -> None:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")

    return _timed(probe)


def database_reachable(alias: str) -> bool:
    return check_database(alias)["status"] == "ok"


def check_redis(url: str) -> dict[str, Any]:
    def probe() -> None:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()

    return _timed(probe)
