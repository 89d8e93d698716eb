"""API rate limits (`rate_limit.api` of a tenant's routes): per client IP at the edge, per
user and per resource operation once the caller is known; sliding windows in the cache
(Redis, shared by processes); 429 RATE_LIMITED with Retry-After, RateLimit-* headers.

alice and bob are users of alpha; charlie of beta (whose limits are its own).
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request

import pytest
import redis

from tenants.auth import ratelimit
from tenants.config import ApiLimits, RateLimit
from tenants.config.durations import parse_rate
from tests.conftest import data_of, error_of
from tests.realtime.servers import BASE_DIR, free_port, site_env, sogoms_command, uvicorn

pytestmark = pytest.mark.django_db(databases="__all__")


def limits(*, per_ip=None, per_user=None, **operations) -> ApiLimits:
    def rate(text):
        return RateLimit(*parse_rate(text)) if text else None

    return ApiLimits(
        rate(per_ip), rate(per_user), {op: RateLimit(*parse_rate(v)) for op, v in operations.items()}
    )


def test_without_api_limits_nothing_is_counted_or_said(alpha_api, alice):
    token = alpha_api.token_for(alice.email)
    for _ in range(30):
        response = alpha_api.get("projects", token=token)
        assert response.status_code == 200
    assert "RateLimit-Limit" not in response.headers


def test_a_client_ip_over_its_limit_is_refused_before_its_token_is_read(alpha_api, reconfigure):
    reconfigure("alpha", api_limits=limits(per_ip="3/1m"))

    answers = [alpha_api.get("projects", token="not a token") for _ in range(4)]

    assert [response.status_code for response in answers] == [401, 401, 401, 429]
    assert [response["RateLimit-Remaining"] for response in answers] == ["2", "1", "0", "0"]
    refused = error_of(answers[-1], 429, "RATE_LIMITED")
    assert refused["message"] == "Too many requests; try again later."
    # the rest of this window, then until 4 in the previous one weigh no more than 3: 15 s
    assert 1 <= int(answers[-1]["Retry-After"]) <= 60 + 15
    assert answers[0]["RateLimit-Limit"] == "3" and answers[0]["RateLimit-Policy"] == "3;w=60"
    # another client IP is another count
    assert alpha_api.get("projects", token="x", REMOTE_ADDR="10.0.0.2").status_code == 401


def test_a_user_over_their_limit_is_refused_from_any_ip_and_others_are_not(
    alpha_api, reconfigure, alice, bob
):
    alice_token, bob_token = alpha_api.token_for(alice.email), alpha_api.token_for(bob.email)
    reconfigure("alpha", api_limits=limits(per_user="2/1m"))

    assert alpha_api.get("projects", token=alice_token).status_code == 200
    assert alpha_api.get("projects", token=alice_token, REMOTE_ADDR="10.0.0.7").status_code == 200
    refused = alpha_api.get("projects", token=alice_token, REMOTE_ADDR="10.0.0.8")

    error_of(refused, 429, "RATE_LIMITED")
    assert refused["RateLimit-Remaining"] == "0"
    assert data_of(alpha_api.get("projects", token=bob_token)) == []


def test_an_operation_limit_holds_for_that_operation_only(alpha_api, reconfigure, alice):
    token = alpha_api.token_for(alice.email)
    reconfigure("alpha", api_limits=limits(create="2/1m"))

    created = [alpha_api.post("projects", {"name": f"P{index}"}, token=token) for index in range(3)]

    assert [response.status_code for response in created] == [201, 201, 429]
    assert alpha_api.get("projects", token=token).status_code == 200
    assert len(data_of(alpha_api.get("projects", token=token))) == 2  # the refused one wrote nothing


def test_the_tightest_limit_is_the_one_the_headers_tell(alpha_api, reconfigure, alice):
    token = alpha_api.token_for(alice.email)
    reconfigure("alpha", api_limits=limits(per_ip="100/1m", per_user="5/1m"))

    response = alpha_api.get("projects", token=token)

    assert (response["RateLimit-Limit"], response["RateLimit-Remaining"]) == ("5", "4")
    assert response["RateLimit-Policy"] == "100;w=60, 5;w=60"


def test_each_tenant_has_its_own_counts(alpha_api, beta_api, reconfigure, charlie):
    reconfigure("alpha", api_limits=limits(per_ip="1/1m"))
    alpha_api.get("projects")
    assert alpha_api.get("projects").status_code == 429
    assert beta_api.get("projects", token=beta_api.token_for(charlie.email)).status_code == 200


def test_the_sliding_window_weighs_the_previous_window(monkeypatch):
    rate = RateLimit(10, parse_rate("10/1m")[1])
    clock = [1_000_020.0]  # 0 s into a window (1_000_020 is a multiple of 60)
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock[0])
    for _ in range(10):
        ratelimit.hit_sliding("test", "someone", rate)

    clock[0] += 60 + 30  # half-way through the next window: half of the 10 still counts
    usage = ratelimit.hit_sliding("test", "someone", rate)
    assert (usage.used, usage.remaining, usage.over) == (6.0, 4, False)
    for _ in range(4):
        usage = ratelimit.hit_sliding("test", "someone", rate)
    assert usage.remaining == 0 and not usage.over
    usage = ratelimit.hit_sliding("test", "someone", rate)
    assert usage.over
    # 10 previous * (1 - f) + 6 current <= 10 once f >= 0.6: 6 s from now
    assert usage.reset == 6


def test_config_rates_are_checked_at_load(tmp_path):
    from tenants.config.loader import LoadOptions, load_config

    (tmp_path / "routes").mkdir()
    (tmp_path / "secret").write_text("s" * 40)
    (tmp_path / "routes" / "shop.yaml").write_text(
        "app: shop\nhosts: [shop.test]\nauth: {jwt_secret_file: secret}\n"
        "rate_limit:\n  api:\n    per_user: 10/1x\n    operations: {publish: 1/1m}\n"
    )
    result = load_config(LoadOptions(config_dir=tmp_path, base_dir=tmp_path, var_dir=tmp_path))

    keys = {problem.path for problem in result.problems}
    assert {"rate_limit.api.per_user", "rate_limit.api.operations.publish.[key]"} <= keys


def test_the_limit_holds_across_two_server_processes_on_redis(tmp_path):
    """Both processes count in the same Redis: the 6th request, whichever process gets it, is 429."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
            pytest.fail("REDIS_URL is required for this test")
        pytest.skip("needs REDIS_URL (counts shared between processes)")
    database_url = url.rsplit("/", 1)[0] + "/13"  # a Redis database of this test's own
    redis.Redis.from_url(database_url).flushdb()
    config = tmp_path / "config"
    shutil.copytree(BASE_DIR / "tests" / "config", config)
    routes = config / "routes" / "alpha.yaml"
    routes.write_text(
        routes.read_text().replace("  - www.alpha.test\n", "  - www.alpha.test\n  - 127.0.0.1\n")
        + "rate_limit:\n  api:\n    per_ip: 5/1m\n"
    )
    env = site_env(config, tmp_path / "var")
    env["REDIS_URL"] = database_url
    sogoms_command(env, "migrate")

    def status(address: str) -> int:
        try:
            with urllib.request.urlopen(f"http://{address}/api/auth/me", timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    with uvicorn(env, free_port()) as first, uvicorn(env, free_port()) as second:
        statuses = [status(address) for address in (first, second, first, second, first, second, first)]
    assert statuses == [401, 401, 401, 401, 401, 429, 429]
