"""Sessions of tenant users, in the control database: opening, listing and ending them.

A session is what a login (or register) opens and every refresh keeps: its id is the `sid`
claim of each access and refresh token issued for it. Ending one refuses its tokens at once
(tenants.auth.current reads it on every request) and closes its sockets (realtime.watch).

What ends sessions: logout (this one), logout with `all` and DELETE of a session by its
owner, a password change or reset, deactivation or deletion of the user, and a reused
refresh token (every session of the user, as every refresh token of theirs is revoked).
The last four also move the user's "tokens valid after" moment forward.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from tenants.auth import current
from tenants.models import AuthSession, IssuedRefreshToken, UserTokensCutoff

USER_AGENT_CHARS = 255
IP_CHARS = 64


def new_session_id() -> str:
    return secrets.token_hex(16)


def session_create(
    *, app: str, user_id: int, expires_at: datetime, ip: str = "", user_agent: str = ""
) -> AuthSession:
    now = timezone.now()
    return AuthSession.objects.create(
        id=new_session_id(),
        app=app,
        user_id=user_id,
        created_at=now,
        last_used_at=now,
        expires_at=expires_at,
        ip=ip[:IP_CHARS],
        user_agent=user_agent[:USER_AGENT_CHARS],
    )


def session_for_refresh(*, app: str, user_id: int, session_id: str) -> AuthSession | None:
    """The session a refresh token names, locked, if it is still on; None otherwise."""
    session = (
        AuthSession.objects.select_for_update()
        .filter(pk=session_id, app=app, user_id=user_id, ended_at__isnull=True)
        .first()
    )
    if session is None:
        return None
    cutoff = UserTokensCutoff.objects.filter(app=app, user_id=user_id).values_list(
        "tokens_valid_after", flat=True
    )
    valid_after = cutoff.first()
    if valid_after is not None and session.created_at < valid_after:
        return None
    return session


def session_renewed(*, session: AuthSession, expires_at: datetime) -> None:
    session.last_used_at = timezone.now()
    session.expires_at = expires_at
    session.save(update_fields=["last_used_at", "expires_at"])


def sessions_live(*, app: str, user_id: int) -> list[AuthSession]:
    """The user's sessions that are on: not ended, begun after the cutoff, not expired."""
    sessions = AuthSession.objects.filter(
        app=app, user_id=user_id, ended_at__isnull=True, expires_at__gt=timezone.now()
    )
    valid_after = (
        UserTokensCutoff.objects.filter(app=app, user_id=user_id)
        .values_list("tokens_valid_after", flat=True)
        .first()
    )
    if valid_after is not None:
        sessions = sessions.filter(created_at__gte=valid_after)
    return list(sessions.order_by("-last_used_at", "-created_at"))


def session_end(*, app: str, user_id: int, session_id: str, reason: str) -> bool:
    """End one session of this user; False when the user has no such session on."""
    now = timezone.now()
    with transaction.atomic(using="default"):
        ended = AuthSession.objects.filter(
            pk=session_id, app=app, user_id=user_id, ended_at__isnull=True
        ).update(ended_at=now, end_reason=reason)
        IssuedRefreshToken.objects.filter(app=app, session_id=session_id, revoked_at__isnull=True).update(
            revoked_at=now
        )
        current.session_changed(app=app, session_id=session_id)
    return bool(ended)


def sessions_end_all(*, app: str, user_id: int, reason: str) -> int:
    """End every session of the user and move their cutoff to now; how many were on."""
    now = timezone.now()
    with transaction.atomic(using="default"):
        UserTokensCutoff.objects.update_or_create(
            app=app, user_id=user_id, defaults={"tokens_valid_after": now}
        )
        ended = AuthSession.objects.filter(app=app, user_id=user_id, ended_at__isnull=True).update(
            ended_at=now, end_reason=reason
        )
        IssuedRefreshToken.objects.filter(app=app, user_id=user_id, revoked_at__isnull=True).update(
            revoked_at=now
        )
        current.user_changed(app=app, user_id=user_id)
    return ended


def sessions_ended_since(moment: datetime) -> list[tuple[str, str]]:
    """(app, session id) of sessions ended at or after `moment`: the sockets' watch asks this."""
    return list(AuthSession.objects.filter(ended_at__gte=moment).values_list("app", "id"))
