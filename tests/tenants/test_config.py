"""The tenant config loader: every problem named by file, key path and reason.

Each test writes its own `routes/*.yaml` (and secret files) under tmp_path and calls
`load_config` directly; no database is touched.
"""

from __future__ import annotations

import re
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenants.config.durations import format_duration, parse_duration, parse_rate
from tenants.config.loader import ConfigProblem, LoadOptions, LoadResult, load_config
from tenants.config.model import RateLimit, normalize_host

VALID_SECRET = "s" * 40


class Site:
    """A throw-away config dir, base dir (for relative paths) and var dir."""

    def __init__(self, root: Path) -> None:
        self.base = root / "base"
        self.config = root / "config"
        self.var = root / "var"
        self.routes_dir = self.config / "routes"
        self.routes_dir.mkdir(parents=True)
        self.base.mkdir()
        self.write_secret("secrets/jwt", VALID_SECRET)

    def write_secret(self, relative: str, value: str | bytes) -> Path:
        path = self.base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(value, bytes):
            path.write_bytes(value)
        else:
            path.write_text(value)
        return path

    def routes(self, name: str, text: str) -> Path:
        path = self.routes_dir / name
        path.write_text(textwrap.dedent(text))
        return path

    def tenant(self, app: str, extra: str = "", *, hosts: str | None = None, auth: str = "") -> Path:
        """A valid tenant file, plus `extra` top-level YAML and `auth` keys."""
        text = f"app: {app}\nhosts: {hosts or f'[{app}.example]'}\n"
        text += "auth:\n  jwt_secret_file: secrets/jwt\n" + textwrap.indent(textwrap.dedent(auth), "  ")
        text += textwrap.dedent(extra)
        return self.routes(f"{app}.yaml", text)

    def load(self, tenant_database_url: str = "") -> LoadResult:
        return load_config(
            LoadOptions(
                config_dir=self.config,
                base_dir=self.base,
                var_dir=self.var,
                tenant_database_url=tenant_database_url,
            )
        )


@pytest.fixture
def site(tmp_path) -> Site:
    return Site(tmp_path)


def only_problem(result: LoadResult) -> ConfigProblem:
    assert not result.ok
    assert result.registry is None
    assert len(result.problems) == 1, [str(p) for p in result.problems]
    return result.problems[0]


# --- a valid tenant ---------------------------------------------------------------


def test_a_minimal_tenant_loads_with_its_defaults(site):
    site.tenant("prokov", hosts="[Prokov.Example, API.Prokov.Example.]")

    result = site.load()

    assert result.ok, [str(p) for p in result.problems]
    tenant = result.registry.get("prokov")
    assert tenant.hosts == ("prokov.example", "api.prokov.example")
    assert tenant.base_path == "/api"
    assert tenant.version == "1.0"
    assert tenant.jwt_expiry == timedelta(hours=24)
    assert tenant.refresh_expiry == timedelta(days=30)
    assert tenant.jwt_secret == VALID_SECRET
    assert tenant.login_rate_per_email == RateLimit(10, timedelta(minutes=15))
    assert tenant.login_rate_per_ip == RateLimit(60, timedelta(minutes=1))
    assert tenant.log_retention_days == 30
    assert tenant.db_alias == "tenant_prokov"
    assert tenant.db_engine == "sqlite"
    assert tenant.database["ENGINE"] == "django.db.backends.sqlite3"
    assert tenant.database["NAME"] == str(site.var / "db" / "prokov.sqlite3")
    assert result.registry.for_host("PROKOV.example:8000") is tenant
    assert (tenant.password_reset_expiry, tenant.password_reset_url) == (timedelta(hours=1), "")


def test_the_password_reset_keys_are_read_once_with_the_auth_block(site):
    site.tenant(
        "prokov", auth="password_reset_expiry: 30m\npassword_reset_url: https://app.example/reset?t={token}\n"
    )
    tenant = site.load().registry.get("prokov")
    assert tenant.password_reset_expiry == timedelta(minutes=30)
    assert tenant.password_reset_url == "https://app.example/reset?t={token}"
    site.tenant("prokov", auth="password_reset_expiry: soon\n")
    assert str(only_problem(site.load())).startswith("routes/prokov.yaml: auth.password_reset_expiry: 'soon'")


def test_a_tenant_without_a_database_block_follows_the_tenant_database_url(site):
    site.tenant("prokov")

    result = site.load(tenant_database_url="mysql://u@h:3306/sogoms_{app}")

    assert result.ok, [str(p) for p in result.problems]
    database = result.registry.get("prokov").database
    assert database["ENGINE"] == "django.db.backends.mysql"
    assert database["NAME"] == "sogoms_prokov"
    assert (database["HOST"], database["PORT"], database["USER"]) == ("h", 3306, "u")


def test_the_loaded_tenant_keeps_its_declared_values(site):
    site.tenant(
        "prokov",
        """\
        version: 2
        base_path: /v1/prokov
        logs:
          retention_days: 7
        """,
        auth="""\
        jwt_expiry: 1h30m
        refresh_expiry: 3600
        rate_limit:
          login_per_email: 3/15m
        """,
    )

    tenant = site.load().registry.get("prokov")

    assert tenant.version == "2"
    assert tenant.base_path == "/v1/prokov"
    assert tenant.log_retention_days == 7
    assert tenant.jwt_expiry == timedelta(minutes=90)
    assert tenant.refresh_expiry == timedelta(hours=1)
    assert tenant.login_rate_per_email == RateLimit(3, timedelta(minutes=15))


# --- problems: file, key path, reason -------------------------------------------------


def test_it_reports_a_bad_duration_with_file_key_and_reason(site):
    site.tenant("prokov", auth="jwt_expiry: 24x\n")

    problem = only_problem(site.load())

    assert (problem.file, problem.path) == ("routes/prokov.yaml", "auth.jwt_expiry")
    assert str(problem).startswith("routes/prokov.yaml: auth.jwt_expiry: '24x' is not a duration")
    assert str(problem) == (
        "routes/prokov.yaml: auth.jwt_expiry: '24x' is not a duration (examples: 30s, 15m, 24h, 7d)"
    )


def test_it_suggests_the_key_meant_by_a_typo(site):
    site.tenant("prokov", auth="jwt_expiri: 24h\n")

    problem = only_problem(site.load())

    assert problem.path == "auth.jwt_expiri"
    assert problem.message.startswith("unknown key")
    assert "did you mean 'jwt_expiry'?" in problem.message
    assert str(problem) == "routes/prokov.yaml: auth.jwt_expiri: unknown key (did you mean 'jwt_expiry'?)"


def test_it_reports_an_unknown_top_level_key(site):
    site.tenant("prokov", "colour: blue\nbase_pth: /v1\n")

    problems = {str(p) for p in site.load().problems}

    assert problems == {
        "routes/prokov.yaml: colour: unknown key",
        "routes/prokov.yaml: base_pth: unknown key (did you mean 'base_path'?)",
    }


def test_two_tenants_cannot_claim_one_host_whatever_its_case(site):
    site.tenant("alpha", hosts="[Shared.Example, alpha.example]")
    site.tenant("beta", hosts="[beta.example, shared.example]")

    problem = only_problem(site.load())

    assert problem.file == "routes/beta.yaml"
    assert problem.path == "hosts[1]"
    assert "routes/alpha.yaml" in problem.message
    assert str(problem) == (
        "routes/beta.yaml: hosts[1]: 'shared.example' is already claimed by routes/alpha.yaml"
    )


def test_a_host_listed_twice_in_one_file_is_a_problem(site):
    site.tenant("prokov", hosts="[a.example, A.Example]")

    problem = only_problem(site.load())

    assert (problem.path, problem.message) == ("hosts", "a host is listed twice")


@pytest.mark.parametrize("host", ["http://a.example", "a.example:8000", "a.example/api", "-bad.example"])
def test_a_host_that_is_not_a_host_name_is_a_problem(site, host):
    site.tenant("prokov", hosts=f"['{host}']")

    problem = only_problem(site.load())

    assert problem.path == "hosts"
    assert problem.message == f"{host!r} is not a host name (no scheme, port or path)"


def test_ip_addresses_are_accepted_as_hosts(site):
    site.tenant("prokov", hosts="['127.0.0.1', '::1']")

    result = site.load()

    assert result.ok, [str(p) for p in result.problems]
    assert result.registry.for_host("[::1]:8000").app == "prokov"
    assert result.registry.for_host("127.0.0.1:8000").app == "prokov"


# --- secrets ------------------------------------------------------------------------------


def test_it_reports_a_missing_secret_file(site):
    site.routes(
        "prokov.yaml",
        """\
        app: prokov
        hosts: [prokov.example]
        auth:
          jwt_secret_file: secrets/nowhere
        """,
    )

    problem = only_problem(site.load())

    missing = site.base / "secrets" / "nowhere"
    assert str(problem) == (
        f"routes/prokov.yaml: auth.jwt_secret_file: secret file {str(missing)!r} does not exist"
    )


def test_it_reports_an_empty_secret_file(site):
    site.write_secret("secrets/jwt", "  \n")
    site.tenant("prokov")

    problem = only_problem(site.load())

    assert problem.path == "auth.jwt_secret_file"
    assert problem.message == f"secret file {str(site.base / 'secrets' / 'jwt')!r} is empty"


def test_it_refuses_a_secret_shorter_than_32_bytes(site):
    site.write_secret("secrets/jwt", "x" * 31 + "\n")
    site.tenant("prokov")

    problem = only_problem(site.load())

    assert str(problem) == (
        "routes/prokov.yaml: auth.jwt_secret_file: the JWT secret is 31 bytes; at least 32 are needed"
    )


@pytest.mark.parametrize("secret", ["x" * 32, "é" * 16], ids=["32-ascii", "16-two-byte-chars"])
def test_a_secret_of_32_bytes_is_enough(site, secret):
    site.write_secret("secrets/jwt", secret)
    site.tenant("prokov")

    result = site.load()

    assert result.ok, [str(p) for p in result.problems]
    assert result.registry.get("prokov").jwt_secret == secret


def test_it_refuses_a_literal_jwt_secret_in_yaml(site):
    site.routes(
        "prokov.yaml",
        """\
        app: prokov
        hosts: [prokov.example]
        auth:
          jwt_secret: abc
        """,
    )

    problem = only_problem(site.load())

    assert str(problem) == (
        "routes/prokov.yaml: auth.jwt_secret: secrets never sit in YAML: use jwt_secret_file, or env:VARIABLE"
    )


ENV_SECRET_TENANT = """\
app: prokov
hosts: [prokov.example]
auth:
  jwt_secret: env:PROKOV_JWT_SECRET
"""


def test_a_jwt_secret_from_the_environment_is_used_when_set(site, monkeypatch):
    monkeypatch.setenv("PROKOV_JWT_SECRET", "e" * 48)
    site.routes("prokov.yaml", ENV_SECRET_TENANT)

    result = site.load()

    assert result.ok, [str(p) for p in result.problems]
    assert result.registry.get("prokov").jwt_secret == "e" * 48


def test_a_jwt_secret_from_an_unset_variable_is_a_problem(site, monkeypatch):
    monkeypatch.delenv("PROKOV_JWT_SECRET", raising=False)
    site.routes("prokov.yaml", ENV_SECRET_TENANT)

    problem = only_problem(site.load())

    assert (
        str(problem)
        == "routes/prokov.yaml: auth.jwt_secret: environment variable PROKOV_JWT_SECRET is not set"
    )


def test_a_weak_jwt_secret_from_the_environment_is_refused(site, monkeypatch):
    monkeypatch.setenv("PROKOV_JWT_SECRET", "short")
    site.routes("prokov.yaml", ENV_SECRET_TENANT)

    problem = only_problem(site.load())

    assert problem.path == "auth.jwt_secret"
    assert problem.message == "the JWT secret is 5 bytes; at least 32 are needed"


def test_a_jwt_secret_file_and_an_environment_secret_together_are_refused(site, monkeypatch):
    monkeypatch.setenv("PROKOV_JWT_SECRET", "e" * 48)
    site.tenant("prokov", auth="jwt_secret: env:PROKOV_JWT_SECRET\n")

    problem = only_problem(site.load())

    assert str(problem) == "routes/prokov.yaml: auth: set jwt_secret_file or jwt_secret, not both"


def test_a_tenant_without_any_jwt_secret_is_a_problem(site):
    site.routes("prokov.yaml", "app: prokov\nhosts: [prokov.example]\n")

    problem = only_problem(site.load())

    assert str(problem) == (
        "routes/prokov.yaml: auth.jwt_secret_file: is required (or jwt_secret: env:VARIABLE)"
    )


# --- names, paths and file shapes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_path", "reason"),
    [
        ("api", "is not a base path"),
        ("/api/", "is not a base path"),
        ("/", "is not a base path"),
        ("/my api", "is not a base path"),
        ("/admin", "collides with a site path"),
        ("/Static/files", "collides with a site path"),
        ("/health", "collides with a site path"),
    ],
)
def test_it_refuses_a_bad_base_path(site, base_path, reason):
    site.tenant("prokov", f"base_path: '{base_path}'\n")

    problem = only_problem(site.load())

    assert problem.path == "base_path"
    assert problem.message.startswith(f"{base_path!r} {reason}")


@pytest.mark.parametrize("base_path", ["/v1", "/v1/app", "/api-2.0"])
def test_it_accepts_a_good_base_path(site, base_path):
    site.tenant("prokov", f"base_path: '{base_path}'\n")

    result = site.load()

    assert result.ok, [str(p) for p in result.problems]
    assert result.registry.get("prokov").base_path == base_path


def test_the_app_must_match_the_file_name(site):
    site.routes(
        "prokov.yaml",
        "app: other\nhosts: [prokov.example]\nauth:\n  jwt_secret_file: secrets/jwt\n",
    )

    problem = only_problem(site.load())

    assert str(problem) == "routes/prokov.yaml: app: 'other' does not match the file name 'prokov'"


@pytest.mark.parametrize("app", ["Prokov", "9lives", "pro-kov", "a" * 41])
def test_it_refuses_an_invalid_app_name(site, app):
    site.routes(
        "prokov.yaml", f"app: '{app}'\nhosts: [prokov.example]\nauth:\n  jwt_secret_file: secrets/jwt\n"
    )

    problem = only_problem(site.load())

    assert problem.path == "app"
    assert problem.message.startswith(f"{app!r} is not an app name")


def test_it_reports_a_yaml_syntax_error_with_its_line(site):
    site.routes("prokov.yaml", "app: prokov\nhosts: [prokov.example\nauth:\n  jwt_secret_file: x\n")

    problem = only_problem(site.load())

    assert problem.file == "routes/prokov.yaml"
    assert problem.path.startswith("line 3, column ")
    assert problem.message.startswith("invalid YAML: ")
    assert str(problem).startswith("routes/prokov.yaml: line 3, column ")


@pytest.mark.parametrize("text", ["- app: prokov\n", "just words\n", ""])
def test_a_file_that_is_not_a_mapping_is_a_problem(site, text):
    site.routes("prokov.yaml", text)

    problem = only_problem(site.load())

    assert str(problem) == "routes/prokov.yaml: the file must hold a mapping of keys"


def test_a_missing_required_key_is_a_problem(site):
    site.routes("prokov.yaml", "app: prokov\nauth:\n  jwt_secret_file: secrets/jwt\n")

    problem = only_problem(site.load())

    assert str(problem) == "routes/prokov.yaml: hosts: is required"


def test_a_value_of_the_wrong_type_names_the_value(site):
    site.tenant("prokov", "logs:\n  retention_days: 0\n")

    problem = only_problem(site.load())

    assert (
        str(problem)
        == "routes/prokov.yaml: logs.retention_days: 0: input should be greater than or equal to 1"
    )


def test_an_empty_routes_directory_declares_no_tenant(site):
    problem = only_problem(site.load())

    assert str(problem) == "routes/: no tenant is declared (no *.yaml file)"


def test_a_missing_routes_directory_is_a_problem(site):
    site.routes_dir.rmdir()

    problem = only_problem(site.load())

    assert problem.file == str(site.routes_dir)
    assert problem.message == "the routes directory does not exist"


def test_yml_files_are_read_too(site):
    site.routes("prokov.yml", "app: prokov\nhosts: [prokov.example]\nauth:\n  jwt_secret_file: secrets/jwt\n")

    result = site.load()

    assert result.ok, [str(p) for p in result.problems]
    assert list(result.registry.tenants) == ["prokov"]


# --- the database block ------------------------------------------------------------------------


def test_a_seed_database_block_gives_mysql_settings(site):
    site.write_secret("secrets/db", "p@ss/w%rd:#1\n")
    site.tenant(
        "prokov",
        """\
        database:
          host: db.example
          port: 3307
          user: sogoms
          password_file: secrets/db
          name: sogoms_prokov
        """,
    )

    result = site.load()

    assert result.ok, [str(p) for p in result.problems]
    database = result.registry.get("prokov").database_settings()
    assert database["ENGINE"] == "django.db.backends.mysql"
    assert database["HOST"] == "db.example"
    assert database["PORT"] == 3307
    assert database["USER"] == "sogoms"
    assert database["PASSWORD"] == "p@ss/w%rd:#1"
    assert database["NAME"] == "sogoms_prokov"
    assert "CONN_MAX_AGE" not in database  # the site's default (SOGOMS_CONN_MAX_AGE) applies


def test_a_seed_database_block_without_a_name_is_a_problem(site):
    site.tenant("prokov", "database:\n  host: db.example\n")

    problem = only_problem(site.load())

    assert str(problem) == "routes/prokov.yaml: database.name: is required"


def test_a_missing_database_password_file_is_a_problem(site):
    site.tenant("prokov", "database:\n  name: sogoms_prokov\n  password_file: secrets/db\n")

    problem = only_problem(site.load())

    assert problem.path == "database.password_file"
    assert problem.message == f"secret file {str(site.base / 'secrets' / 'db')!r} does not exist"


def test_a_database_url_with_an_inline_password_is_refused(site):
    site.tenant("prokov", "database:\n  url: mysql://sogoms:hunter2@db.example/sogoms_prokov\n")

    problem = only_problem(site.load())

    assert str(problem) == (
        "routes/prokov.yaml: database.url: the URL holds a password: use password_file, or url: env:VARIABLE"
    )


def test_a_database_url_and_a_host_together_are_refused(site):
    site.tenant("prokov", "database:\n  url: mysql://sogoms@db.example/sogoms_prokov\n  host: db.example\n")

    problem = only_problem(site.load())

    assert str(problem) == "routes/prokov.yaml: database: give url, or host/port/user/name, not both"


def test_a_database_url_from_the_environment_is_used(site, monkeypatch):
    monkeypatch.setenv("PROKOV_DATABASE_URL", "mysql://sogoms:secret@db.example:3308/prokov_db")
    site.tenant("prokov", "database:\n  url: env:PROKOV_DATABASE_URL\n")

    result = site.load()

    assert result.ok, [str(p) for p in result.problems]
    database = result.registry.get("prokov").database
    assert database["ENGINE"] == "django.db.backends.mysql"
    assert (database["HOST"], database["PORT"], database["NAME"]) == ("db.example", 3308, "prokov_db")
    assert database["PASSWORD"] == "secret"


def test_a_database_url_from_an_unset_variable_is_a_problem(site, monkeypatch):
    monkeypatch.delenv("PROKOV_DATABASE_URL", raising=False)
    site.tenant("prokov", "database:\n  url: env:PROKOV_DATABASE_URL\n")

    problem = only_problem(site.load())

    assert (
        str(problem)
        == "routes/prokov.yaml: database.url: environment variable PROKOV_DATABASE_URL is not set"
    )


def test_a_relative_sqlite_name_resolves_against_the_base_dir(site):
    site.tenant("prokov", "database:\n  engine: sqlite\n  name: data/prokov.db\n")

    result = site.load()

    assert result.ok, [str(p) for p in result.problems]
    database = result.registry.get("prokov").database
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(site.base / "data" / "prokov.db")


def test_a_sqlite_engine_without_a_name_lives_in_the_var_dir(site):
    site.tenant("prokov", "database:\n  engine: sqlite\n")

    database = site.load().registry.get("prokov").database

    assert database["NAME"] == str(site.var / "db" / "prokov.sqlite3")


# --- all problems at once ----------------------------------------------------------------------


def test_every_problem_in_every_file_is_reported_at_once(site):
    site.tenant("alpha")
    site.tenant("beta", "colour: blue\n", auth="jwt_expiry: soon\n")
    site.routes("gamma.yaml", "app: gamma\nhosts: [gamma.example]\nauth:\n  jwt_secret_file: secrets/gone\n")

    result = site.load()

    assert result.ok is False
    assert result.registry is None
    assert sorted(str(p) for p in result.problems) == [
        "routes/beta.yaml: auth.jwt_expiry: 'soon' is not a duration (examples: 30s, 15m, 24h, 7d)",
        "routes/beta.yaml: colour: unknown key",
        f"routes/gamma.yaml: auth.jwt_secret_file: secret file {str(site.base / 'secrets' / 'gone')!r} "
        "does not exist",
    ]


# --- problems found by these tests that the loader does not yet handle ---------------------------


def test_a_duration_too_long_for_python_is_a_problem_not_a_crash(site):
    site.tenant("prokov", auth="jwt_expiry: 9999999999d\n")

    problem = only_problem(site.load())

    assert (problem.file, problem.path) == ("routes/prokov.yaml", "auth.jwt_expiry")


def test_a_routes_file_that_is_not_utf8_is_a_problem_not_a_crash(site):
    path = site.tenant("prokov")
    path.write_bytes("# caf\u00e9\n".encode("latin-1") + path.read_bytes())

    problem = only_problem(site.load())

    assert problem.file == "routes/prokov.yaml"


def test_a_binary_secret_file_is_a_problem_not_a_crash(site):
    site.write_secret("secrets/jwt", bytes(range(128, 192)))
    site.tenant("prokov")

    problem = only_problem(site.load())

    assert (problem.file, problem.path) == ("routes/prokov.yaml", "auth.jwt_secret_file")


def test_one_app_declared_in_two_files_is_a_problem(site):
    site.tenant("prokov")
    site.routes("prokov.yml", "app: prokov\nhosts: [other.example]\nauth:\n  jwt_secret_file: secrets/jwt\n")

    result = site.load()

    assert result.registry is None
    assert any("prokov" in str(p) for p in result.problems)


# --- durations and rates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("0h30m", timedelta(minutes=30)),
        ("500ms", timedelta(milliseconds=500)),
        (" 24h ", timedelta(hours=24)),
        (90, timedelta(seconds=90)),
    ],
)
def test_parse_duration_reads_go_style_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("24x", "is not a duration"),
        ("", "is not a duration"),
        ("24", "is not a duration"),
        ("24H", "is not a duration"),
        ("1h 30m", "is not a duration"),
        ("1.5h", "is not a duration"),
        ("-1h", "is not a duration"),
        ("h", "is not a duration"),
        (True, "is not a duration"),
        (None, "is not a duration"),
        ("0s", "is not a positive duration"),
        (0, "is not a positive duration"),
        (-5, "is not a positive duration"),
    ],
)
def test_parse_duration_refuses_what_is_not_a_positive_duration(value, reason):
    with pytest.raises(ValueError, match=f"^{re.escape(repr(value))} {reason}"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10/15m", (10, timedelta(minutes=15))),
        ("60/1m", (60, timedelta(minutes=1))),
        ("1/1h30m", (1, timedelta(minutes=90))),
    ],
)
def test_parse_rate_reads_a_count_per_window(text, expected):
    assert parse_rate(text) == expected


@pytest.mark.parametrize("text", ["10", "0/1m", "-1/1m", "x/1m", "/1m", "10 per 1m", "\u00b2/1m"])
def test_parse_rate_refuses_what_is_not_a_rate(text):
    with pytest.raises(ValueError, match=f"^{re.escape(repr(text))} is not a rate"):
        parse_rate(text)


@pytest.mark.parametrize("text", ["10/", "10/x", "10/0s"])
def test_parse_rate_refuses_a_bad_window(text):
    with pytest.raises(ValueError, match="duration"):
        parse_rate(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(days=1), "1d"),
        (timedelta(hours=24), "1d"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(days=2, seconds=5), "2d5s"),
        (timedelta(0), "0s"),
    ],
)
def test_format_duration_writes_the_shortest_form(value, expected):
    assert format_duration(value) == expected


_UNITS = st.sampled_from(["s", "m", "h", "d"])
_DURATIONS = st.lists(
    st.tuples(st.integers(min_value=0, max_value=10_000), _UNITS), min_size=1, max_size=4
).map(lambda parts: "".join(f"{n}{unit}" for n, unit in parts))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_DURATIONS)
def test_format_duration_round_trips_through_parse_duration(text):
    try:
        value = parse_duration(text)
    except ValueError:
        seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        total = sum(int(n) * seconds[unit] for n, unit in re.findall(r"(\d+)([smhd])", text))
        assert total == 0 or total > 3650 * 86400
        return
    formatted = format_duration(value)
    assert parse_duration(formatted) == value
    assert format_duration(parse_duration(formatted)) == formatted


def test_format_duration_keeps_milliseconds():
    value = parse_duration("1500ms")

    assert parse_duration(format_duration(value)) == value


# --- host names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("Prokov.Localhost:8000", "prokov.localhost"),
        ("prokov.localhost", "prokov.localhost"),
        ("[::1]:8000", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("example.com.", "example.com"),
        ("Example.COM.:443", "example.com"),
        ("  spaced.example  ", "spaced.example"),
        ("127.0.0.1:8000", "127.0.0.1"),
    ],
)
def test_normalize_host_drops_case_port_and_trailing_dot(host, expected):
    assert normalize_host(host) == expected


def test_a_database_block_may_set_its_own_connection_lifetime(tmp_path):
    secret = tmp_path / "jwt"
    secret.write_text("s" * 40)
    (tmp_path / "routes").mkdir()
    (tmp_path / "routes" / "shop.yaml").write_text(
        f"app: shop\nhosts: [shop.test]\nauth: {{jwt_secret_file: {secret}}}\n"
        "database: {url: 'mysql://u@db:3306/shop', conn_max_age: 5}\n"
    )
    result = load_config(LoadOptions(config_dir=tmp_path, base_dir=tmp_path, var_dir=tmp_path))
    assert result.ok, result.problems
    assert result.registry.get("shop").database["CONN_MAX_AGE"] == 5


def test_site_databases_keep_connections_and_check_their_health(settings):
    for alias, database in settings.DATABASES.items():
        assert database["CONN_MAX_AGE"] > 0, alias
        assert database["CONN_HEALTH_CHECKS"] is True, alias


@pytest.mark.django_db(databases="__all__")
def test_mariadb_sessions_run_in_utc_whatever_the_servers_zone(alpha):
    """Django keeps datetimes in UTC; the database's own clock (column defaults, NOW()) must too."""
    from django.db import connections

    connection = connections[alpha.db_alias]
    if connection.vendor != "mysql":
        pytest.skip("a MariaDB setting; the embedded default is SQLite")  # CI runs it on MariaDB
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@session.time_zone, @@session.sql_mode")
        zone, mode = cursor.fetchone()
    assert zone == "+00:00"
    assert "STRICT_TRANS_TABLES" in mode
