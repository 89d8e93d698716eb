"""Token bookkeeping: issued refresh tokens (rotated once, revoked with their session) and
the record of logged-out access tokens.

Whether an access token is still good is decided by its session and user
(tenants.auth.current), not by these rows.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants.models import AuthSession, IssuedRefreshToken, RevokedAccessToken


def epoch_to_datetime(value: int) -> datetime:
    return datetime.fromtimestamp(int(value), tz=UTC)


def revoke_access_token(*, app: str, jti: str, expires_at: datetime) -> None:
    try:
        with transaction.atomic(using="default"):
            RevokedAccessToken.objects.create(app=app, jti=jti, expires_at=expires_at)
    except IntegrityError:
        pass  # already revoked


def record_refresh_token(
    *, app: str, jti: str, user_id: int, session_id: str, issued_at: datetime, expires_at: datetime
) -> None:
    IssuedRefreshToken.objects.create(
        app=app,
        jti=jti,
        user_id=user_id,
        session_id=session_id,
        issued_at=issued_at,
        expires_at=expires_at,
    )


def consume_refresh_token(*, app: str, jti: str, replaced_by: str) -> str:
    """Mark a refresh token used. Returns 'ok', 'unknown', or 'reused' (already used)."""
    updated = IssuedRefreshToken.objects.filter(app=app, jti=jti, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), replaced_by=replaced_by
    )
    if updated:
        return "ok"
    return "reused" if IssuedRefreshToken.objects.filter(app=app, jti=jti).exists() else "unknown"


def purge_expired(now: datetime | None = None) -> tuple[int, int]:
    """Drop rows of tokens that expired anyway, and the sessions whose newest refresh token
    expired (nothing can use them again); returns (access rows, refresh rows) deleted."""
    now = now or timezone.now()
    access, _ = RevokedAccessToken.objects.filter(expires_at__lt=now).delete()
    refresh, _ = IssuedRefreshToken.objects.filter(expires_at__lt=now).delete()
    AuthSession.objects.filter(expires_at__lt=now).delete()
    return access, refresh
