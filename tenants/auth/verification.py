"""E-mail verification: a single-use, expiring code proves that a user reads their address.

The tenant's `auth.verify_email` says how much it matters: `off` (no code is ever sent),
`optional` (codes are sent; login works without one) or `required` (login, and the tokens of
register, wait until the address is verified). A code goes out with the tenant's
`verify_email` template on register, on a new address (`PATCH auth/me`) and on request
(`auth/verify/resend`, which answers the same for every address); without that template
nothing is sent.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from sogoms_site.errors import NotFoundError
from tenants import hooks
from tenants.auth.onetime import code_issue, code_mail_allowed, code_redeem, code_variables, codes_spend
from tenants.auth.selectors import normalize_email, user_by_email
from tenants.config import Tenant
from tenants.logs import log_event
from tenants.models import EmailVerificationCode
from tenants.usermodel import TenantUserBase, user_model

TEMPLATE = "verify_email"
# Never stored in clear: the outbox keeps `[redacted]` and seals the real text until delivery.
SECRET_VARIABLES = ("token", "verify_url")
INVALID_CODE = "The verification code is invalid, used or expired."


def verification_mailer(tenant: Tenant) -> hooks.AccountMailer | None:
    """The account mailer of the tenant's `verify_email` template; None when verification is
    off or the tenant has no such template (then no code is ever sent)."""
    if tenant.verify_email == "off":
        return None
    return hooks.account_mailer(tenant, TEMPLATE)


def verification_required(tenant: Tenant, user: TenantUserBase) -> bool:
    """True when the tenant requires verified addresses and this user's is not."""
    return tenant.verify_email == "required" and not user.email_verified


def verification_queue(*, tenant: Tenant, user: TenantUserBase, mailer: hooks.AccountMailer) -> None:
    """Issue a code and record its e-mail, inside the caller's transactions on the control
    database (the code) and on the tenant's (the mail, beside the new user or address)."""
    expiry = tenant.verify_email_expiry
    code = code_issue(model=EmailVerificationCode, tenant=tenant, user_id=user.id, expiry=expiry)
    mailer.queue_in_tenant(
        tenant=tenant,
        template=TEMPLATE,
        user=user,
        variables=code_variables(
            code=code, url=tenant.verify_email_url, link_name="verify_url", expiry=expiry
        ),
        secret=SECRET_VARIABLES,
    )


def verification_codes_spend(*, tenant: Tenant, user_id: int) -> int:
    """Spend the user's outstanding codes (their address changed: those proved the old one)."""
    return codes_spend(model=EmailVerificationCode, tenant=tenant, user_id=user_id)


def _not_set_up(tenant: Tenant) -> NotFoundError:
    return NotFoundError(
        f"E-mail verification is not set up for {tenant.app} "
        f"(auth.verify_email is off, or no {TEMPLATE!r} e-mail template)."
    )


def email_verify(*, tenant: Tenant, token: str) -> TenantUserBase:
    """Mark the address of the code's user verified; the code, and every other outstanding
    code of theirs, is spent. A used, expired or unknown code: InvalidInput on `token`."""
    if verification_mailer(tenant) is None:
        raise _not_set_up(tenant)
    with transaction.atomic(using="default"):
        user = code_redeem(model=EmailVerificationCode, tenant=tenant, code=token, message=INVALID_CODE)
        if user.email_verified_at is None:
            user.email_verified_at = timezone.now()
            user.save(update_fields=["email_verified_at", "updated_at"])
    log_event(tenant.app, "email_verified", user_id=user.id, details={"email": user.email})
    return user


def email_verification_resend(*, tenant: Tenant, email: str, client_ip: str) -> None:
    """Send a new code to `email` if it is the address of an active, unverified user.

    Answers the same (nothing) for any address, known, unknown or verified; per client IP
    the tenant's login rate holds (429), per address further requests send nothing."""
    mailer = verification_mailer(tenant)
    if mailer is None:
        raise _not_set_up(tenant)
    email = normalize_email(email)
    allowed = code_mail_allowed(tenant=tenant, scope="verify-resend", email=email, client_ip=client_ip)
    user = user_by_email(tenant=tenant, email=email)
    if user is None or not user.is_active or user.email_verified or not allowed:
        log_event(tenant.app, "verify_resend_ignored", details={"email": email, "ip": client_ip})
        return
    with transaction.atomic(using="default"), transaction.atomic(using=tenant.db_alias):
        verification_queue(tenant=tenant, user=user, mailer=mailer)
    log_event(tenant.app, "verify_resent", user_id=user.id, details={"ip": client_ip})


def user_mark_verified(*, tenant: Tenant, user: TenantUserBase, by: str = "operator") -> bool:
    """The operator's "this address is verified" (CLI, admin); False if it already was."""
    if user.email_verified:
        return False
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at", "updated_at"])
    log_event(tenant.app, "email_verified", user_id=user.id, details={"email": user.email, "by": by})
    return True


def users_mark_verified(*, tenant: Tenant, email: str | None = None, everyone: bool = False) -> int:
    """Mark the user of `email`, or with `everyone` every unverified user (before an existing
    app switches to `required`), verified; how many were not yet."""
    if everyone == (email is not None):
        raise ValueError("give either an e-mail or everyone=True")
    if everyone:
        users = list(user_model(tenant).objects.filter(email_verified_at__isnull=True).order_by("id"))
    else:
        user = user_by_email(tenant=tenant, email=email or "")
        if user is None:
            raise NotFoundError(f"No user {normalize_email(email or '')!r} in {tenant.app}.")
        users = [user]
    return sum(user_mark_verified(tenant=tenant, user=user) for user in users)
