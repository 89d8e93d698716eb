"""Forgotten passwords: a single-use, expiring token sent by e-mail, then a new password.

`password_forgot` answers the same whether or not the address has an account, so it tells
nobody who is registered; it sends at most the tenant's per-e-mail login rate of reset
mails, silently beyond it. `password_reset` spends the token once, sets the password and
ends every session of the user (their access and refresh tokens are refused at once), so a
stolen session ends with the reset.
"""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from sogoms_site.errors import InvalidInput, NotFoundError
from tenants import hooks
from tenants.auth import ratelimit, sessions
from tenants.auth.passwords import hash_password
from tenants.auth.selectors import normalize_email, user_by_email, user_by_id
from tenants.config import Tenant
from tenants.logs import log_event
from tenants.models import PasswordResetToken

TEMPLATE = "password_reset"
# Never stored in clear: the outbox keeps `[redacted]` and seals the real text until delivery.
SECRET_VARIABLES = ("token", "reset_url")
INVALID_TOKEN = "The reset token is invalid, used or expired."  # noqa: S105  (a message)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _mailer(tenant: Tenant) -> hooks.AccountMailer:
    """The account mailer sending the reset template (see `tenants.hooks`)."""
    mailer = hooks.account_mailer(tenant, TEMPLATE)
    if mailer is None:
        raise NotFoundError(
            f"Password reset is not set up for {tenant.app} (no {TEMPLATE!r} e-mail template)."
        )
    return mailer


def password_forgot(*, tenant: Tenant, email: str, client_ip: str) -> None:
    mailer = _mailer(tenant)
    ip_subject = f"{tenant.app}|{client_ip}"
    ratelimit.refuse_over(
        tenant.login_rate_per_ip, ratelimit.hit("forgot-ip", ip_subject, tenant.login_rate_per_ip)
    )
    email = normalize_email(email)
    sent = ratelimit.hit("forgot-email", f"{tenant.app}|{email}", tenant.login_rate_per_email)
    user = user_by_email(tenant=tenant, email=email)
    if user is None or not user.is_active or sent > tenant.login_rate_per_email.limit:
        log_event(tenant.app, "password_forgot_ignored", details={"email": email, "ip": client_ip})
        return
    token = secrets.token_urlsafe(32)
    expiry = tenant.password_reset_expiry
    with transaction.atomic(using="default"):
        PasswordResetToken.objects.create(
            app=tenant.app, user_id=user.id, token_hash=_digest(token), expires_at=timezone.now() + expiry
        )
        mailer.send(
            tenant=tenant,
            template=TEMPLATE,
            user=user,
            variables={
                "token": token,
                "reset_url": tenant.password_reset_url.replace("{token}", token),
                "expires_minutes": int(expiry.total_seconds() // 60),
            },
            secret=SECRET_VARIABLES,
        )
    log_event(tenant.app, "password_forgot", user_id=user.id, details={"ip": client_ip})


def password_reset(*, tenant: Tenant, token: str, password: str) -> None:
    now = timezone.now()
    with transaction.atomic(using="default"):
        row = (
            PasswordResetToken.objects.select_for_update()
            .filter(app=tenant.app, token_hash=_digest(token), used_at__isnull=True, expires_at__gt=now)
            .first()
        )
        user = user_by_id(tenant=tenant, user_id=row.user_id) if row else None
        if row is None or user is None or not user.is_active:
            raise InvalidInput(INVALID_TOKEN, details={"token": ["invalid, used or expired"]})
        # Every outstanding token of the user is spent: the newest reset is the only one.
        PasswordResetToken.objects.filter(app=tenant.app, user_id=user.id, used_at__isnull=True).update(
            used_at=now
        )
        user.password = hash_password(password, tenant)
        user.save(update_fields=["password", "updated_at"])
        ended = sessions.sessions_end_all(app=tenant.app, user_id=user.id, reason="password_reset")
    log_event(tenant.app, "password_reset", user_id=user.id, details={"ended_sessions": ended})
