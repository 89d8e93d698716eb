"""Auth actions of a tenant: register, login, refresh, logout, role changes.

Functions take keyword-only arguments and raise domain errors (`sogoms_site.errors`); views only
translate HTTP to calls. Every action is written to the tenant's event log.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError

from sogoms_site.errors import (
    AlreadyExists,
    AuthenticationRequired,
    BadCredentials,
    ExpiredToken,
    InvalidInput,
    InvalidToken,
    NotFoundError,
)
from tenants import hooks
from tenants.auth import ratelimit, revocation
from tenants.auth.passwords import hash_password, spend_hashing_time, verify_password
from tenants.auth.principal import TenantPrincipal
from tenants.auth.selectors import normalize_email, user_by_email, user_by_id, user_public
from tenants.auth.tokens import TenantAccessToken, TenantRefreshToken
from tenants.config import Tenant
from tenants.logs import log_event
from tenants.usermodel import ROLES, TenantUserBase, user_model


@dataclass(frozen=True)
class Session:
    """What a successful register, login or refresh hands to the client."""

    user: TenantUserBase
    access: str
    refresh: str
    refresh_jti: str
    expires_in: int

    def as_data(self) -> dict:
        return {
            "token": self.access,
            "refresh_token": self.refresh,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "user": user_public(self.user),
        }


def session_open(*, tenant: Tenant, user: TenantUserBase) -> Session:
    """Issue an access/refresh pair; the access token names its refresh token (`sid`)."""
    refresh = TenantRefreshToken(tenant=tenant)
    refresh["sub"] = user.id
    access = TenantAccessToken(tenant=tenant)
    access["sub"] = user.id
    access["email"] = user.email
    access["name"] = user.name
    access["role"] = user.role
    access["sid"] = refresh["jti"]
    revocation.record_refresh_token(
        app=tenant.app,
        jti=refresh["jti"],
        user_id=user.id,
        issued_at=revocation.epoch_to_datetime(refresh["iat"]),
        expires_at=revocation.epoch_to_datetime(refresh["exp"]),
    )
    return Session(user, str(access), str(refresh), refresh["jti"], int(tenant.jwt_expiry.total_seconds()))


def user_register(*, tenant: Tenant, email: str, password: str, name: str) -> Session:
    email = normalize_email(email)
    model = user_model(tenant)
    if model.objects.filter(email=email).exists():
        raise AlreadyExists(
            "An account with this e-mail already exists.", details={"email": ["already registered"]}
        )
    welcome = hooks.account_mailer(tenant, "welcome")
    try:
        # The welcome e-mail is queued in the control database's transaction, which
        # commits only after the user's row has: no account, no e-mail.
        with transaction.atomic(using="default"), transaction.atomic(using=tenant.db_alias):
            user = model.objects.create(email=email, password=hash_password(password), name=name)
            if welcome is not None:
                welcome.send(tenant=tenant, template="welcome", user=user, variables={})
    except IntegrityError:  # a concurrent registration won the race
        raise AlreadyExists(
            "An account with this e-mail already exists.", details={"email": ["already registered"]}
        ) from None
    log_event(tenant.app, "register", user_id=user.id, details={"email": email})
    return session_open(tenant=tenant, user=user)


def user_login(*, tenant: Tenant, email: str, password: str, client_ip: str) -> Session:
    email = normalize_email(email)
    ip_count = ratelimit.hit("login-ip", f"{tenant.app}|{client_ip}", tenant.login_rate_per_ip)
    ratelimit.refuse_over(tenant.login_rate_per_ip, ip_count)
    email_subject = f"{tenant.app}|{email}"
    failures = ratelimit.count("login-email", email_subject, tenant.login_rate_per_email)
    ratelimit.refuse_over(tenant.login_rate_per_email, failures + 1)

    user = user_by_email(tenant=tenant, email=email)
    if user is None:
        spend_hashing_time(password)
        matches = needs_rehash = False
    else:
        matches, needs_rehash = verify_password(password, user.password)
    if user is None or not matches or not user.is_active:
        ratelimit.hit("login-email", email_subject, tenant.login_rate_per_email)
        log_event(
            tenant.app,
            "login_failed",
            user_id=user.id if user else None,
            details={"email": email, "ip": client_ip},
        )
        raise BadCredentials()
    if needs_rehash:
        user.password = hash_password(password)
        user.save(update_fields=["password", "updated_at"])
    log_event(tenant.app, "login", user_id=user.id, details={"ip": client_ip, "rehashed": needs_rehash})
    return session_open(tenant=tenant, user=user)


def login_extras(*, tenant: Tenant, user: TenantUserBase) -> dict:
    """The lists named in `auth.login_includes`, gathered from the login enrichers."""
    extras: dict = {}
    for enricher in hooks.login_enrichers:
        extras.update(enricher(tenant, user))
    return extras


def session_refresh(*, tenant: Tenant, refresh_token: str) -> Session:
    """Rotate: the old refresh token is spent; reusing a spent one ends the whole family."""
    try:
        old = TenantRefreshToken(refresh_token, tenant=tenant)
    except ExpiredTokenError:
        raise ExpiredToken("The refresh token has expired.") from None
    except TokenError as exc:
        raise InvalidToken(f"The refresh token is not valid: {exc}.") from None
    user = user_by_id(tenant=tenant, user_id=int(old["sub"]))
    if user is None or not user.is_active:
        raise InvalidToken("The refresh token is not valid: no such user.")
    with transaction.atomic(using="default"):
        session = session_open(tenant=tenant, user=user)
        outcome = revocation.consume_refresh_token(
            app=tenant.app, jti=old["jti"], replaced_by=session.refresh_jti
        )
        if outcome != "ok":
            transaction.set_rollback(True, using="default")
    if outcome == "reused":
        revoked = revocation.revoke_user_refresh_tokens(app=tenant.app, user_id=user.id)
        log_event(
            tenant.app,
            "refresh_reused",
            user_id=user.id,
            details={"revoked_refresh_tokens": revoked},
        )
    if outcome != "ok":
        raise InvalidToken("The refresh token has been revoked.")
    log_event(tenant.app, "refresh", user_id=user.id)
    return session


def session_logout(*, tenant: Tenant, principal: TenantPrincipal) -> None:
    """Revoke this access token until it expires, and the refresh token it was issued with."""
    if principal.expires_at is None:
        raise ValueError("only the principal of an access token can log out (it has no expiry)")
    revocation.revoke_access_token(app=tenant.app, jti=principal.jti, expires_at=principal.expires_at)
    if principal.session_id:
        revocation.revoke_refresh_token(app=tenant.app, jti=principal.session_id)
    log_event(tenant.app, "logout", user_id=principal.id)


def user_current(*, tenant: Tenant, principal: TenantPrincipal) -> TenantUserBase:
    user = user_by_id(tenant=tenant, user_id=principal.id)
    if user is None or not user.is_active:
        raise AuthenticationRequired("The account no longer exists or is disabled.")
    return user


def user_password_reset_by_operator(*, tenant: Tenant, user: TenantUserBase) -> str:
    """A new random password (returned once, for the operator to pass on); sessions end."""
    import secrets

    password = secrets.token_urlsafe(12)
    user.password = hash_password(password)
    user.save(update_fields=["password", "updated_at"])
    revocation.revoke_user_refresh_tokens(app=tenant.app, user_id=user.id)
    log_event(tenant.app, "password_reset_by_operator", user_id=user.id)
    return password


def user_set_role(*, tenant: Tenant, email: str, role: str) -> TenantUserBase:
    if role not in ROLES:
        raise InvalidInput(
            f"{role!r} is not a role ({', '.join(ROLES)}).", details={"role": ["unknown role"]}
        )
    user = user_by_email(tenant=tenant, email=email)
    if user is None:
        raise NotFoundError(f"No user {normalize_email(email)!r} in {tenant.app}.")
    user.role = role
    user.save(update_fields=["role", "updated_at"])
    log_event(tenant.app, "role_changed", user_id=user.id, details={"role": role})
    return user
