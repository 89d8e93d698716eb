"""Pending sign-ins (state, PKCE verifier, nonce) and one-time codes, in the control database.

Rows, not a per-process cache: the callback may reach another process than the start. The
secrets that travel through the browser (state, code) are kept as SHA-256 only, and each
row is claimed once by a conditional UPDATE, so two requests cannot both use it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from sogoms_site.errors import InvalidOAuthCode, InvalidOAuthState
from tenants.models import OAuthCode, OAuthState

STATE_LIFETIME = timedelta(minutes=10)
CODE_LIFETIME = timedelta(seconds=60)
MAX_TOKEN_LENGTH = 200  # what arrives longer than any we issue is refused before hashing


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def state_create(
    *,
    app: str,
    provider: str,
    state: str,
    code_verifier: str,
    nonce: str,
    redirect_uri: str,
    callback_url: str,
    link_user_id: int | None,
) -> OAuthState:
    now = timezone.now()
    return OAuthState.objects.create(
        app=app,
        provider=provider,
        state_hash=digest(state),
        code_verifier=code_verifier,
        nonce=nonce,
        redirect_uri=redirect_uri,
        callback_url=callback_url,
        link_user_id=link_user_id,
        created_at=now,
        expires_at=now + STATE_LIFETIME,
    )


def state_claim(*, app: str, provider: str, state: str) -> OAuthState:
    """The pending sign-in of `state`, now used; InvalidOAuthState when there is none to use."""
    if not state or len(state) > MAX_TOKEN_LENGTH:
        raise InvalidOAuthState(details={"state": ["missing or malformed"]})
    now = timezone.now()
    row = OAuthState.objects.filter(app=app, state_hash=digest(state)).first()
    if row is None or row.provider != provider:
        raise InvalidOAuthState(details={"state": ["unknown"]})
    if row.expires_at <= now:
        raise InvalidOAuthState(details={"state": ["expired"]})
    if not OAuthState.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now):
        raise InvalidOAuthState(details={"state": ["already used"]})
    return row


def code_create(*, app: str, provider: str, user_id: int) -> str:
    """A new one-time code for the user; returned once, kept hashed."""
    code = new_token()
    now = timezone.now()
    OAuthCode.objects.create(
        app=app,
        provider=provider,
        user_id=user_id,
        code_hash=digest(code),
        created_at=now,
        expires_at=now + CODE_LIFETIME,
    )
    return code


def code_claim(*, app: str, code: str) -> OAuthCode:
    """The code's row, now used; InvalidOAuthCode when it is unknown, expired or used."""
    if not code or len(code) > MAX_TOKEN_LENGTH:
        raise InvalidOAuthCode(details={"code": ["unknown"]})
    now = timezone.now()
    row = OAuthCode.objects.filter(app=app, code_hash=digest(code)).first()
    if row is None:
        raise InvalidOAuthCode(details={"code": ["unknown"]})
    if row.expires_at <= now:
        raise InvalidOAuthCode(details={"code": ["expired"]})
    if not OAuthCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now):
        raise InvalidOAuthCode(details={"code": ["already used"]})
    return row
