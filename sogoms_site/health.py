"""Liveness and readiness probes for process managers and load balancers.

`/health` answers as long as the process serves. `/ready` checks what a request needs:
the control database, every tenant database, and Redis when it is configured.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from sogoms_site.probes import check_database, check_redis
from tenants.registry import registry


def health(_request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def ready(_request: HttpRequest) -> JsonResponse:
    checks = {"database:default": check_database("default")}
    for tenant in registry():
        checks[f"database:{tenant.app}"] = check_database(tenant.db_alias)
    if settings.REDIS_URL:
        checks["redis"] = check_redis(settings.REDIS_URL)
    healthy = all(check["status"] == "ok" for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status=200 if healthy else 503,
    )
