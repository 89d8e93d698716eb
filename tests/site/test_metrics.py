"""GET /metrics: who may read it, what moves when things happen, bounded labels, processes."""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from uuid import uuid4

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cron import services as cron_services
from mail import services as mail_services
from mail import tasks as mail_tasks
from mail.models import OutboxMessage
from realtime import services as push_services
from tests.conftest import PASSWORD, create_user, error_of
from tests.mail.conftest import deliver_due
from tests.realtime.conftest import access_token, empty_tenant_tables, open_socket, run
from tests.realtime.servers import free_port, prepare_site, uvicorn
from tests.tenants.test_availability import unreachable

pytestmark = pytest.mark.django_db(databases="__all__")

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client, host: str = "localhost") -> Samples:
    response = client.get("/metrics", HTTP_HOST=host)
    assert response.status_code == 200, response.content
    return parse(response.content.decode())


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def series(samples: Samples, prefix: str) -> set:
    return {key for key in samples if key[0].startswith(prefix)}


# Access


def test_metrics_answer_on_an_operator_host_in_the_text_format(client):
    response = client.get("/metrics", HTTP_HOST="localhost")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = parse(response.content.decode())
    assert value(samples, "sogoms_build_info", version="0.1.0", commit=_commit(samples)) == 1


def _commit(samples: Samples) -> str:
    (labels,) = [dict(labels) for name, labels in samples if name == "sogoms_build_info"]
    return labels["commit"]


def test_metrics_are_an_unknown_path_on_a_tenant_host_and_on_an_unknown_host(client):
    error_of(client.get("/metrics", HTTP_HOST="alpha.test"), 404, "NOT_FOUND")
    error_of(client.get("/metrics", HTTP_HOST="nobody.test"), 404, "TENANT_NOT_FOUND")


def test_the_bearer_token_opens_metrics_on_any_host_and_a_wrong_one_does_not(client, settings):
    settings.SOGOMS_METRICS_TOKEN = "a metrics token of 32 characters"

    for host in ("alpha.test", "nobody.test"):
        good = client.get(
            "/metrics", HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {settings.SOGOMS_METRICS_TOKEN}"
        )
        assert good.status_code == 200, host
        assert b"sogoms_http_requests_total" in good.content
    served = {"app": "-", "method": "GET", "route": "metrics", "status": "200"}
    assert value(scrape(client), "sogoms_http_requests_total", **served) >= 2
    error_of(
        client.get("/metrics", HTTP_HOST="alpha.test", HTTP_AUTHORIZATION="Bearer wrong"), 404, "NOT_FOUND"
    )
    wrong = client.get("/metrics", HTTP_HOST="nobody.test", HTTP_AUTHORIZATION="Bearer a metrics token of 32")
    error_of(wrong, 404, "TENANT_NOT_FOUND")
    error_of(client.get("/metrics", HTTP_HOST="alpha.test", HTTP_AUTHORIZATION="Bearer "), 404, "NOT_FOUND")


def test_without_a_configured_token_no_bearer_opens_metrics(client, settings):
    settings.SOGOMS_METRICS_TOKEN = ""

    error_of(client.get("/metrics", HTTP_HOST="alpha.test", HTTP_AUTHORIZATION="Bearer "), 404, "NOT_FOUND")


def test_the_token_is_read_from_its_file(tmp_path, monkeypatch):
    from sogoms_site.env import env_secret

    (tmp_path / "token").write_text("from the file\n")
    monkeypatch.setenv("SOGOMS_METRICS_TOKEN_FILE", str(tmp_path / "token"))

    assert env_secret("SOGOMS_METRICS_TOKEN") == "from the file"


# HTTP


def test_requests_are_counted_by_tenant_route_pattern_and_status(client, alpha_api):
    before = scrape(client)

    alpha_api.get("auth/me")
    alpha_api.get("auth/me")
    client.get("/health", HTTP_HOST="alpha.test")

    after = scrape(client)
    me = {"app": "alpha", "route": "auth/me"}
    assert (
        value(after, "sogoms_http_requests_total", method="GET", status="401", **me)
        - value(before, "sogoms_http_requests_total", method="GET", status="401", **me)
        == 2
    )
    assert (
        value(after, "sogoms_http_request_duration_seconds_count", **me)
        - value(before, "sogoms_http_request_duration_seconds_count", **me)
        == 2
    )
    assert (
        value(after, "sogoms_http_request_duration_seconds_bucket", le="+Inf", **me)
        - value(before, "sogoms_http_request_duration_seconds_bucket", le="+Inf", **me)
        == 2
    )
    assert value(after, "sogoms_http_request_duration_seconds_sum", **me) > value(
        before, "sogoms_http_request_duration_seconds_sum", **me
    )
    health = {"app": "-", "method": "GET", "route": "health", "status": "200"}
    assert value(after, "sogoms_http_requests_total", **health) > value(
        before, "sogoms_http_requests_total", **health
    )


def test_a_resource_route_is_its_pattern_not_the_path(client, alpha_api, alice):
    token = alpha_api.token_for("alice@example.com")
    alpha_api.get("projects/12345", token=token)

    samples = scrape(client)
    # alpha's routes (the admin's own patterns name its models, other tests may have used them)
    routes = {
        dict(labels).get("route")
        for name, labels in samples
        if name == "sogoms_http_requests_total" and dict(labels).get("app") == "alpha"
    }
    assert not any("12345" in route or "projects" in route for route in routes), routes
    assert "<str:resource>/<str:pk>" in routes


def test_unknown_paths_and_hosts_do_not_grow_the_series(client, alpha_api):
    alpha_api.get("no/such/route")
    client.get("/whatever", HTTP_HOST="nobody.test")
    client.post("/whatever", HTTP_HOST="nobody.test")
    client.generic("BREW", "/coffee", HTTP_HOST="nobody.test")
    before = series(scrape(client), "sogoms_http_")

    for i in range(40):
        alpha_api.get(f"no/such/route/{uuid4()}")
        client.get(f"/{uuid4()}/{i}", HTTP_HOST=f"{uuid4().hex}.test")
        client.post(f"/{uuid4()}", HTTP_HOST="nobody.test")
        client.generic("BREW", f"/{uuid4()}", HTTP_HOST="nobody.test")

    after = series(scrape(client), "sogoms_http_")
    assert after - before == set()
    labels = {value for _, pairs in after for _, value in pairs}
    assert "unmatched" in labels and "other" in labels
    assert not any(".test" in label or "no/such" in label for label in labels)


def test_database_time_is_measured_per_tenant_database(client, alpha_api):
    before = scrape(client)

    alpha_api.register("timed@example.com")

    after = scrape(client)
    for app in ("alpha", "-"):
        name = "sogoms_db_query_duration_seconds_count"
        assert value(after, name, app=app) > value(before, name, app=app), app


# What the apps count


def test_delivered_mail_and_the_outbox_move(client, alpha):
    mail_services.mail_send(tenant=alpha, to="someone@example.com", subject="Hi", body="Hello")
    queued = scrape(client)
    assert value(queued, "sogoms_mail_outbox_messages", app="alpha", status="queued") == 1
    assert value(queued, "sogoms_mail_outbox_messages", app="beta", status="queued") == 0
    assert value(queued, "sogoms_mail_outbox_oldest_queued_seconds", app="alpha") >= 0
    assert ("sogoms_mail_outbox_oldest_queued_seconds", frozenset({("app", "beta")})) in queued

    assert deliver_due().sent == 1

    sent = scrape(client)
    assert (
        value(sent, "sogoms_mail_sent_total", app="alpha", outcome="sent")
        == value(queued, "sogoms_mail_sent_total", app="alpha", outcome="sent") + 1
    )
    assert value(sent, "sogoms_mail_outbox_messages", app="alpha", status="queued") == 0


def test_mail_of_a_tenant_no_longer_configured_is_dead_under_app_dash(client, alpha):
    message = mail_services.mail_send(tenant=alpha, to="someone@example.com", subject="Hi", body="Hello")
    OutboxMessage.objects.filter(pk=message.pk).update(app="gone")
    before = scrape(client)

    deliver_due()

    after = scrape(client)
    dead = {"app": "-", "outcome": "dead"}
    assert (
        value(after, "sogoms_mail_sent_total", **dead) == value(before, "sogoms_mail_sent_total", **dead) + 1
    )
    assert not any(("app", "gone") in labels for _, labels in after)


def test_cron_runs_are_counted_by_job_and_outcome(client, alpha):
    before = scrape(client)

    cron_services.execute(cron_services.trigger(tenant=alpha, name="greet").pk)

    labels = {"app": "alpha", "job": "greet", "outcome": "succeeded"}
    assert (
        value(scrape(client), "sogoms_cron_runs_total", **labels)
        == value(before, "sogoms_cron_runs_total", **labels) + 1
    )


def test_published_push_events_are_counted(client, alpha):
    before = value(scrape(client), "sogoms_push_messages_total", app="alpha")

    push_services.broadcast(app="alpha", channel="notifications", data={"n": 1})

    assert value(scrape(client), "sogoms_push_messages_total", app="alpha") == before + 1


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_open_push_sockets_are_a_gauge(client, alpha):
    user = create_user(alpha, "socket@example.com")
    try:

        def connections() -> float:
            return value(scrape(client), "sogoms_push_connections", app="alpha")

        async def scenario() -> tuple[float, float]:
            from asgiref.sync import sync_to_async

            socket_ = await open_socket("alpha.test", access_token(alpha, user))
            opened = await sync_to_async(connections)()
            await socket_.disconnect()
            return opened, await sync_to_async(connections)()

        before = connections()
        opened, closed = run(scenario())
        assert (opened, closed) == (before + 1, before)
    finally:
        empty_tenant_tables()


def test_rate_limited_requests_are_counted_by_tenant_and_route(client, alpha_api):
    labels = {"app": "alpha", "scope": "auth/register"}
    before = value(scrape(client), "sogoms_rate_limited_total", **labels)
    body = {"password": PASSWORD, "name": "New"}

    statuses = [
        alpha_api.post("auth/register", {**body, "email": f"n{i}@example.com"}).status_code for i in range(8)
    ]

    assert statuses.count(429) == 2
    assert value(scrape(client), "sogoms_rate_limited_total", **labels) == before + 2


def test_celery_tasks_are_counted_and_timed(client):
    before = scrape(client)

    mail_tasks.sweep.apply()

    after = scrape(client)
    done = {"task": "mail.sweep", "outcome": "success"}
    assert (
        value(after, "sogoms_celery_tasks_total", **done)
        == value(before, "sogoms_celery_tasks_total", **done) + 1
    )
    count = "sogoms_celery_task_duration_seconds_count"
    assert value(after, count, task="mail.sweep") == value(before, count, task="mail.sweep") + 1


def test_a_tenant_whose_database_is_unreachable_is_down(client, tmp_path, settings):
    settings.SOGOMS_TENANT_RETRY_SECONDS = 0  # nothing of this test is remembered after it
    settings.SOGOMS_TENANT_PROBE_SECONDS = 0  # each scrape checks (the period: test_health.py)
    samples = scrape(client)
    assert value(samples, "sogoms_tenant_up", app="alpha") == 1
    assert value(samples, "sogoms_tenant_up", app="beta") == 1

    with unreachable("tenant_beta", tmp_path):
        samples = scrape(client)

    assert value(samples, "sogoms_tenant_up", app="alpha") == 1
    assert value(samples, "sogoms_tenant_up", app="beta") == 0
    assert ("sogoms_tenant_up", frozenset({("app", "beta")})) in samples


# Processes


@pytest.fixture
def two_servers(tmp_path) -> Iterator[tuple[str, str]]:
    env = prepare_site(tmp_path)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
    with ExitStack() as stack:
        first = stack.enter_context(uvicorn(env, free_port()))
        second = stack.enter_context(uvicorn(env, free_port()))
        yield first, second


def fetch(address: str, path: str) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://{address}{path}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  (http, loopback)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.skipif(sys.platform == "win32", reason="multiprocess files need fork-style processes")
def test_two_processes_sharing_the_directory_show_the_sum(two_servers, tmp_path):
    first, second = two_servers
    for address, times in ((first, 3), (second, 5)):
        for _ in range(times):
            assert fetch(address, "/api/auth/me")[0] == 401

    labels = {"app": "alpha", "method": "GET", "route": "auth/me", "status": "401"}
    for address in (first, second):
        status, body = fetch(address, "/metrics")
        assert status == 200
        assert value(parse(body.decode()), "sogoms_http_requests_total", **labels) == 8
    files = os.listdir(tmp_path / "metrics")
    assert len({name.rsplit("_", 1)[-1] for name in files if name.startswith("counter_")}) == 2, files
