"""Single-use, expiring codes e-mailed to tenant users: password reset, e-mail verification.

A code is random (`secrets.token_urlsafe`), only its SHA-256 is stored (`tenants.models.
OneTimeCode`), and redeeming one spends every outstanding code of the same kind of that
user: the newest e-mail is the only one that works. The flows share the rate of their
e-mails too: per client IP a `429`, per address a silent cap, so that the answer never says
whether the address has an account.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from sogoms_site.errors import InvalidInput
from tenants.auth import ratelimit
from tenants.auth.selectors import user_by_id
from tenants.config import Tenant
from tenants.models import OneTimeCode
from tenants.usermodel import TenantUserBase

INVALID_DETAILS = {"token": ["invalid, used or expired"]}


def code_digest(code: str) -> str:
    """What is stored of a code: its SHA-256, in hex."""
    return hashlib.sha256(code.encode()).hexdigest()


def code_issue(*, model: type[OneTimeCode], tenant: Tenant, user_id: int, expiry: timedelta) -> str:
    """A new code of `user_id`, recorded (as its digest) in the caller's transaction on the
    control database; the clear code is returned once, for the e-mail."""
    code = secrets.token_urlsafe(32)
    model.objects.create(
        app=tenant.app, user_id=user_id, token_hash=code_digest(code), expires_at=timezone.now() + expiry
    )
    return code


def code_variables(*, code: str, url: str, link_name: str, expiry: timedelta) -> dict[str, object]:
    """The e-mail's variables: the code, the link (`url` with `{token}` replaced, or empty)
    under `link_name`, and the lifetime in minutes."""
    return {
        "token": code,
        link_name: url.replace("{token}", code) if url else "",
        "expires_minutes": int(expiry.total_seconds() // 60),
    }


def code_redeem(*, model: type[OneTimeCode], tenant: Tenant, code: str, message: str) -> TenantUserBase:
    """The active user whose live code this is, with every outstanding code of theirs spent.

    Call it inside a transaction on the control database: the row is locked until the
    caller's change is written, so a code cannot be redeemed twice concurrently. A used,
    expired or unknown code, or one of a disabled user: InvalidInput on `token`."""
    now = timezone.now()
    row = (
        model.objects.select_for_update()
        .filter(app=tenant.app, token_hash=code_digest(code), used_at__isnull=True, expires_at__gt=now)
        .first()
    )
    user = user_by_id(tenant=tenant, user_id=row.user_id) if row else None
    if row is None or user is None or not user.is_active:
        raise InvalidInput(message, details=INVALID_DETAILS)
    codes_spend(model=model, tenant=tenant, user_id=user.id)
    return user


def codes_spend(*, model: type[OneTimeCode], tenant: Tenant, user_id: int) -> int:
    """Spend every outstanding code of the user (of this kind); how many were."""
    return model.objects.filter(app=tenant.app, user_id=user_id, used_at__isnull=True).update(
        used_at=timezone.now()
    )


def code_mail_allowed(*, tenant: Tenant, scope: str, email: str, client_ip: str) -> bool:
    """Count one request for a code e-mail: over the tenant's login rate per client IP,
    TooManyAttempts (429); over its rate per address, False (send nothing, answer the same).

    The address is counted whether or not it has an account, so neither answer tells."""
    ip_rate, email_rate = tenant.login_rate_per_ip, tenant.login_rate_per_email
    ratelimit.refuse_over(ip_rate, ratelimit.hit(f"{scope}-ip", f"{tenant.app}|{client_ip}", ip_rate))
    sent = ratelimit.hit(f"{scope}-email", f"{tenant.app}|{email}", email_rate)
    return sent <= email_rate.limit
