"""Which tokens are no longer good: revoked access tokens and rotated refresh tokens.

Both live in the control database so every process sees a logout at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from tenants.models import IssuedRefreshToken, RevokedAccessToken


def epoch_to_datetime(value: int) -> datetime:
    return datetime.fromtimestamp(int(value), tz=UTC)


def access_token_revoked(jti: str) -> bool:
    """Asked on every authenticated request: one indexed lookup, SQL compiled once."""
    with connections["default"].cursor() as cursor:
        cursor.execute(_revoked_sql(), [jti])
        return cursor.fetchone() is not None


@cache
def _revoked_sql() -> str:
    sql, _ = RevokedAccessToken.objects.filter(jti="x").values_list("pk")[:1].query.sql_with_params()
    return sql


def revoke_access_token(*, app: str, jti: str, expires_at: datetime) -> None:
    try:
        with transaction.atomic(using="default"):
            RevokedAccessToken.objects.create(app=app, jti=jti, expires_at=expires_at)
    except IntegrityError:
        pass  # already revoked


def record_refresh_token(
    *, app: str, jti: str, user_id: int, issued_at: datetime, expires_at: datetime
) -> None:
    IssuedRefreshToken.objects.create(
        app=app, jti=jti, user_id=user_id, issued_at=issued_at, expires_at=expires_at
    )


def consume_refresh_token(*, app: str, jti: str, replaced_by: str) -> str:
    """Mark a refresh token used. Returns 'ok', 'unknown', or 'reused' (already used)."""
    updated = IssuedRefreshToken.objects.filter(app=app, jti=jti, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), replaced_by=replaced_by
    )
    if updated:
        return "ok"
    return "reused" if IssuedRefreshToken.objects.filter(app=app, jti=jti).exists() else "unknown"


def revoke_refresh_token(*, app: str, jti: str) -> None:
    IssuedRefreshToken.objects.filter(app=app, jti=jti, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def revoke_user_refresh_tokens(*, app: str, user_id: int) -> int:
    return IssuedRefreshToken.objects.filter(app=app, user_id=user_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def purge_expired(now: datetime | None = None) -> tuple[int, int]:
    """Drop rows of tokens that expired anyway; returns (access rows, refresh rows) deleted."""
    now = now or timezone.now()
    access, _ = RevokedAccessToken.objects.filter(expires_at__lt=now).delete()
    refresh, _ = IssuedRefreshToken.objects.filter(expires_at__lt=now).delete()
    return access, refresh


def revoked_among(jtis: list[str], chunk: int = 500) -> set[str]:
    """Which of these access tokens are revoked: one query per chunk, for the push sockets."""
    found: set[str] = set()
    for start in range(0, len(jtis), chunk):
        part = jtis[start : start + chunk]
        found.update(RevokedAccessToken.objects.filter(jti__in=part).values_list("jti", flat=True))
    return found
