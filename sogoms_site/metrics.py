"""Prometheus metrics: the definitions every app counts on, and their exposition.

Floor 1, like the rest of the shared helpers: it imports no app. An app counts what it
does with one call of a helper below (a mail outcome, a cron run, a push socket or
event); what needs the databases at scrape time (the outbox, tenant reachability) is
plugged in by the composition root with `register_collector()`.

Label values stay bounded: `app` is one of the configured tenants (or "-": the site's
own paths, unknown hosts, the control database), `route` a URL pattern (or
"unmatched"), `method` a known HTTP method (or "other"), task names those Celery runs.

Processes: with `PROMETHEUS_MULTIPROC_DIR` in the environment when the process starts
(prometheus-client chooses its value store at import), every process (gunicorn and
uvicorn workers, Celery worker and beat) writes its samples to files there and a scrape
of any of them sums them all; the push-connection gauge counts live processes only.
Without it the process shows its own registry (the embedded default: one process).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Container, Iterable
from typing import Any, Protocol, TypeVar

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

NO_APP = "-"
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "sogoms_http_requests", "HTTP requests answered.", ["app", "method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "sogoms_http_request_duration_seconds",
    "Time from the request reaching Django to its response.",
    ["app", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_QUERY_DURATION = Histogram(
    "sogoms_db_query_duration_seconds",
    "SQL statements by database: a tenant's (app) or the control database (app=-).",
    ["app"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)
MAIL_SENT = Counter(
    "sogoms_mail_sent", "Delivery attempts by outcome (sent, failed, dead, released).", ["app", "outcome"]
)
CRON_RUNS = Counter("sogoms_cron_runs", "Finished cron runs by outcome.", ["app", "job", "outcome"])
PUSH_CONNECTIONS = Gauge(
    "sogoms_push_connections", "Open push sockets.", ["app"], multiprocess_mode="livesum"
)
PUSH_MESSAGES = Counter(
    "sogoms_push_messages", "Push events published (publish, notify, broadcast).", ["app"]
)
PUSH_PUBLISH_FAILURES = Counter(
    "sogoms_push_publish_failures",
    "Push messages the channel layer did not take (logged as errors), by reason (refused, queue_full).",
    ["reason"],
)
RATE_LIMITED = Counter(
    "sogoms_rate_limited", "Requests refused with 429 RATE_LIMITED, by route.", ["app", "scope"]
)
CELERY_TASKS = Counter("sogoms_celery_tasks", "Celery tasks run, by final state.", ["task", "outcome"])
CELERY_DURATION = Histogram(
    "sogoms_celery_task_duration_seconds",
    "Celery task run time.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300),
)

# Set by the composition root: the configured tenants' names, read at each use so a
# reloaded config counts its new tenants at once.
_app_names: list[Callable[[], Container[str]]] = []
_collectors: list[Collector] = []
_scrape_registry: list[CollectorRegistry] = []
_open_sockets: dict[int, str] = {}
_task_started: dict[str, float] = {}


def multiprocess_dir() -> str:
    """The shared directory of multiprocess mode, "" when each process counts alone."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def set_app_names(names: Callable[[], Container[str]]) -> None:
    """Tell which app labels are allowed (the configured tenants); others become "-"."""
    _app_names[:] = [names]


def app_label(app: str) -> str:
    if not _app_names:
        return app or NO_APP
    try:
        known = app in _app_names[0]()
    except Exception:  # a config that does not load names no tenant
        known = False
    return app if known else NO_APP


def method_label(method: str | None) -> str:
    return method if method in METHODS else "other"


# The labelled children of the request metrics, by their labels: `labels()` validates and
# locks on every call, a dict look-up does not. Bounded as the labels are (by the caller).
_request_children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}


def observe_request(app: str, method: str | None, route: str, status: int, seconds: float) -> None:
    """One answered HTTP request; `app` and `route` are bounded by the caller."""
    key = (app, method_label(method), route, status)
    children = _request_children.get(key)
    if children is None:
        children = _request_children[key] = (
            HTTP_REQUESTS.labels(app, key[1], route, str(status)),
            HTTP_DURATION.labels(app, route),
        )
    children[0].inc()
    children[1].observe(seconds)
    if status == 429:
        RATE_LIMITED.labels(app, route).inc()


class MailOutcome(Protocol):
    sent: int
    failed: int
    dead: int
    released: int


Outcome = TypeVar("Outcome", bound=MailOutcome)


def mail_outcome(app: str, outcome: Outcome) -> Outcome:
    """Count one delivery round of `app`'s messages; returns `outcome` unchanged."""
    label = app_label(app)
    for name in ("sent", "failed", "dead", "released"):
        count = getattr(outcome, name)
        if count:
            MAIL_SENT.labels(label, name).inc(count)
    return outcome


def mail_dead(app: str) -> None:
    """A message found dead outside a delivery round (its worker vanished)."""
    MAIL_SENT.labels(app_label(app), "dead").inc()


def cron_run(app: str, job: str, outcome: str) -> None:
    label = app_label(app)
    CRON_RUNS.labels(label, job if label != NO_APP else NO_APP, outcome).inc()


def push_opened(socket: object, app: str) -> None:
    """A push socket of `app` is open; counted once however often it is called."""
    if id(socket) not in _open_sockets:
        label = _open_sockets[id(socket)] = app_label(app)
        PUSH_CONNECTIONS.labels(label).inc()


def push_closed(socket: object) -> None:
    """The socket is gone; a socket never counted as open (refused) changes nothing."""
    label = _open_sockets.pop(id(socket), None)
    if label is not None:
        PUSH_CONNECTIONS.labels(label).dec()


def push_published(app: str) -> None:
    PUSH_MESSAGES.labels(app_label(app)).inc()


def push_publish_failed(count: int, reason: str) -> None:
    PUSH_PUBLISH_FAILURES.labels(reason).inc(count)


def timed_query(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict) -> Any:
    """A `connection.execute_wrapper`: times every statement by database."""
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        alias: str = context["connection"].alias
        app = app_label(alias[7:]) if alias.startswith("tenant_") else NO_APP
        DB_QUERY_DURATION.labels(app).observe(time.perf_counter() - started)


def instrument_connection(connection: Any, **_kwargs: Any) -> None:
    """`connection_created` receiver: a (re)opened connection keeps one timing wrapper."""
    if timed_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(timed_query)


def task_started(task_id: str | None = None, **_kwargs: Any) -> None:
    if task_id:
        _task_started[task_id] = time.perf_counter()


def task_finished(task_id: str | None = None, task: Any = None, state: str | None = None, **_kw: Any) -> None:
    started = _task_started.pop(task_id or "", None)
    name = getattr(task, "name", None) or "unknown"
    CELERY_TASKS.labels(name, (state or "unknown").lower()).inc()
    if started is not None:
        CELERY_DURATION.labels(name).observe(time.perf_counter() - started)


def instrument_celery() -> None:
    """Count and time every task this process runs (a worker's, or the embedded one's)."""
    from celery import signals

    signals.task_prerun.connect(task_started, weak=False)
    signals.task_postrun.connect(task_finished, weak=False)


def forget_dead_processes() -> int:
    """Drop the live-only gauges (open sockets) of processes that no longer run.

    Counters and histograms of a dead process stay: their sums must not go backwards.
    Runs at process start and at each scrape; returns how many processes were dropped.
    """
    path = multiprocess_dir()
    if not path:
        return 0
    try:
        names = os.listdir(path)
    except OSError:
        return 0
    dropped = 0
    for pid in {
        name.rsplit("_", 1)[-1].removesuffix(".db") for name in names if name.startswith("gauge_live")
    }:
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), path)
            dropped += 1
    return dropped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def register_collector(collector: Collector) -> None:
    """A collector run at each scrape (it may read the databases: keep it bounded)."""
    _collectors.append(collector)
    _scrape_registry.clear()


class _ThisProcess:
    """The process's own registry, when samples are not shared through files."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def _registry() -> CollectorRegistry:
    if not _scrape_registry:
        registry = CollectorRegistry()
        if multiprocess_dir():
            multiprocess.MultiProcessCollector(registry)
        else:
            registry.register(_ThisProcess())
        for collector in _collectors:
            registry.register(collector)
        _scrape_registry.append(registry)
    return _scrape_registry[0]


def exposition() -> bytes:
    """The text format of every metric: all processes' samples, then the scrape-time ones."""
    forget_dead_processes()
    return generate_latest(_registry())
