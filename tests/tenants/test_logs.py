"""Per-tenant JSON-lines logs: what the auth actions write, the file format, the purge."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime

import pytest

from sogoms_site.requestid import reset_request_id, set_request_id
from tenants.logs import log_dir, log_error, log_event, log_path, purge_logs
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(databases="__all__")

FIELDS = {"ts", "app", "type", "event", "level", "user_id", "request_id", "details"}
WRONG_PASSWORD = "wrong horse battery staple 9"


def today() -> date:
    return datetime.now(UTC).date()


def read_entries(app: str, kind: str) -> list[dict]:
    path = log_path(app, kind, today())
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def only(entries: list[dict], event: str) -> dict:
    matching = [entry for entry in entries if entry["event"] == event]
    assert len(matching) == 1, entries
    return matching[0]


# --- what the auth actions log ------------------------------------------------------------


@pytest.fixture
def session_story(alpha_api):
    """Register, log in, fail a login, refresh and log out; returns the response per event."""
    registered = alpha_api.register("dora@example.com")
    assert registered.status_code == 201, registered.content
    logged_in = alpha_api.login("dora@example.com")
    assert logged_in.status_code == 200, logged_in.content
    failed = alpha_api.login("ghost@example.com", WRONG_PASSWORD)
    assert failed.status_code == 401, failed.content
    refreshed = alpha_api.post("auth/refresh", {"refresh_token": logged_in.json()["data"]["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.content
    logged_out = alpha_api.post("auth/logout", token=refreshed.json()["data"]["token"])
    assert logged_out.status_code == 200, logged_out.content
    user_id = registered.json()["data"]["user"]["id"]
    return user_id, {
        "register": registered,
        "login": logged_in,
        "login_failed": failed,
        "refresh": refreshed,
        "logout": logged_out,
    }


def test_it_logs_every_auth_action_with_the_request_id_of_its_response(session_story):
    user_id, responses = session_story

    entries = read_entries("alpha", "event")

    for event, response in responses.items():
        entry = only(entries, event)
        assert set(entry) >= FIELDS, entry
        assert entry["app"] == "alpha"
        assert entry["type"] == "event"
        assert entry["request_id"] == response["X-Request-ID"]
        assert isinstance(entry["details"], dict)
        assert datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).tzinfo is not None
        expected_user = None if event == "login_failed" else user_id
        assert entry["user_id"] == expected_user, entry


def test_it_logs_the_details_of_a_registration_and_a_failed_login(session_story):
    entries = read_entries("alpha", "event")

    assert only(entries, "register")["details"]["email"] == "dora@example.com"
    assert only(entries, "login_failed")["details"]["email"] == "ghost@example.com"


def test_it_logs_a_failed_login_of_a_known_user_with_their_id(alpha_api, alice):
    response = alpha_api.login(alice.email, WRONG_PASSWORD)
    assert response.status_code == 401

    entry = only(read_entries("alpha", "event"), "login_failed")
    assert entry["user_id"] == alice.id
    assert entry["request_id"] == response["X-Request-ID"]


def test_it_never_writes_a_password_to_any_log(session_story, alpha_api):
    alpha_api.register("weak@example.com", password="password")  # refused, too common

    lines = [line for path in log_dir().iterdir() for line in path.read_text().splitlines()]

    assert lines
    for line in lines:
        assert PASSWORD not in line
        assert WRONG_PASSWORD not in line
        assert '"password"' not in line


def test_it_logs_only_in_the_tenant_that_served_the_request(alpha_api, beta_api):
    assert beta_api.register("eve@example.com").status_code == 201

    assert only(read_entries("beta", "event"), "register")["app"] == "beta"
    assert not log_path("alpha", "event", today()).exists()


def test_it_still_serves_when_the_log_directory_cannot_be_written(alpha_api, settings, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.SOGOMS_LOG_DIR = blocker / "log"

    with caplog.at_level(logging.ERROR, logger="sogoms.tenants"):
        response = alpha_api.register("frank@example.com")

    assert response.status_code == 201, response.content
    assert any("register" in record.getMessage() for record in caplog.records)
    assert blocker.read_text() == "not a directory"


# --- log_event / log_error ----------------------------------------------------------------


def test_log_event_writes_one_json_object_per_line_in_the_named_file():
    log_event("alpha", "first", user_id=7, details={"k": "v"})
    log_event("alpha", "second")

    path = log_dir() / f"alpha-{today():%Y%m%d}-event.log"
    assert path.is_file()
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "first"
    assert first["user_id"] == 7
    assert first["details"] == {"k": "v"}
    assert first["type"] == "event"
    assert first["level"] == "info"
    assert second["event"] == "second"
    assert second["user_id"] is None
    assert second["details"] == {}


def test_log_error_writes_the_error_file_of_the_app():
    log_error("beta", "boom", level="critical", details={"why": "test"})

    path = log_dir() / f"beta-{today():%Y%m%d}-error.log"
    (entry,) = (json.loads(line) for line in path.read_text().splitlines())
    assert entry["app"] == "beta"
    assert entry["type"] == "error"
    assert entry["event"] == "boom"
    assert entry["level"] == "critical"
    assert not (log_dir() / f"beta-{today():%Y%m%d}-event.log").exists()


def test_log_event_appends_to_an_existing_file_instead_of_overwriting_it():
    path = log_path("alpha", "event", today())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"event": "earlier"}\n')

    log_event("alpha", "later")

    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == {"event": "earlier"}
    assert json.loads(lines[1])["event"] == "later"


def test_log_event_records_the_current_request_id():
    token = set_request_id("req-12345678")
    try:
        entry = log_event("alpha", "inside")
    finally:
        reset_request_id(token)
    outside = log_event("alpha", "outside")

    assert entry["request_id"] == "req-12345678"
    assert outside["request_id"] is None
    written = read_entries("alpha", "event")
    assert [e["request_id"] for e in written] == ["req-12345678", None]


def test_log_event_keeps_non_ascii_text_readable():
    log_event("alpha", "named", details={"name": "Zoë Ørsted"})

    assert "Zoë Ørsted" in log_path("alpha", "event", today()).read_text(encoding="utf-8")


# --- purge_logs ---------------------------------------------------------------------------

PURGE_DAY = date(2024, 5, 20)


def make_files(*names: str):
    directory = log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_text("{}\n")


def remaining() -> set[str]:
    return {path.name for path in log_dir().iterdir()}


def test_purge_logs_deletes_files_older_than_the_retention_and_keeps_the_rest():
    make_files(
        "alpha-20240520-event.log",  # today
        "alpha-20240513-error.log",  # exactly 7 days old: still within retention
        "alpha-20240512-event.log",  # 8 days old
        "alpha-20230101-error.log",
    )

    removed = purge_logs("alpha", 7, today=PURGE_DAY)

    assert {path.name for path in removed} == {"alpha-20240512-event.log", "alpha-20230101-error.log"}
    assert remaining() == {"alpha-20240520-event.log", "alpha-20240513-error.log"}


def test_purge_logs_leaves_other_apps_and_foreign_files_alone():
    foreign = {
        "beta-20230101-event.log",
        "alphabet-20230101-event.log",
        "alpha-old.log",
        "alpha-2023011-event.log",
        "alpha-20230101-event.log.gz",
        "alpha-20230101-event.txt",
        "notes.txt",
    }
    make_files(*foreign, "alpha-20230101-event.log")

    removed = purge_logs("alpha", 7, today=PURGE_DAY)

    assert [path.name for path in removed] == ["alpha-20230101-event.log"]
    assert remaining() == foreign


def test_purge_logs_survives_a_file_name_whose_date_is_not_a_calendar_date():
    make_files("alpha-00000000-event.log", "alpha-20241399-event.log", "alpha-20230101-event.log")

    removed = purge_logs("alpha", 7, today=PURGE_DAY)

    assert [path.name for path in removed] == ["alpha-20230101-event.log"]
    assert "alpha-00000000-event.log" in remaining()


def test_purge_logs_with_no_log_directory_removes_nothing(settings, tmp_path):
    settings.SOGOMS_LOG_DIR = tmp_path / "never-created"

    assert purge_logs("alpha", 7, today=PURGE_DAY) == []


@pytest.mark.django_db(databases="__all__")
def test_the_daily_purge_task_drops_old_log_files_of_every_tenant():
    from tenants.tasks import purge_logs as purge_task

    make_files(
        "alpha-20000101-event.log", "beta-20000101-error.log", f"alpha-{date.today():%Y%m%d}-event.log"
    )

    assert purge_task.name == "logs.purge"  # the name beat schedules it by
    result = purge_task.apply().get()

    assert result == {
        "log_files": 2,
        "access_rows": 0,
        "refresh_rows": 0,
        "reset_tokens": 0,
        "oauth_states": 0,
        "oauth_codes": 0,
        "verification_codes": 0,
        "outbox_messages": 0,
        "job_runs": 0,
    }
    assert remaining() == {f"alpha-{date.today():%Y%m%d}-event.log"}
