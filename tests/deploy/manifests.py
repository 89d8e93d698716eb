"""Readers of the container files the deploy tests check: the Dockerfile, deploy/compose.yaml,
the Kubernetes manifests and the image's entrypoint (run as a dry run or for real)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

BASE_DIR = Path(__file__).resolve().parents[2]
DOCKERFILE = BASE_DIR / "Dockerfile"
COMPOSE = BASE_DIR / "deploy" / "compose.yaml"
KUBERNETES = BASE_DIR / "deploy" / "kubernetes"
ENTRYPOINT = BASE_DIR / "deploy" / "container" / "entrypoint.sh"
CONFIGMAP_SCRIPT = BASE_DIR / "deploy" / "container" / "configmap.py"
IMAGE = "sogoms"
PROCESSES = {"http", "socket", "worker", "beat", "migrate"}


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def kubernetes_documents() -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) of every manifest, in apply order."""
    found = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append((path.name, document))
    return found


def kubernetes(kind: str, name: str) -> dict[str, Any]:
    matches = [
        doc for _, doc in kubernetes_documents() if doc["kind"] == kind and doc["metadata"]["name"] == name
    ]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} documents"
    return matches[0]


def is_sogoms_image(image: str) -> bool:
    return image.split("/")[-1].split(":")[0] == IMAGE


def compose_processes() -> dict[str, list[str]]:
    """{service: the arguments its container's entrypoint gets} for the SOGOMS services."""
    return {
        name: list(service.get("command", []))
        for name, service in compose()["services"].items()
        if is_sogoms_image(service.get("image", ""))
    }


def pod_spec(document: dict[str, Any]) -> dict[str, Any] | None:
    if document["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
        return document["spec"]["template"]["spec"]
    return None


def kubernetes_containers() -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, container) of every SOGOMS container of the manifests."""
    found = []
    for _, document in kubernetes_documents():
        spec = pod_spec(document)
        for container in (spec or {}).get("containers", []) + (spec or {}).get("initContainers", []):
            if is_sogoms_image(container["image"]):
                found.append((f"{document['kind']}/{document['metadata']['name']}", container))
    return found


def dockerfile_env() -> dict[str, str]:
    """The ENV of the Dockerfile's last stage (`KEY=value` pairs, `$PATH`-style references kept)."""
    stages = DOCKERFILE.read_text().replace("\\\n", " ").split("\nFROM ")
    env: dict[str, str] = {}
    for line in stages[-1].splitlines():
        if line.startswith("ENV "):
            for pair in shlex.split(line[4:]):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def entrypoint(
    *args: str, env: dict[str, str] | None = None, dry_run: bool = True
) -> subprocess.CompletedProcess:
    """The image's entrypoint with `args`; a dry run prints the commands it would run."""
    run_env = dict(env if env is not None else os.environ)
    run_env["SOGOMS_ENTRYPOINT_DRY_RUN"] = "1" if dry_run else "0"
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        env=run_env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def venv_path() -> str:
    """PATH with this interpreter's virtualenv first, as the image's PATH has /opt/venv/bin."""
    return f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
