"""`GET /metrics`: who may read it, and what is read from the databases at scrape time.

Part of the composition root (it reads the tenant registry and the outbox), beside the
floor-1 definitions in `sogoms_site.metrics`. Access: the operator hosts, like /ready
(the tenant middleware's rule), or any host with `Authorization: Bearer <token>` where
the token is `SOGOMS_METRICS_TOKEN_FILE`'s; a wrong token is treated like none, so on a
tenant's host the path stays an unknown one.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.core.signals import setting_changed
from django.db.backends.signals import connection_created
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric

from sogoms_site import metrics
from sogoms_site.build import build_commit, build_version

logger = logging.getLogger("sogoms.metrics")


def metrics_view(_request: HttpRequest) -> HttpResponse:
    # The classic text format's type: Prometheus 2 (Debian's) and 3 both read it.
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def bearer_allowed(request: HttpRequest) -> bool:
    """The request carries the metrics token (compared in constant time)."""
    token: str = settings.SOGOMS_METRICS_TOKEN
    header: str = request.META.get("HTTP_AUTHORIZATION", "")
    if not token or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), token.encode())


class BuildInfo:
    """`sogoms_build_info{version,commit} 1`: which code a process runs."""

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("sogoms_build_info", "The running build.", labels=["version", "commit"])
        family.add_metric([build_version(), build_commit() or "unknown"], 1)
        yield family


class TenantsUp:
    """`sogoms_tenant_up{app}`: 1 when the tenant's database answers, as /ready last found it.

    The checks are `tenants.availability.tenant_checks()`: swept at most once per
    SOGOMS_TENANT_PROBE_SECONDS, so a scrape does not query every tenant database; a
    tenant a request found down is 0 at once."""

    def collect(self) -> Iterator[Metric]:
        from tenants.availability import tenant_checks

        family = GaugeMetricFamily("sogoms_tenant_up", "The tenant's database answers.", labels=["app"])
        checks, _age = tenant_checks()
        for app, check in checks.items():
            family.add_metric([app], 1 if check["status"] == "ok" else 0)
        yield family


class Outbox:
    """The outbox by tenant and status, and the age of each tenant's oldest queued message.

    One grouped query over the rows that are not `sent` (the (app, status) index):
    waiting rows are few unless delivery is stuck, dead ones are kept for the retention
    period only. A tenant without such rows shows 0, so alerts see a series."""

    STATUSES = ("queued", "sending", "failed", "dead")

    def collect(self) -> Iterator[Metric]:
        from mail.models import OutboxMessage
        from tenants.registry import registry

        apps = list(registry().tenants)
        counts = {(app, status): 0 for app in apps for status in self.STATUSES}
        oldest: dict[str, datetime] = {}
        try:
            rows = (
                OutboxMessage.objects.filter(app__in=apps, status__in=self.STATUSES)
                .values_list("app", "status")
                .annotate(n=Count("id"), first=Min("created_at"))
                .order_by()
            )
            for app, status, n, first in rows:
                counts[app, status] = n
                if status == "queued":
                    oldest[app] = first
        except Exception:  # the control database down: /ready says so; no outbox series
            logger.warning("metrics: the outbox could not be read", exc_info=True)
            return
        messages = GaugeMetricFamily(
            "sogoms_mail_outbox_messages", "Outbox messages not sent, by status.", labels=["app", "status"]
        )
        for (app, status), n in counts.items():
            messages.add_metric([app, status], n)
        age = GaugeMetricFamily(
            "sogoms_mail_outbox_oldest_queued_seconds",
            "Age of the oldest message waiting for its first attempt (0: none).",
            labels=["app"],
        )
        now = timezone.now()
        for app in apps:
            age.add_metric([app], (now - oldest[app]).total_seconds() if app in oldest else 0)
        yield messages
        yield age


def install() -> None:
    """Wire the metrics into this process (from the site's AppConfig.ready())."""
    from tenants.registry import registry

    metrics.set_app_names(lambda: registry().tenants)
    connection_created.connect(metrics.instrument_connection, weak=False)
    for collector in (BuildInfo(), TenantsUp(), Outbox()):
        metrics.register_collector(collector)
    setting_changed.connect(_forget_build, weak=False)
    metrics.forget_dead_processes()


def _forget_build(setting: str, **_kwargs: object) -> None:
    if setting == "SOGOMS_BUILD_COMMIT":
        build_commit.cache_clear()
