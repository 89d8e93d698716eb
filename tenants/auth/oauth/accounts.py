"""From a provider's profile to a tenant user: the identity's user, a safely linked one, or a new one.

The linking rule (pre-account hijacking): a provider account may take over an existing
account with the same e-mail only when the provider vouches for the address AND the
account proved it (`email_verified_at`). Otherwise someone who registered a victim's
address first, or a provider that does not check addresses, would get the account.
"""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from sogoms_site.errors import AccountExists, IdentityInUse, NotPermitted, OAuthFailed
from tenants.auth.oauth.base import Profile
from tenants.auth.selectors import user_by_email, user_by_id
from tenants.auth.services import user_create
from tenants.config import Tenant
from tenants.logs import log_event
from tenants.models import Identity
from tenants.usermodel import TenantUserBase

DISABLED = "This account is disabled."


def user_for_profile(*, tenant: Tenant, provider: str, profile: Profile) -> TenantUserBase:
    """The user this provider account signs in as; created or linked when there is none yet."""
    identity = Identity.objects.filter(app=tenant.app, provider=provider, subject=profile.subject).first()
    if identity is not None:
        user = user_by_id(tenant=tenant, user_id=identity.user_id)
        if user is not None:
            if not user.is_active:
                raise NotPermitted(DISABLED)
            _used(identity, profile)
            return user
        identity.delete()  # its user was deleted: the provider account starts afresh
    if not profile.email:
        raise OAuthFailed("The provider shared no e-mail address; the account cannot be created.")
    local = user_by_email(tenant=tenant, email=profile.email)
    if local is not None:
        if not (profile.email_verified and local.email_verified):
            raise AccountExists(details={"email": ["already registered"]})
        if not local.is_active:
            raise NotPermitted(DISABLED)
        _link(tenant=tenant, provider=provider, profile=profile, user=local, how="email")
        return local
    return _create(tenant=tenant, provider=provider, profile=profile)


def identity_link(*, tenant: Tenant, provider: str, profile: Profile, user_id: int) -> TenantUserBase:
    """Link the provider account to the signed-in user who asked for it."""
    user = user_by_id(tenant=tenant, user_id=user_id)
    if user is None or not user.is_active:
        raise NotPermitted(DISABLED)
    identity = Identity.objects.filter(app=tenant.app, provider=provider, subject=profile.subject).first()
    if identity is not None:
        if identity.user_id != user.id:
            raise IdentityInUse()
        _used(identity, profile)
        return user
    _link(tenant=tenant, provider=provider, profile=profile, user=user, how="account")
    return user


def _create(*, tenant: Tenant, provider: str, profile: Profile) -> TenantUserBase:
    try:
        # as at register; an address the provider does not vouch for gets a verification code
        user = user_create(
            tenant=tenant,
            email=profile.email,
            password_hash=make_password(None),  # unusable: this account signs in through the provider
            name=profile.name,
            verified=profile.email_verified,
        )
    except IntegrityError:  # the same e-mail registered meanwhile
        raise AccountExists(details={"email": ["already registered"]}) from None
    log_event(
        tenant.app,
        "register",
        user_id=user.id,
        details={"email": user.email, "provider": provider, "email_verified": profile.email_verified},
    )
    _link(tenant=tenant, provider=provider, profile=profile, user=user, how="created")
    return user


def _link(*, tenant: Tenant, provider: str, profile: Profile, user: TenantUserBase, how: str) -> None:
    now = timezone.now()
    try:
        with transaction.atomic(using="default"):
            Identity.objects.create(
                app=tenant.app,
                provider=provider,
                subject=profile.subject,
                user_id=user.id,
                email=profile.email,
                email_verified=profile.email_verified,
                created_at=now,
                last_used_at=now,
            )
    except IntegrityError:
        # The user has an account of this provider already, or this one was linked meanwhile.
        raise IdentityInUse() from None
    log_event(tenant.app, "identity_linked", user_id=user.id, details={"provider": provider, "how": how})


def _used(identity: Identity, profile: Profile) -> None:
    identity.last_used_at = timezone.now()
    identity.email = profile.email
    identity.email_verified = profile.email_verified
    identity.save(update_fields=["last_used_at", "email", "email_verified"])
