"""The deploy files against the real thing: promtool, a live Prometheus scraping a live
SOGOMS server, and every metric the dashboard and the alerts name is one /metrics exposes.

Prometheus and promtool come from Debian's `prometheus` package (.ci/run installs it).
Without them these tests skip, except under SOGOMS_REQUIRE_SERVICES=1 (CI), where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.realtime.servers import BASE_DIR, free_port, prepare_site, stop_process, uvicorn

DEPLOY = BASE_DIR / "deploy"
TOKEN = "a metrics token for the Prometheus test"
NAME = re.compile(r"\bsogoms_[a-z0-9_]+")
# The sample names of each metric type (counters gain _total, histograms three series).
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def tool(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if found is None:
        message = f"{name} is not installed (Debian's prometheus package)"
        if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "sogoms.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    expressions += [var["definition"] for var in dashboard["templating"]["list"] if var.get("definition")]
    return expressions


def alert_expressions() -> list[str]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


@pytest.mark.django_db(databases="__all__")
def test_the_dashboard_and_the_alerts_use_only_metrics_the_endpoint_exposes(client):
    text = client.get("/metrics", HTTP_HOST="localhost").content.decode()
    exposed = {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in SUFFIXES.get(family.type, ("",))
    }
    dashboard, alerts = dashboard_expressions(), alert_expressions()
    assert len(dashboard) >= 15 and len(alerts) >= 7

    used = {name for expression in dashboard + alerts for name in NAME.findall(expression)}

    assert used - exposed == set()
    for topic in ("http_requests", "request_duration", "mail_", "cron_", "push_"):  # what it is for
        assert any(topic in name for name in NAME.findall(" ".join(dashboard))), topic


def test_the_deploy_files_pass_promtool():
    promtool = tool("promtool")
    for command in (
        [promtool, "check", "config", "--syntax-only", str(DEPLOY / "prometheus" / "prometheus.yml")],
        [promtool, "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def query(port: int, expression: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


def log_tail(tmp_path: Path) -> str:
    return (tmp_path / "prometheus.log").read_text()[-3000:]


def prometheus_config(tmp_path: Path, target: str, token_file: Path) -> Path:
    """The deploy config, pointed at the test's server, scraping every second."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    shutil.copy(DEPLOY / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    config["rule_files"] = [str(tmp_path / "alerts.yml")]
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [target]}]
        job["authorization"]["credentials_file"] = str(token_file)
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_prometheus_scrapes_a_live_server_with_the_deploy_config(tmp_path):
    prometheus = tool("prometheus")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    env = prepare_site(tmp_path / "site")
    env.update(SOGOMS_METRICS_TOKEN_FILE=str(token_file), PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "mp"))
    # A host that is not an operator's, as Prometheus scrapes by address: the token opens it.
    env["SOGOMS_OPERATOR_HOSTS"] = "ops.example"
    with uvicorn(env, free_port()) as address:
        config = prometheus_config(tmp_path, address, token_file)
        port = free_port()
        command = [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        with (tmp_path / "prometheus.log").open("wb") as log:
            server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            try:
                jobs = {"sogoms-http", "sogoms-socket"}
                deadline, found = time.time() + 60, []
                while {series["metric"]["job"] for series in found} != jobs and time.time() < deadline:
                    time.sleep(0.5)
                    try:
                        found = query(port, 'sogoms_http_requests_total{route="metrics",status="200"}')
                    except OSError:
                        continue
                assert {series["metric"]["job"] for series in found} == jobs, log_tail(tmp_path)
                up = query(port, 'up{job="sogoms-http"}')
                assert [series["value"][1] for series in up] == ["1"]
                assert query(port, "sogoms_build_info")[0]["metric"]["version"] == "0.1.0"
                rules = json.loads(
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/rules", timeout=5).read()
                )
                loaded = [rule["name"] for group in rules["data"]["groups"] for rule in group["rules"]]
                assert len(loaded) == len(alert_expressions())
            finally:
                stop_process(server, grace=15)
