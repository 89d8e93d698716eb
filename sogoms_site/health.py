"""Liveness and readiness probes for process managers and load balancers.

`/health` answers as long as the process serves. `/ready` checks what a request needs:
the control database and Redis (when configured) on every call, and the tenant databases
as `tenants.availability.tenant_checks()` last found them (a sweep in the background at
most every SOGOMS_TENANT_PROBE_SECONDS, so a call costs the same with one tenant or a
thousand; in a process's first seconds the tenants are not listed yet). A
tenant whose database is down makes the process "degraded" (200, the tenant named in
`unavailable`): the other tenants are served, so the balancer must keep sending them.
The control plane (control database, Redis) down is "down", 503.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from sogoms_site.probes import check_database, check_redis
from tenants.availability import tenant_checks


def health(_request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def ready(_request: HttpRequest) -> JsonResponse:
    checks = {"database:default": check_database("default")}
    if settings.REDIS_URL:
        checks["redis"] = check_redis(settings.REDIS_URL)
    control_ok = all(check["status"] == "ok" for check in checks.values())
    tenants, age = tenant_checks()
    unavailable = [app for app, check in tenants.items() if check["status"] != "ok"]
    checks.update({f"database:{app}": check for app, check in tenants.items()})
    if not control_ok:
        status, code = "down", 503
    else:
        status, code = ("degraded" if unavailable else "ok"), 200
    body = {
        "status": status,
        "checks": checks,
        "unavailable": unavailable,
        # seconds since the tenant databases were checked; None: the first check still runs
        "tenants_checked_ago": None if age is None else round(age, 1),
    }
    return JsonResponse(body, status=code)
