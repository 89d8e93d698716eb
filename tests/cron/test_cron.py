"""Scheduled jobs: schedules, the config, one run per tick, retries, SSRF, the API and CLI.

Tenant alpha's jobs are in tests/config/cron/alpha.yaml.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from io import StringIO
from types import MappingProxyType

import pytest
from django.core.management import call_command
from django.utils import timezone

from cron import services as cron_services
from cron.config import CronSettings, cron_settings, load_cron
from cron.models import CronJob, JobRun, RunStatus
from cron.schedule import parse_cron
from crud.runtime import bound_resource
from mail.models import OutboxMessage
from tenants import registry as registry_module
from tenants.config.loader import LoadOptions, LoadResult, load_config
from tenants.config.model import Registry
from tests.conftest import create_user, data_of, error_of, run_concurrently
from tests.tenants.test_config import Site

pytestmark = pytest.mark.django_db(databases="__all__")
MONDAY_0700 = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


# --- schedules ------------------------------------------------------------------------------


def test_a_schedule_matches_its_minutes_in_its_time_zone():
    weekdays = parse_cron("0 7 * * mon-fri", "Europe/Paris")
    assert weekdays.matches(datetime(2026, 12, 7, 6, 0, tzinfo=UTC))  # 07:00 in Paris, a Monday
    assert not weekdays.matches(MONDAY_0700)  # 08:00 in Paris
    assert not weekdays.matches(datetime(2026, 12, 6, 6, 0, tzinfo=UTC))  # a Sunday
    assert weekdays.next_after(datetime(2026, 12, 4, 7, 0, tzinfo=UTC)) == datetime(
        2026, 12, 7, 6, 0, tzinfo=UTC
    )


def test_day_of_month_and_day_of_week_together_match_either_as_in_cron():
    schedule = parse_cron("0 0 13 * 5")  # the 13th, or any Friday
    assert schedule.matches(datetime(2026, 12, 13, 0, 0, tzinfo=UTC))  # a Sunday the 13th
    assert schedule.matches(datetime(2026, 12, 4, 0, 0, tzinfo=UTC))  # a Friday the 4th
    assert not schedule.matches(datetime(2026, 12, 5, 0, 0, tzinfo=UTC))


def test_steps_lists_macros_and_seven_for_sunday():
    assert parse_cron("*/20 * * * *").minutes == {0, 20, 40}
    assert parse_cron("0 9,17 * * *").hours == {9, 17}
    assert (parse_cron("@hourly").minutes, len(parse_cron("@hourly").hours)) == ({0}, 24)
    assert parse_cron("0 0 * * 7").weekdays == {0}
    assert parse_cron("0 0 * * 5-7").weekdays == {5, 6, 0}


@pytest.mark.parametrize(
    ("expression", "zone", "message"),
    [
        ("61 * * * *", "UTC", "the minute field '61' is not valid"),
        ("* * *", "UTC", "five fields"),
        ("0 0 * * funday", "UTC", "the day of week field 'funday'"),
        ("* * * * *", "Mars/Olympus", "'Mars/Olympus' is not a time zone"),
    ],
)
def test_a_bad_schedule_says_what_is_wrong(expression, zone, message):
    with pytest.raises(ValueError, match=message):
        parse_cron(expression, zone)


# --- the config -----------------------------------------------------------------------------


def load_site(site: Site) -> LoadResult:
    from crud.config import load_resources
    from mail.config import load_mail

    options = LoadOptions(
        config_dir=site.config,
        base_dir=site.base,
        var_dir=site.var,
        sections=(load_resources, load_mail, load_cron),
    )
    return load_config(options)


def cron_site(tmp_path, jobs: str) -> Site:
    site = Site(tmp_path)
    site.tenant("shop")
    (site.config / "schema").mkdir()
    (site.config / "schema" / "shop.yaml").write_text(
        "tables:\n  notes:\n    fields:\n      id: { type: int, primary: true, auto: true }\n"
        "      title: { type: string }\n"
    )
    (site.config / "emails" / "shop").mkdir(parents=True)
    (site.config / "emails" / "shop" / "hello.yaml").write_text("subject: Hi\nbody: Hello\n")
    (site.config / "cron").mkdir()
    (site.config / "cron" / "shop.yaml").write_text(jobs)
    return site


def test_every_job_problem_is_reported_with_its_key_path(tmp_path):
    site = cron_site(
        tmp_path,
        """
allow_hosts: ["not a host!"]
jobs:
  bad_schedule: { schedule: "0 25 * * *", kind: service, params: { action: broadcast, channel: notes } }
  bad_zone: { schedule: "@daily", timezone: Nowhere/City, kind: service,
              params: { action: broadcast, channel: x } }
  no_template: { schedule: "@daily", kind: service,
                 params: { action: send_template, template: nope, to: a@b.co } }
  no_resource: { schedule: "@daily", kind: query_email, params: { resource: nope, template: hello } }
  bad_query: { schedule: "@daily", kind: query_email,
               params: { resource: notes, query: sort=nope, template: hello } }
  bad_url: { schedule: "@daily", kind: http, params: { url: "ftp://files.example/x" } }
  unknown_action: { schedule: "@daily", kind: service, params: { action: reboot } }
  typo: { schedule: "@daily", kind: service, retires: 2, params: { action: broadcast, channel: x } }
""",
    )
    found = [str(problem) for problem in load_site(site).problems]
    expected_prefixes = [
        "cron/shop.yaml: allow_hosts: allow-list entry 'not a host!'",
        "cron/shop.yaml: jobs.bad_schedule.schedule: '0 25 * * *': the hour field '25' is not valid",
        "cron/shop.yaml: jobs.bad_zone.schedule: 'Nowhere/City' is not a time zone",
        "cron/shop.yaml: jobs.no_template.params.template: shop has no e-mail template 'nope'",
        "cron/shop.yaml: jobs.no_resource.params.query: 'nope' is not a resource of shop",
        "cron/shop.yaml: jobs.bad_query.params.query: sort:",
        "cron/shop.yaml: jobs.bad_url.params.url:",
        "cron/shop.yaml: jobs.unknown_action.params",
        "cron/shop.yaml: jobs.typo.retires: unknown key",
    ]
    for prefix in expected_prefixes:
        assert any(line.startswith(prefix) for line in found), (prefix, found)


def test_a_valid_cron_file_gives_the_jobs_with_their_zone(tmp_path):
    site = cron_site(
        tmp_path,
        "timezone: Europe/Paris\njobs:\n  hello:\n    schedule: '30 8 * * 1'\n    kind: service\n"
        "    params: { action: send_template, template: hello, to: a@example.com }\n",
    )
    result = load_site(site)
    assert result.ok, [str(p) for p in result.problems]
    job = cron_settings(result.registry.get("shop")).jobs["hello"]
    assert (job.kind, job.schedule.timezone, job.enabled, job.retries) == ("service", "Europe/Paris", True, 0)


# --- ticks and runs -------------------------------------------------------------------------


def runs_of(job: str) -> list[JobRun]:
    return list(JobRun.objects.filter(app="alpha", job=job).order_by("id"))


def test_a_tick_records_one_run_per_due_job_and_skips_disabled_ones():
    dispatched = []
    created = cron_services.tick(dispatch=dispatched.append, now=MONDAY_0700)
    assert dispatched == created
    jobs = sorted(JobRun.objects.filter(pk__in=created).values_list("job", flat=True))
    # at 07:00: greet (every minute), digest (07:00), flaky_http (*/5), metadata (hourly);
    # a first tick does not catch up the minutes before it
    assert jobs == ["digest", "flaky_http", "greet", "metadata"]
    assert not runs_of("paused")
    assert cron_services.tick(dispatch=dispatched.append, now=MONDAY_0700) == []  # the same minutes again


def test_a_late_tick_catches_the_minutes_it_missed_once():
    cron_services.tick(dispatch=lambda run_id: None, now=MONDAY_0700)
    later = cron_services.tick(
        dispatch=lambda run_id: None, now=MONDAY_0700 + timedelta(minutes=2, seconds=10)
    )
    caught = sorted(JobRun.objects.filter(pk__in=later).values_list("scheduled_for", flat=True))
    assert caught == [MONDAY_0700 + timedelta(minutes=1), MONDAY_0700 + timedelta(minutes=2)]  # greet only
    assert len(runs_of("digest")) == 1


def test_a_first_tick_does_not_run_the_minutes_before_it():
    created = cron_services.tick(dispatch=lambda run_id: None, now=MONDAY_0700 + timedelta(minutes=1))
    assert list(JobRun.objects.filter(pk__in=created).values_list("job", flat=True)) == ["greet"]
    # nor does the next one, for the minutes before the first
    created = cron_services.tick(dispatch=lambda run_id: None, now=MONDAY_0700 + timedelta(minutes=2))
    assert list(JobRun.objects.filter(pk__in=created).values_list("scheduled_for", flat=True)) == [
        MONDAY_0700 + timedelta(minutes=2)
    ]


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_two_beats_ticking_together_give_one_run_per_minute():
    results, errors = run_concurrently(
        lambda: cron_services.tick(dispatch=lambda run_id: None, now=MONDAY_0700), 3
    )
    created = [run_id for created in results for run_id in created]
    assert errors == []
    assert len(created) == len(set(created)) == 4
    assert JobRun.objects.count() == 4


def test_a_service_job_runs_and_its_run_is_recorded_and_logged(settings):
    run = cron_services.execute(
        cron_services.trigger(tenant=registry_module.registry().get("alpha"), name="greet").pk
    )
    assert (run.status, run.error) == (RunStatus.SUCCEEDED, "")
    assert run.output.startswith("queued message #")
    assert run.duration_ms is not None and run.finished_at >= run.started_at
    assert OutboxMessage.objects.get().subject == "Hi Ops"
    log = (settings.SOGOMS_LOG_DIR / f"alpha-{timezone.now():%Y%m%d}-event.log").read_text()
    assert '"event": "cron.succeeded"' in log and '"job": "greet"' in log


def test_a_run_handed_out_twice_runs_once():
    run = cron_services.trigger(tenant=registry_module.registry().get("alpha"), name="greet")
    assert cron_services.execute(run.pk) is not None
    assert cron_services.execute(run.pk) is None
    assert OutboxMessage.objects.count() == 1


def test_a_failing_http_job_retries_as_it_says_and_records_each_failure(settings):
    alpha = registry_module.registry().get("alpha")
    retries = []
    cron_services.execute(
        cron_services.trigger(tenant=alpha, name="flaky_http").pk,
        dispatch_retry=lambda pk, d: retries.append((pk, d)),
    )
    while retries:
        retry_id, delay = retries.pop()
        assert delay == timedelta(seconds=1)
        cron_services.execute(retry_id, dispatch_retry=lambda pk, d: retries.append((pk, d)))
    attempts = runs_of("flaky_http")
    assert [(r.trigger, r.attempt, r.status) for r in attempts] == [
        ("manual", 1, "failed"),
        ("retry", 2, "failed"),
        ("retry", 3, "failed"),
    ]
    assert all("127.0.0.1:9" in r.error or "refused" in r.error.lower() for r in attempts), [
        r.error for r in attempts
    ]
    log = (settings.SOGOMS_LOG_DIR / f"alpha-{timezone.now():%Y%m%d}-error.log").read_text()
    assert log.count('"event": "cron.failed"') == 3


def test_an_http_job_aimed_at_the_metadata_address_is_refused_and_not_retried():
    alpha = registry_module.registry().get("alpha")
    retries = []
    run = cron_services.execute(
        cron_services.trigger(tenant=alpha, name="metadata").pk,
        dispatch_retry=lambda pk, d: retries.append(pk),
    )
    assert run.status == RunStatus.FAILED
    assert "TargetRefused" in run.error and "169.254.169.254" in run.error
    assert retries == []  # retries: 3, but a refusal is final


def test_a_disabled_job_cannot_be_triggered():
    from sogoms_site.errors import StateConflict

    with pytest.raises(StateConflict, match="disabled"):
        cron_services.trigger(tenant=registry_module.registry().get("alpha"), name="paused")


def without_job(monkeypatch, name: str):
    """The registry as if `name` had been deleted from alpha's cron file and reloaded."""
    current = registry_module.registry()
    alpha = current.get("alpha")
    jobs = {key: job for key, job in cron_settings(alpha).jobs.items() if key != name}
    changed = dataclasses.replace(
        alpha, extensions=MappingProxyType({**alpha.extensions, "cron": CronSettings(MappingProxyType(jobs))})
    )
    tenants = [changed if t.app == "alpha" else t for t in current]
    monkeypatch.setitem(registry_module._state, "result", LoadResult(Registry.of(tenants), []))


def test_a_job_removed_from_the_yaml_stops_and_leaves_the_admin(monkeypatch):
    assert cron_services.sync_jobs() == (len(cron_settings(registry_module.registry().get("alpha")).jobs), 0)
    assert cron_services.sync_jobs() == (0, 0)  # unchanged: nothing written again
    assert CronJob.objects.filter(app="alpha", name="greet").exists()
    without_job(monkeypatch, "greet")
    created = cron_services.tick(dispatch=lambda pk: None, now=MONDAY_0700)
    assert "greet" not in set(JobRun.objects.filter(pk__in=created).values_list("job", flat=True))
    assert cron_services.sync_jobs() == (0, 1)
    assert not CronJob.objects.filter(app="alpha", name="greet").exists()
    assert CronJob.objects.filter(app="alpha", name="digest").exists()


def test_query_email_reads_today_in_the_time_zone_of_the_job(alpha, alice, monkeypatch):
    from zoneinfo import ZoneInfo

    tasks = bound_resource(alpha, "tasks").model
    projects = bound_resource(alpha, "projects").model
    project = projects.objects.create(user_id=alice.id, name="P")
    # UTC+14 is a day ahead from 10:00 UTC, UTC-11 a day behind until 11:00: one always differs
    utc_today = datetime.now(UTC).date()
    zone = next(
        z
        for z in ("Pacific/Kiritimati", "Pacific/Pago_Pago")
        if datetime.now(ZoneInfo(z)).date() != utc_today
    )
    local_today = datetime.now(ZoneInfo(zone)).date()
    tasks.objects.create(user_id=alice.id, project_id=project.id, title="There", due_date=local_today)
    tasks.objects.create(user_id=alice.id, project_id=project.id, title="Elsewhere", due_date=utc_today)
    digest = cron_settings(alpha).jobs["digest"]
    far_east = dataclasses.replace(digest, schedule=parse_cron("0 7 * * *", zone))
    jobs = {**cron_settings(alpha).jobs, "digest": far_east}
    changed = dataclasses.replace(
        alpha, extensions=MappingProxyType({**alpha.extensions, "cron": CronSettings(MappingProxyType(jobs))})
    )
    monkeypatch.setitem(registry_module._state, "result", LoadResult(Registry.of([changed]), []))
    run = cron_services.execute(cron_services.trigger(tenant=changed, name="digest").pk)
    assert run.status == RunStatus.SUCCEEDED, run.error
    message = OutboxMessage.objects.get()
    assert (message.subject, message.body_text) == (f"1 due on {local_today.isoformat()}", "There [P]\n")


def test_query_email_sends_each_user_only_their_own_rows(alpha, alice, bob):
    tasks = bound_resource(alpha, "tasks").model
    projects = bound_resource(alpha, "projects").model
    today = timezone.now().date()
    for owner, title in ((alice, "Alice's task"), (bob, "Bob's task")):
        project = projects.objects.create(user_id=owner.id, name=f"P {owner.name}")
        tasks.objects.create(user_id=owner.id, project_id=project.id, title=title, due_date=today)
    create_user(alpha, "idle@example.com")  # no tasks: no e-mail
    run = cron_services.execute(cron_services.trigger(tenant=alpha, name="digest").pk)
    assert run.status == RunStatus.SUCCEEDED, run.error
    bodies = dict(OutboxMessage.objects.values_list("to_email", "body_text"))
    assert bodies == {
        "alice@example.com": "Alice's task [P Alice]\n",
        "bob@example.com": "Bob's task [P Bob]\n",
    }
    assert OutboxMessage.objects.filter(subject=f"1 due on {today.isoformat()}").count() == 2


# --- API and command line -------------------------------------------------------------------


@pytest.fixture
def admin_token(alpha, alpha_api):
    create_user(alpha, "root@example.com", role="admin")
    return alpha_api.token_for("root@example.com")


def test_the_cron_api_lists_triggers_and_shows_runs_for_role_admin(alpha_api, alice, admin_token):
    error_of(alpha_api.get("_cron/jobs", token=alpha_api.token_for(alice.email)), 403, "FORBIDDEN")
    jobs = {row["name"]: row for row in data_of(alpha_api.get("_cron/jobs", token=admin_token))}
    assert set(jobs) == {"greet", "digest", "flaky_http", "metadata", "paused"}
    assert jobs["paused"]["next_run"] is None and jobs["greet"]["next_run"] is not None
    run = data_of(alpha_api.post("_cron/jobs/greet/trigger", token=admin_token), 202)
    assert (run["job"], run["trigger"], run["status"]) == ("greet", "manual", "queued")
    error_of(alpha_api.post("_cron/jobs/paused/trigger", token=admin_token), 409, "CONFLICT")
    error_of(alpha_api.post("_cron/jobs/nope/trigger", token=admin_token), 404, "NOT_FOUND")
    runs = alpha_api.get("_cron/runs?job=greet", token=admin_token)
    assert [row["id"] for row in data_of(runs)] == [run["id"]]
    assert runs.json()["meta"]["total"] == 1
    error_of(alpha_api.get("_cron/runs?status=bogus", token=admin_token), 400, "VALIDATION_ERROR")


def test_the_command_lists_triggers_and_reports(capsys):
    out = StringIO()
    call_command("sogoms", "cron", "list", "alpha", stdout=out)
    listing = out.getvalue()
    assert (
        "greet\tservice\t* * * * * (UTC)\tnext " in listing and "paused" in listing and "disabled" in listing
    )
    assert "built-in\tmail-outbox-sweep" in listing and "built-in\tlogs-purge" in listing
    out = StringIO()
    call_command("sogoms", "cron", "trigger", "alpha", "greet", stdout=out)
    assert "\tgreet\tmanual\tattempt 1\tsucceeded" in out.getvalue()
    out = StringIO()
    call_command("sogoms", "cron", "status", "alpha", "greet", stdout=out)
    assert "succeeded" in out.getvalue() and "queued message #" in out.getvalue()
