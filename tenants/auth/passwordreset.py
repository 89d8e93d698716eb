"""Forgotten passwords: a single-use, expiring token sent by e-mail, then a new password.

`password_forgot` answers the same whether or not the address has an account, so it tells
nobody who is registered; it sends at most the tenant's per-e-mail login rate of reset
mails, silently beyond it. `password_reset` spends the token once, sets the password and
ends every session of the user (their access and refresh tokens are refused at once), so a
stolen session ends with the reset.
"""

from __future__ import annotations

from django.db import transaction

from sogoms_site.errors import NotFoundError
from tenants import hooks
from tenants.auth import sessions
from tenants.auth.onetime import code_issue, code_mail_allowed, code_redeem, code_variables
from tenants.auth.passwords import hash_password
from tenants.auth.selectors import normalize_email, user_by_email
from tenants.config import Tenant
from tenants.logs import log_event
from tenants.models import PasswordResetToken

TEMPLATE = "password_reset"
# Never stored in clear: the outbox keeps `[redacted]` and seals the real text until delivery.
SECRET_VARIABLES = ("token", "reset_url")
INVALID_TOKEN = "The reset token is invalid, used or expired."  # noqa: S105  (a message)


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
    email = normalize_email(email)
    allowed = code_mail_allowed(tenant=tenant, scope="forgot", email=email, client_ip=client_ip)
    user = user_by_email(tenant=tenant, email=email)
    if user is None or not user.is_active or not allowed:
        log_event(tenant.app, "password_forgot_ignored", details={"email": email, "ip": client_ip})
        return
    expiry = tenant.password_reset_expiry
    with transaction.atomic(using="default"):
        token = code_issue(model=PasswordResetToken, tenant=tenant, user_id=user.id, expiry=expiry)
        mailer.send(
            tenant=tenant,
            template=TEMPLATE,
            user=user,
            variables=code_variables(
                code=token, url=tenant.password_reset_url, link_name="reset_url", expiry=expiry
            ),
            secret=SECRET_VARIABLES,
        )
    log_event(tenant.app, "password_forgot", user_id=user.id, details={"ip": client_ip})


def password_reset(*, tenant: Tenant, token: str, password: str) -> None:
    with transaction.atomic(using="default"):
        # Every outstanding token of the user is spent: the newest reset is the only one.
        user = code_redeem(model=PasswordResetToken, tenant=tenant, code=token, message=INVALID_TOKEN)
        user.password = hash_password(password, tenant)
        user.save(update_fields=["password", "updated_at"])
        ended = sessions.sessions_end_all(app=tenant.app, user_id=user.id, reason="password_reset")
    log_event(tenant.app, "password_reset", user_id=user.id, details={"ended_sessions": ended})
