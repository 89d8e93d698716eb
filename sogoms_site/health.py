"""Liveness and readiness probes for process managers and load balancers.

`/health` answers as long as the process serves. `/ready` checks what a request needs:
the control database, every tenant database, and Redis when it is configured. A tenant
whose database is down makes the process "degraded" (200, the tenant named in
`unavailable`): the other tenants are served, so the balancer must keep sending them.
The control plane (control database, Redis) down is "down", 503.
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
    if settings.REDIS_URL:
        checks["redis"] = check_redis(settings.REDIS_URL)
    control_ok = all(check["status"] == "ok" for check in checks.values())
    unavailable = []
    for tenant in registry():
        check = checks[f"database:{tenant.app}"] = check_database(tenant.db_alias)
        if check["status"] != "ok":
            unavailable.append(tenant.app)
    if not control_ok:
        status, code = "down", 503
    else:
        status, code = ("degraded" if unavailable else "ok"), 200
    return JsonResponse({"status": status, "checks": checks, "unavailable": unavailable}, status=code)
