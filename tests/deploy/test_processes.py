"""The image's entrypoint run as the Kubernetes manifests run it, on this machine.

Each process gets the environment its container would have (the Dockerfile's ENV, the
ConfigMap sogoms-env, the Deployment's own variables), with the container's paths moved
under a temporary root: the ConfigMap sogoms-config as files for the entrypoint to lay
out, the Secret's keys as files under the secrets mount (SQLite URLs for the databases,
a Redis of the test's own). Then: the migrate Job exits 0, the HTTP and socket servers
answer their readiness and liveness probes as the kubelet sends them, a worker answers
its health check's Celery ping, and beat starts.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import yaml

from tests.deploy.manifests import KUBERNETES, dockerfile_env, entrypoint, kubernetes, venv_path
from tests.realtime.servers import BASE_DIR, free_port, stop_process

# The container's /tmp (moved under the test's root like every path of the container).
CONTAINER_TMP = "/tmp"  # noqa: S108
# The variables of the test run that a container does not have.
_DROP = (
    "DATABASE_URL",
    "SOGOMS_TENANT_DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
    "PROMETHEUS_MULTIPROC_DIR",
)


class Container:
    """The file system and environment of the pods, under `root`."""

    def __init__(self, root: Path, redis_url: str) -> None:
        self.root = root
        self.redis_url = redis_url
        configmap = yaml.safe_load((KUBERNETES / "11-config.yaml").read_text())["data"]
        config_dir = self.path("/etc/sogoms/config")
        config_dir.mkdir(parents=True)
        for key, text in configmap.items():
            (config_dir / key).write_text(text)
        self.secrets = {
            "database_url": f"sqlite:///{self.path('/app/var/db/control.sqlite3')}",
            "tenant_database_url": f"sqlite:///{self.path('/app/var/db')}/{{app}}.sqlite3",
            "redis_url": redis_url,
            **{
                name: secrets.token_urlsafe(32)
                for name in ("django_secret_key", "outbox_key", "metrics_token")
            },
            **{f"{app}_jwt_secret": secrets.token_urlsafe(32) for app in ("prokov", "shop")},
        }
        self.path("/app/var/db").mkdir(parents=True)

    def path(self, container_path: str) -> Path:
        """Where a path of the container is on this machine (the code, /app, stays the checkout
        for imports; /app/var and the mounts move under the root)."""
        return self.root / container_path.lstrip("/")

    def _moved(self, value: str) -> str:
        for prefix in ("/app/var", "/etc/sogoms", CONTAINER_TMP):
            if value == prefix or value.startswith(prefix + "/"):
                return str(self.path(value))
        return value

    def env(self, kind: str, name: str) -> dict[str, str]:
        """The environment of the container of `kind/name`, as the kubelet would give it."""
        spec = kubernetes(kind, name)["spec"]["template"]["spec"]
        container = spec["containers"][0]
        secret_mount = next(
            mount["mountPath"]
            for mount in container["volumeMounts"]
            for volume in spec["volumes"]
            if volume["name"] == mount["name"]
            and volume.get("secret", {}).get("secretName") == "sogoms-secrets"
        )
        secret_dir = self.path(secret_mount)
        secret_dir.mkdir(parents=True, exist_ok=True)
        for key, value in self.secrets.items():
            (secret_dir / key).write_text(value + "\n")
        env = {key: value for key, value in os.environ.items() if key not in _DROP}
        image_env = dockerfile_env()
        image_env.pop("PATH")
        env.update({key: self._moved(value) for key, value in image_env.items()})
        for source in container.get("envFrom", []):
            data = kubernetes("ConfigMap", source["configMapRef"]["name"])["data"]
            env.update({key: self._moved(value) for key, value in data.items()})
        env.update({item["name"]: self._moved(item["value"]) for item in container.get("env", [])})
        # The code stays where it is (/app in the image is this checkout), the relative paths of
        # the tenants' YAML resolve against the moved /app (the demo's var/secrets/...).
        env["SOGOMS_BASE_DIR"] = str(self.path("/app"))
        tmp = self.path(f"{CONTAINER_TMP}/{name}")
        tmp.mkdir(parents=True, exist_ok=True)
        env.update(
            PATH=venv_path(),
            TMPDIR=str(tmp),
            SOGOMS_METRICS_DIR=str(tmp / "sogoms-metrics"),
            SOGOMS_HTTP_BIND=f"127.0.0.1:{free_port()}",
            SOGOMS_SOCKET_BIND=f"127.0.0.1:{free_port()}",
            SOGOMS_HTTP_WORKERS="1",
            SOGOMS_WORKER_CONCURRENCY="1",
            SOGOMS_LOG_LEVEL="WARNING",
        )
        return env

    def args(self, kind: str, name: str) -> list[str]:
        return list(kubernetes(kind, name)["spec"]["template"]["spec"]["containers"][0]["args"])


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A redis-server of this module's own: the workers' queue is no other test's."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("SOGOMS_REQUIRE_SERVICES"):
            pytest.fail("redis-server is required (SOGOMS_REQUIRE_SERVICES)")
        pytest.skip("redis-server is not installed")
    port = free_port()
    directory = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    while (
        subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, check=False
        ).stdout.strip()
        != b"PONG"
    ):
        assert time.time() < deadline and server.poll() is None, "redis-server did not start"
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    stop_process(server)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory, redis_url) -> Container:
    """The container root, after the migrate Job's process ran to its end."""
    container = Container(tmp_path_factory.mktemp("container"), redis_url)
    job = kubernetes("Job", "sogoms-migrate")["spec"]["template"]["spec"]
    assert job["restartPolicy"] == "Never"
    done = entrypoint(
        *container.args("Job", "sogoms-migrate"), env=container.env("Job", "sogoms-migrate"), dry_run=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return container


@contextmanager
def running(container: Container, name: str) -> Iterator[tuple[dict[str, str], Path]]:
    """The Deployment's process, started by the entrypoint; its environment and its log."""
    env = container.env("Deployment", name)
    log_path = container.path(f"{CONTAINER_TMP}/{name}.log")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                "sh",
                str(BASE_DIR / "deploy" / "container" / "entrypoint.sh"),
                *container.args("Deployment", name),
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield env, log_path
            assert process.poll() is None, f"{name} exited: {log_path.read_text()[-3000:]}"
        finally:
            stop_process(process, grace=15)


def _get(url: str, host: str | None) -> int:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})  # noqa: S310  (loopback)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310  (loopback)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _wait_for(condition, what: str, log: Path, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, f"{what}: {log.read_text()[-3000:]}"
        time.sleep(0.2)


def _answers(url: str, host: str | None) -> bool:
    try:
        return _get(url, host) == 200
    except OSError:
        return False


def _probe(env: dict[str, str], name: str, bind: str, log: Path) -> None:
    """Wait until the readiness and liveness probes of the Deployment answer 200, as sent."""
    container_spec = kubernetes("Deployment", name)["spec"]["template"]["spec"]["containers"][0]
    for probe in (container_spec["readinessProbe"], container_spec["livenessProbe"]):
        get = probe["httpGet"]
        host = next((h["value"] for h in get.get("httpHeaders", []) if h["name"].lower() == "host"), None)
        url = f"http://{env[bind]}{get['path']}"
        _wait_for(lambda url=url, host=host: _answers(url, host), f"{name} {get['path']}", log)


def test_the_pods_processes_start_and_answer_their_probes_and_health_checks(migrated):
    """One test (one set-up of the container root): the migrate Job ran; then the four
    Deployments' processes start side by side, as their pods would."""
    for key in yaml.safe_load((KUBERNETES / "11-config.yaml").read_text())["data"]:
        assert migrated.path("/app/var/config/" + key.replace("__", "/")).is_file(), key
    for database in ("control", "prokov", "shop"):
        assert migrated.path(f"/app/var/db/{database}.sqlite3").stat().st_size > 0, database

    with ExitStack() as stack:
        started = {
            name: stack.enter_context(running(migrated, name))
            for name in ("sogoms-http", "sogoms-socket", "sogoms-worker", "sogoms-beat")
        }
        for name, bind in (("sogoms-http", "SOGOMS_HTTP_BIND"), ("sogoms-socket", "SOGOMS_SOCKET_BIND")):
            env, log = started[name]
            _probe(env, name, bind, log)
            health = entrypoint("healthcheck", env=env, dry_run=False)
            assert health.returncode == 0, (name, health.stderr)
            # /metrics opened by the token file, from the process's multiprocess directory.
            token = migrated.secrets["metrics_token"]
            request = urllib.request.Request(
                f"http://{env[bind]}/metrics", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310  (loopback)
                assert b"sogoms_build_info" in response.read()
            assert any(Path(env["SOGOMS_METRICS_DIR"]).glob("*/*.db")), (name, "no multiprocess files")

        env, log = started["sogoms-worker"]
        _wait_for(lambda: b" ready." in log.read_bytes(), "the worker did not start", log)
        health = entrypoint("healthcheck", env=env, dry_run=False)
        assert health.returncode == 0, health.stdout + health.stderr
        assert "pong" in health.stdout

        env, log = started["sogoms-beat"]
        run_dir = migrated.path("/app/var/run")
        _wait_for(lambda: any(run_dir.glob("celerybeat-schedule*")), "beat did not start", log)

    # Stopped: the HTTP container's health check now fails.
    assert entrypoint("healthcheck", env=started["sogoms-http"][0], dry_run=False).returncode != 0
