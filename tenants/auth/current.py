"""The current state behind a token: is its session still on, is its user active, which role.

A JWT only proves who signed it. On every authenticated request and socket frame, the
session the token names (`sid`) and the user it belongs to are read here, and the principal
carries the user's role of now, never the token's claim. A Go-era token names no session:
its issue time is held against the user's "tokens valid after" moment instead, the same
rule that ends sessions begun before it.

Reads are cached per process for `SOGOMS_AUTH_STATE_SECONDS` (1 s): a client sending many
requests costs about one read of each per second. Every change made through the services
(role, deactivation, password, logout, log out everywhere) is announced after its commit:
this process forgets the entries at once, other processes hear it through Redis pub/sub
(tenants.auth.bus, with REDIS_URL), and listeners (the push sockets' watch) are told.

A session's `last_used_at` is written at most once per `SOGOMS_SESSION_TOUCH_SECONDS`
(60 s) per session, and by every refresh: reading a token never costs a write otherwise.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from sogoms_site.errors import InvalidToken
from tenants.auth import bus
from tenants.auth.principal import TenantPrincipal
from tenants.config import Tenant
from tenants.models import AuthSession, UserTokensCutoff
from tenants.usermodel import user_model

logger = logging.getLogger("sogoms.auth")
MAX_ENTRIES = 50_000
SESSION_ENDED = "The session has ended."
ACCOUNT_GONE = "The account no longer exists or is disabled."
SIGNED_OUT = "The account was signed out everywhere after this token was issued."


@dataclass(frozen=True, slots=True)
class SessionState:
    user_id: int
    live: bool
    last_used_at: datetime


@dataclass(frozen=True, slots=True)
class UserState:
    active: bool
    role: str
    email: str
    name: str


@dataclass(frozen=True, slots=True)
class Change:
    """What to forget: a user (and every session of theirs) or one session."""

    app: str
    user_id: int | None = None
    session_id: str | None = None

    def as_message(self) -> dict[str, Any]:
        return {"app": self.app, "user_id": self.user_id, "session_id": self.session_id}


Listener = Callable[[Change], None]
_lock = threading.Lock()
_entries: dict[tuple, tuple[float, Any]] = {}  # key -> (monotonic deadline, state or None)
_touched: dict[tuple[str, str], float] = {}  # (app, session id) -> monotonic time of our last write
_listeners: list[Listener] = []
_generation = [0]  # bumped by every forget: a read begun before it must not be cached


class _NotCached(Exception):
    pass


# --- reading ---------------------------------------------------------------------------


def principal_for(
    *,
    tenant: Tenant,
    user_id: int,
    session_id: str,
    jti: str,
    expires_at: datetime | None,
    legacy_issued_at: datetime | None = None,
) -> TenantPrincipal:
    """The caller of a checked token as it is now; InvalidToken if its session or user is over.

    `legacy_issued_at` only for a Go-era token (no session): its `iat`."""
    claims = TenantPrincipal(
        id=user_id,
        email="",
        name="",
        role="",
        app=tenant.app,
        jti=jti,
        session_id=session_id,
        expires_at=expires_at,
        legacy_issued_at=legacy_issued_at,
    )
    return _resolve(tenant, claims, read=True)


def refreshed(principal: TenantPrincipal, tenant: Tenant) -> TenantPrincipal:
    """`principal` (of a socket) as it is now; reads the database when the cache is stale."""
    return _resolve(tenant, principal, read=True)


def refreshed_from_cache(principal: TenantPrincipal, tenant: Tenant) -> TenantPrincipal | None:
    """The same, without touching the database: None when that would be needed."""
    try:
        return _resolve(tenant, principal, read=False)
    except _NotCached:
        return None


def _resolve(tenant: Tenant, claims: TenantPrincipal, *, read: bool) -> TenantPrincipal:
    """`claims` (what the token says: user, session, jti, expiry) with the user as they are now."""
    user_id, session_id = claims.id, claims.session_id
    if not session_id and claims.legacy_issued_at is None:
        raise InvalidToken("The token names no session.")
    bus.listen(_received, forget_all)
    if claims.legacy_issued_at is not None:
        valid_after = _cached(("c", tenant.app, user_id), lambda: _load_cutoff(tenant.app, user_id), read)
        if not _after_cutoff(claims.legacy_issued_at, valid_after):
            raise InvalidToken(SIGNED_OUT)
        session = None
    else:
        session = _cached(("s", tenant.app, session_id), lambda: _load_session(tenant.app, session_id), read)
        if not isinstance(session, SessionState) or not session.live or session.user_id != user_id:
            raise InvalidToken(SESSION_ENDED)
    user = _cached(("u", tenant.app, user_id), lambda: _load_user(tenant, user_id), read)
    if not isinstance(user, UserState) or not user.active:
        raise InvalidToken(ACCOUNT_GONE)
    if session is not None:
        _touch(tenant.app, session_id, session, read)
    return replace(claims, email=user.email, name=user.name, role=user.role, app=tenant.app)


def _cached(key: tuple, load: Callable[[], Any], read: bool) -> Any:
    entry = _entries.get(key)
    now = time.monotonic()
    if entry is not None and entry[0] > now:
        return entry[1]
    if not read:
        raise _NotCached
    generation = _generation[0]
    value = load()
    ttl = float(settings.SOGOMS_AUTH_STATE_SECONDS)
    if ttl > 0:
        with _lock:
            if generation == _generation[0]:  # nothing was forgotten while we read
                if len(_entries) >= MAX_ENTRIES:
                    _entries.clear()
                _entries[key] = (now + ttl, value)
    return value


def _load_session(app: str, session_id: str) -> SessionState | None:
    cutoff = UserTokensCutoff.objects.filter(app=OuterRef("app"), user_id=OuterRef("user_id")).values(
        "tokens_valid_after"
    )[:1]
    row = (
        AuthSession.objects.filter(pk=session_id, app=app)
        .annotate(cutoff=Subquery(cutoff))
        .values_list("user_id", "created_at", "ended_at", "last_used_at", "cutoff")
        .first()
    )
    if row is None:
        return None
    user_id, created_at, ended_at, last_used_at, valid_after = row
    live = ended_at is None and _after_cutoff(created_at, valid_after)
    return SessionState(user_id=user_id, live=live, last_used_at=last_used_at)


def _load_cutoff(app: str, user_id: int) -> datetime | None:
    """The user's "tokens valid after" moment, None if it never moved."""
    return (
        UserTokensCutoff.objects.filter(app=app, user_id=user_id)
        .values_list("tokens_valid_after", flat=True)
        .first()
    )


def _after_cutoff(moment: datetime, valid_after: datetime | None) -> bool:
    """A session begun, or a Go-era token issued, at `moment` survives the user's cutoff."""
    return valid_after is None or moment >= valid_after


def _load_user(tenant: Tenant, user_id: int) -> UserState | None:
    row = (
        user_model(tenant)
        .objects.filter(pk=user_id)
        .values_list("is_active", "role", "email", "name")
        .first()
    )
    if row is None:
        return None
    active, role, email, name = row
    return UserState(active=bool(active), role=role, email=email, name=name)


def _touch(app: str, session_id: str, session: SessionState, read: bool) -> None:
    """Write last_used_at when it is a minute old, and only once a minute from this process."""
    every = settings.SOGOMS_SESSION_TOUCH_SECONDS
    now = timezone.now()
    if now - session.last_used_at < timedelta(seconds=every):
        return
    key = (app, session_id)
    if time.monotonic() - _touched.get(key, float("-inf")) < every:
        return
    if not read:
        raise _NotCached  # the caller goes to a thread that may write
    _touched[key] = time.monotonic()
    if len(_touched) >= MAX_ENTRIES:
        _touched.clear()
    AuthSession.objects.filter(
        pk=session_id, app=app, last_used_at__lt=now - timedelta(seconds=every)
    ).update(last_used_at=now)
    with _lock:
        entry = _entries.get(("s", app, session_id))
        if entry is not None and isinstance(entry[1], SessionState):
            _entries[("s", app, session_id)] = (entry[0], replace(entry[1], last_used_at=now))


# --- changing ----------------------------------------------------------------------------


def user_changed(*, app: str, user_id: int, using: str = "default") -> None:
    """Announce, once `using`'s transaction commits, that a user's role, state or sessions changed."""
    _after_commit(Change(app=app, user_id=user_id), using)


def session_changed(*, app: str, session_id: str, using: str = "default") -> None:
    _after_commit(Change(app=app, session_id=session_id), using)


def add_listener(listener: Listener) -> None:
    """Called with every change this process hears of, from whatever thread hears it."""
    if listener not in _listeners:
        _listeners.append(listener)
    bus.listen(_received, forget_all)


def forget_all() -> None:
    with _lock:
        _generation[0] += 1
        _entries.clear()
    _tell(Change(app=""))


def _after_commit(change: Change, using: str) -> None:
    """Forget at once (this process reads nothing older from now on) and again once the
    change is committed, which is also when other processes and listeners hear of it."""

    def announce() -> None:
        _forget(change)
        bus.publish(change.as_message())
        _tell(change)

    _forget(change)
    transaction.on_commit(announce, using=using)


def _received(message: dict[str, Any]) -> None:
    app, user_id, session_id = message.get("app"), message.get("user_id"), message.get("session_id")
    if not isinstance(app, str):
        return
    change = Change(
        app=app,
        user_id=user_id if isinstance(user_id, int) else None,
        session_id=session_id if isinstance(session_id, str) else None,
    )
    _forget(change)
    _tell(change)


def _forget(change: Change) -> None:
    with _lock:
        _generation[0] += 1
        if change.session_id is not None:
            _entries.pop(("s", change.app, change.session_id), None)
        if change.user_id is not None:
            _entries.pop(("u", change.app, change.user_id), None)
            _entries.pop(("c", change.app, change.user_id), None)
            for key, (_deadline, state) in list(_entries.items()):
                if (
                    key[0] == "s"
                    and key[1] == change.app
                    and getattr(state, "user_id", None) == change.user_id
                ):
                    del _entries[key]


def _tell(change: Change) -> None:
    for listener in list(_listeners):
        try:
            listener(change)
        except Exception:  # one broken listener must not stop the others, nor the caller
            logger.exception("an auth change listener failed")
