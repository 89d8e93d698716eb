"""The container files agree with the code: every process they start is one the image's
entrypoint runs and `manage.py` accepts, the probes answer, the secrets are the documented
`*_FILE` variables, the Ingress sends each tenant's socket to the socket servers, and
the HTTP and socket servers can be scaled and disrupted safely while beat stays single.

(`hadolint`, `kubernetes-validate` and the compose schema check run in .ci/run; the real
processes are started in test_processes.py.)
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import ManagementUtility

from tests.deploy.manifests import (
    BASE_DIR,
    CONFIGMAP_SCRIPT,
    DOCKERFILE,
    KUBERNETES,
    PROCESSES,
    compose,
    compose_processes,
    dockerfile_env,
    entrypoint,
    kubernetes,
    kubernetes_containers,
    kubernetes_documents,
    pod_spec,
)
from tests.realtime.servers import site_env

OPERATIONS = (BASE_DIR / "docs" / "operations.md").read_text()
CONFIGURATION = (BASE_DIR / "docs" / "configuration.md").read_text()


def _all_processes() -> list[tuple[str, list[str]]]:
    found = [(f"compose {name}", args) for name, args in compose_processes().items()]
    found += [
        (where, list(container.get("command", [])) + list(container.get("args", [])))
        for where, container in kubernetes_containers()
    ]
    return found


def test_compose_and_kubernetes_run_every_process_type():
    assert set(compose_processes()) >= PROCESSES
    assert {args[0] for args in compose_processes().values()} == PROCESSES
    assert {container["args"][0] for _, container in kubernetes_containers()} == PROCESSES
    # The entrypoint alone says how a process starts (so a server changes in one line
    # there): compose and Kubernetes name the process and never replace the entrypoint.
    assert all("command" not in container for _, container in kubernetes_containers())
    assert all("entrypoint" not in service for service in compose()["services"].values())


@pytest.mark.parametrize(("where", "args"), _all_processes())
def test_every_process_is_one_the_entrypoint_runs(where, args):
    done = entrypoint(*args, env={**os.environ, "PATH": os.environ["PATH"]})

    assert done.returncode == 0, f"{where}: {done.stderr}"
    assert done.stdout.strip(), where


def test_the_entrypoint_refuses_an_unknown_process():
    done = entrypoint("webserver")

    assert done.returncode == 64
    assert "unknown process 'webserver'" in done.stderr


def _manage_help(command: str) -> int | str | None:
    """`manage.py <command> --help` in this process: argparse's exit code."""
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", *command.split(), "--help"]).execute()
    return exited.value.code


def test_every_manage_command_the_processes_run_exists(capsys):
    """`python manage.py ...` lines of every process: the same arguments with --help succeed."""
    commands = set()
    for _, args in _all_processes():
        for line in entrypoint(*args).stdout.splitlines():
            if line.startswith("python manage.py "):
                commands.add(line.removeprefix("python manage.py "))
    assert commands >= {"sogoms check", "sogoms migrate"}
    for command in sorted(commands):
        assert _manage_help(command) in (0, None), command
        assert "usage:" in capsys.readouterr().out
    # What a command that does not exist gets, so the check above can fail.
    assert _manage_help("sogoms migrations") not in (0, None)


# Probes ---------------------------------------------------------------------------


def _probe_host(probe: dict) -> str:
    """The Host header of an httpGet probe: its own, else the pod's address, as the kubelet sends."""
    for header in probe["httpGet"].get("httpHeaders", []):
        if header["name"].lower() == "host":
            return header["value"]
    return "10.1.2.3"


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("deployment", ["sogoms-http", "sogoms-socket"])
def test_the_probes_answer_200_as_the_kubelet_asks(client, deployment):
    container = kubernetes("Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]
    readiness, liveness = container["readinessProbe"], container["livenessProbe"]

    assert readiness["httpGet"]["path"] == "/ready"
    assert liveness["httpGet"]["path"] == "/health"
    assert (
        readiness["httpGet"]["port"] == liveness["httpGet"]["port"] == container["ports"][0]["containerPort"]
    )
    for probe in (readiness, liveness):
        host = _probe_host(probe)
        response = client.get(probe["httpGet"]["path"], HTTP_HOST=host)
        assert response.status_code == 200, (deployment, probe["httpGet"]["path"], host, response.content)
        assert response.json()["status"] == "ok"


@pytest.mark.django_db(databases="__all__")
def test_ready_needs_the_operator_host_the_probe_sends(client):
    """Without its Host header the readiness probe would ask on the pod's address, which
    is not an operator host: /ready is then an unknown path and the pod never ready."""
    readiness = kubernetes("Deployment", "sogoms-http")["spec"]["template"]["spec"]["containers"][0][
        "readinessProbe"
    ]
    assert _probe_host(readiness) in settings.SOGOMS_OPERATOR_HOSTS
    env = kubernetes("ConfigMap", "sogoms-env")["data"]
    assert _probe_host(readiness) in env["SOGOMS_OPERATOR_HOSTS"].split(",")

    assert client.get("/ready", HTTP_HOST="10.1.2.3").status_code == 404


# Scaling ---------------------------------------------------------------------------


def _pod_labels(deployment: str) -> dict:
    return kubernetes("Deployment", deployment)["spec"]["template"]["metadata"]["labels"]


@pytest.mark.parametrize("deployment", ["sogoms-http", "sogoms-socket"])
def test_http_and_socket_servers_have_an_autoscaler_and_a_disruption_budget(deployment):
    hpa = kubernetes("HorizontalPodAutoscaler", deployment)
    pdb = kubernetes("PodDisruptionBudget", deployment)
    spec = kubernetes("Deployment", deployment)["spec"]["template"]["spec"]

    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment,
    }
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert spec["containers"][0]["resources"]["requests"]["cpu"], "a CPU target needs a CPU request"
    selector = pdb["spec"]["selector"]["matchLabels"]
    assert selector.items() <= _pod_labels(deployment).items()
    # A node drain may take one pod at a time; the others keep serving.
    assert (
        pdb["spec"]["minAvailable"]
        < hpa["spec"]["minReplicas"]
        <= kubernetes("Deployment", deployment)["spec"]["replicas"]
    )


def test_workers_scale_on_the_length_of_celerys_queue(tmp_path):
    scaled = kubernetes("ScaledObject", "sogoms-worker")
    trigger = scaled["spec"]["triggers"][0]
    # The queue the production settings send tasks to (the tests' settings use their own).
    env = site_env(BASE_DIR / "config", tmp_path / "var")
    queue = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from sogoms_site.celery import app; "
            "print(app.conf.task_default_queue)",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()

    assert scaled["spec"]["scaleTargetRef"]["name"] == "sogoms-worker"
    kubernetes("Deployment", "sogoms-worker")
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == queue == "celery"
    assert int(trigger["metadata"]["listLength"]) > 0


def test_beat_runs_exactly_one_replica_never_two_during_a_rollout():
    beat = kubernetes("Deployment", "sogoms-beat")

    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert not [
        doc
        for _, doc in kubernetes_documents()
        if doc.get("spec", {}).get("scaleTargetRef", {}).get("name") == "sogoms-beat"
    ]
    assert "deploy" not in compose()["services"]["beat"]


def test_compose_starts_the_servers_after_a_successful_migration():
    services = compose()["services"]

    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("http", "socket", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, (
            name
        )
    assert services["migrate"]["depends_on"]["mariadb"] == {"condition": "service_healthy"}


# Ingress ---------------------------------------------------------------------------


def _tenants() -> dict[str, dict]:
    return {
        path.stem: yaml.safe_load(path.read_text())
        for path in sorted((BASE_DIR / "config" / "routes").glob("*.yaml"))
    }


def _ingress_routes(name: str) -> dict[tuple[str, str], tuple[str, str, int]]:
    routes = {}
    for rule in kubernetes("Ingress", name)["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            service = path["backend"]["service"]
            routes[(rule["host"], path["path"])] = (
                path["pathType"],
                service["name"],
                service["port"]["number"],
            )
    return routes


def test_the_ingress_sends_each_tenants_socket_to_the_socket_servers_with_long_timeouts():
    sockets, http = _ingress_routes("sogoms-socket"), _ingress_routes("sogoms-http")
    socket_port = kubernetes("Service", "sogoms-socket")["spec"]["ports"][0]["port"]
    http_port = kubernetes("Service", "sogoms-http")["spec"]["ports"][0]["port"]
    tenant_hosts = {host for tenant in _tenants().values() for host in tenant["hosts"]}

    for app, tenant in _tenants().items():
        published = [host for host in tenant["hosts"] if (host, f"{tenant['base_path']}/ws") in sockets]
        assert published, f"{app}: no Ingress rule for {tenant['base_path']}/ws"
        for host in published:
            assert sockets[(host, f"{tenant['base_path']}/ws")] == ("Exact", "sogoms-socket", socket_port)
            assert http[(host, "/")] == ("Prefix", "sogoms-http", http_port)
    assert {host for host, _ in sockets} | {host for host, _ in http} <= tenant_hosts
    annotations = kubernetes("Ingress", "sogoms-socket")["metadata"]["annotations"]
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[f"nginx.ingress.kubernetes.io/{timeout}"]) >= 3600


# Config and secrets ----------------------------------------------------------------


def _generated_configmap(config_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CONFIGMAP_SCRIPT), str(config_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_configmap_is_the_config_directory_generated_afresh():
    generated = _generated_configmap(BASE_DIR / "config")
    committed = (KUBERNETES / "11-config.yaml").read_text()

    assert generated.returncode == 0, generated.stderr
    assert generated.stdout == committed, (
        "run: python deploy/container/configmap.py config > deploy/kubernetes/11-config.yaml"
    )
    data = yaml.safe_load(committed)["data"]
    files = {
        path.relative_to(BASE_DIR / "config").as_posix(): path
        for path in (BASE_DIR / "config").rglob("*")
        if path.is_file()
    }
    assert {key.replace("__", "/") for key in data} == set(files)
    for key, text in data.items():
        assert files[key.replace("__", "/")].read_text() == text


def test_the_configmap_generator_refuses_an_ambiguous_path_and_leaves_symlinks_out(tmp_path):
    (tmp_path / "routes").mkdir()
    (tmp_path / "routes" / "a.yaml").write_text("app: a\n")
    (tmp_path / "secret").write_text("s3cret\n")
    (tmp_path / "routes" / "link.yaml").symlink_to(tmp_path / "secret")
    done = _generated_configmap(tmp_path)
    assert done.returncode == 0, done.stderr
    assert set(yaml.safe_load(done.stdout)["data"]) == {"routes__a.yaml", "secret"}

    (tmp_path / "queries__x.yaml").write_text("x\n")
    refused = _generated_configmap(tmp_path)
    assert refused.returncode == 1
    assert "may not contain '__'" in refused.stderr
    assert refused.stdout == ""


def _file_variables(env: list[dict] | dict) -> dict[str, str]:
    pairs = env.items() if isinstance(env, dict) else ((item["name"], item.get("value", "")) for item in env)
    return {name: value for name, value in pairs if name.endswith("_FILE")}


def test_every_secret_is_a_documented_file_variable_of_the_mounted_secret():
    """Kubernetes: each `*_FILE` names a key of the Secret mounted where it points, and the
    variable and the key are in the docs (configuration.md; the `kubectl create secret`
    of operations.md)."""
    created = re.search(r"kubectl create secret generic sogoms-secrets(.*?)(?:\n\n|```)", OPERATIONS, re.S)
    assert created, "docs/operations.md shows how to create the Secret sogoms-secrets"
    documented_keys = set(re.findall(r"--from-file=([\w.-]+)=", created.group(1)))
    for where, container in kubernetes_containers():
        mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
        spec = next(
            pod_spec(doc)
            for _, doc in kubernetes_documents()
            if f"{doc['kind']}/{doc['metadata']['name']}" == where
        )
        secret_volume = next(
            v["name"] for v in spec["volumes"] if v.get("secret", {}).get("secretName") == "sogoms-secrets"
        )
        variables = _file_variables(container["env"])
        assert set(variables) >= {"DATABASE_URL_FILE", "SOGOMS_SECRET_KEY_FILE"}, where
        for variable, path in variables.items():
            assert f"`{variable}`" in CONFIGURATION, f"{variable} is not documented"
            directory, key = path.rsplit("/", 1)
            assert directory == mounts[secret_volume], (where, variable)
            assert key in documented_keys, (where, variable, key)
    for tenant in _tenants().values():
        key = Path(tenant["auth"]["jwt_secret_file"]).name
        assert key in documented_keys


def test_every_compose_secret_file_variable_names_a_secret_of_its_service():
    document = compose()
    for name, service in document["services"].items():
        granted = {}
        for secret in service.get("secrets", []):
            source = secret if isinstance(secret, str) else secret["source"]
            target = (
                f"/run/secrets/{source}"
                if isinstance(secret, str)
                else secret.get("target", f"/run/secrets/{source}")
            )
            granted[target] = source
            assert source in document["secrets"], (name, source)
        for variable, path in _file_variables(service.get("environment", {})).items():
            assert path in granted, (name, variable, path)
            base = variable.removesuffix("_FILE")
            if base.startswith(("SOGOMS_", "DATABASE_", "REDIS_")):
                assert f"`{variable}`" in CONFIGURATION, f"{variable} is not documented"


def test_urls_are_read_from_their_files_and_not_both_ways(tmp_path):
    url_file = tmp_path / "database_url"
    url_file.write_text("mysql://sogoms:p%40ss@db.internal:3306/sogoms\n")
    env = site_env(BASE_DIR / "config", tmp_path / "var")
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "d = s.DATABASES['default']; print(d['ENGINE'], d['HOST'], d['PASSWORD'])"
    )

    def run(**extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", script],
            cwd=BASE_DIR,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    done = run(DATABASE_URL_FILE=str(url_file))
    assert done.returncode == 0, done.stderr
    # Django's MySQL backend as settings tune it (sogoms_site.db.mysql)
    assert done.stdout.split() == ["sogoms_site.db.mysql", "db.internal", "p@ss"]
    both = run(DATABASE_URL_FILE=str(url_file), DATABASE_URL="mysql://x@y/z")
    assert both.returncode != 0
    assert "set DATABASE_URL or DATABASE_URL_FILE, not both" in both.stderr
    assert "p@ss" not in both.stderr


# The image -------------------------------------------------------------------------


def _final_stage() -> str:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    return text[text.rindex("\nFROM ") :]


def test_the_runtime_stage_runs_unprivileged_without_build_tools():
    stage = _final_stage()
    user = re.findall(r"^USER (\S+)", stage, re.M)

    assert user and user[-1].split(":")[0].isdigit() and int(user[-1].split(":")[0]) > 0
    assert not re.search(r"\b(gcc|g\+\+|build-essential|libmariadb-dev|pkg-config)\b", stage)
    assert "HEALTHCHECK" in stage and 'ENTRYPOINT ["sogoms-container"]' in stage
    env = dockerfile_env()
    assert env["PATH"].startswith("/opt/venv/bin")
    assert env["SOGOMS_STATIC_ROOT"] != env["SOGOMS_VAR_DIR"] + "/static", (
        "the var volume would hide the static files"
    )


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").removeprefix("**/")
        parts = path.split("/")
        if any(
            fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) or fnmatch.fnmatch(parts[i], pattern)
            for i in range(len(parts))
        ):
            ignored = not negate
    return ignored


def test_the_build_context_keeps_the_code_the_config_and_the_entrypoint():
    patterns = [
        line.strip()
        for line in (BASE_DIR / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    apps = [app for app in settings.INSTALLED_APPS if (BASE_DIR / app).is_dir()]
    kept = [
        "manage.py",
        "requirements.txt",
        "config/routes/prokov.yaml",
        "deploy/container/entrypoint.sh",
        "deploy/container/configmap.py",
    ]
    kept += [f"{app}/__init__.py" for app in apps]

    assert len(apps) >= 5
    for path in kept:
        assert not _ignored(path, patterns), path
    for path in (
        "tests/conftest.py",
        ".venv/bin/python",
        "var/secrets/django_secret_key",
        ".git/HEAD",
        "deploy/systemd/sogoms.target",
    ):
        assert _ignored(path, patterns), path


def test_the_images_collectstatic_step_runs_without_a_database_or_a_secret_left_behind(tmp_path):
    """The Dockerfile's collectstatic line, run here with its own variables (paths moved
    under tmp_path): the admin's and Swagger UI's files are collected, nothing is written
    to the var directory's secrets, and no database is needed."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if "collectstatic" in line)
    words = shlex.split(line.removeprefix("RUN ").split("&&")[0])
    assignments = dict(word.split("=", 1) for word in words if re.match(r"^[A-Z_]+=", word))
    command = [word for word in words if not re.match(r"^[A-Z_]+=", word)]
    assert command[0] == "/opt/venv/bin/python" and command[1:] == ["manage.py", "collectstatic", "--noinput"]
    moved = {
        key: str(tmp_path / value.lstrip("/")) if value.startswith("/") else value
        for key, value in assignments.items()
    }
    env = {key: value for key, value in site_env(BASE_DIR / "config", tmp_path / "unused").items()}
    env.pop("SOGOMS_VAR_DIR")
    env.update(moved)

    done = subprocess.run(
        [sys.executable, *command[1:]],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    static = Path(moved["SOGOMS_STATIC_ROOT"])
    assert (static / "admin" / "css" / "base.css").is_file()
    assert (static / "swagger-ui" / "swagger-ui-bundle.js").is_file()
    assert not (Path(moved["SOGOMS_VAR_DIR"]) / "secrets").exists()
    assert dockerfile_env()["SOGOMS_STATIC_ROOT"] == "/app/static"
    assert "COPY --from=builder " + assignments["SOGOMS_STATIC_ROOT"] + " ./static" in text


def test_the_http_process_runs_the_production_command():
    """The image serves HTTP as `make serve-prod`, the unit and `sogoms ctl` do."""
    from sogoms_site.serving import default_workers, http_server_args

    program, *args = shlex.split(entrypoint("http").stdout.strip().splitlines()[-1])
    assert program == "granian"
    # the workers as this environment's DATABASE_URL makes them, for the image as for the rest
    assert args == http_server_args("0.0.0.0", 8000, default_workers())  # noqa: S104 (a container listens on all)


@pytest.mark.parametrize(
    ("database", "workers"),
    [
        ({"DATABASE_URL": "mysql://sogoms@db/sogoms"}, "4"),
        ({"DATABASE_URL_FILE": "/run/secrets/url"}, "4"),
        ({}, "2"),
    ],
)
def test_the_http_process_has_the_documented_workers_unless_told(database, workers):
    from sogoms_site.serving import default_workers

    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SOGOMS_HTTP_WORKERS"))}
    told = entrypoint("http", env={**base, **database, "SOGOMS_HTTP_WORKERS": "3"}).stdout.split()
    done = entrypoint("http", env={**base, **database})
    served = done.stdout.split()

    assert done.returncode == 0, done.stderr
    assert served[served.index("--workers") + 1] == workers
    assert workers == str(
        default_workers(database.get("DATABASE_URL") or database.get("DATABASE_URL_FILE", ""))
    )
    assert told[told.index("--workers") + 1] == "3"
