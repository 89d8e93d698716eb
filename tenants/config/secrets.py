"""Secrets referenced from YAML: a `*_file` path or an `env:NAME` value, never the secret."""

from __future__ import annotations

import os
import secrets as random_secrets
from pathlib import Path

MIN_JWT_SECRET_BYTES = 32


class SecretError(ValueError):
    """A secret that cannot be read; the message is meant for the operator."""


def resolve_path(path: str, base_dir: Path) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else base_dir / candidate


def read_secret_file(path: str, base_dir: Path, *, allow_empty: bool = False) -> str:
    resolved = resolve_path(path, base_dir)
    try:
        value = resolved.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise SecretError(
            f"secret file {str(resolved)!r} is not text (make one with: openssl rand -base64 48)"
        ) from None
    except FileNotFoundError:
        raise SecretError(f"secret file {str(resolved)!r} does not exist") from None
    except OSError as exc:
        raise SecretError(f"secret file {str(resolved)!r} cannot be read: {exc.strerror}") from None
    if not value and not allow_empty:
        raise SecretError(f"secret file {str(resolved)!r} is empty")
    return value


def read_environment_reference(reference: str) -> str:
    name = reference.removeprefix("env:").strip()
    value = os.environ.get(name)
    if not value:
        raise SecretError(f"environment variable {name} is not set")
    return value


def require_jwt_strength(secret: str) -> str:
    if len(secret.encode()) < MIN_JWT_SECRET_BYTES:
        raise SecretError(
            f"the JWT secret is {len(secret.encode())} bytes; at least {MIN_JWT_SECRET_BYTES} are needed"
        )
    return secret


def create_secret_file(path: Path) -> None:
    """Write a new random secret, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(random_secrets.token_urlsafe(48) + "\n")
