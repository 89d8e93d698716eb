"""Liveness and readiness probes for process managers and load balancers.

`/health` answers as long as the process serves. `/ready` checks what a request needs:
the control database, every tenant database, and Redis when it is configured.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def ready(request: HttpRequest) -> JsonResponse:
    from tenants.registry import registry

    checks = {"database:default": _check_database("default")}
    for tenant in registry():
        checks[f"database:{tenant.app}"] = _check_database(tenant.db_alias)
    if settings.REDIS_URL:
        checks["redis"] = _check_redis(settings.REDIS_URL)
    healthy = all(check["status"] == "ok" for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status=200 if healthy else 503,
    )


def _timed(probe) -> dict:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # a probe reports any failure; it must not raise
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}


def _check_database(alias: str) -> dict:
    def probe() -> None:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")

    return _timed(probe)


def database_reachable(alias: str) -> bool:
    return _check_database(alias)["status"] == "ok"


def _check_redis(url: str) -> dict:
    def probe() -> None:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()

    return _timed(probe)
