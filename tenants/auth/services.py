"""Auth actions of a tenant: register, login, refresh, logout, sessions, profile, role and state
changes.

Functions take keyword-only arguments and raise domain errors (`sogoms_site.errors`); views only
translate HTTP to calls. Every action is written to the tenant's event log.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError

from sogoms_site.errors import (
    AlreadyExists,
    AuthenticationRequired,
    BadCredentials,
    EmailNotVerified,
    ExpiredToken,
    InvalidInput,
    InvalidToken,
    NotFoundError,
)
from tenants import hooks
from tenants.auth import current, ratelimit, revocation, sessions, verification
from tenants.auth.passwords import hash_password, spend_hashing_time, verify_password
from tenants.auth.principal import TenantPrincipal
from tenants.auth.selectors import normalize_email, user_by_email, user_by_id, user_public
from tenants.auth.tokens import TenantAccessToken, TenantRefreshToken
from tenants.config import Tenant
from tenants.logs import log_event
from tenants.models import AuthSession
from tenants.usermodel import TenantUserBase, user_model


@dataclass(frozen=True)
class Session:
    """What a successful register, login or refresh hands to the client."""

    user: TenantUserBase
    access: str
    refresh: str
    refresh_jti: str
    expires_in: int
    session_id: str

    def as_data(self) -> dict:
        return {
            "token": self.access,
            "refresh_token": self.refresh,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "user": user_public(self.user),
        }


@dataclass(frozen=True)
class Registration:
    """What register hands to the client: a session, or none while the app requires the new
    address to be verified first (`auth.verify_email: required`)."""

    user: TenantUserBase
    session: Session | None

    def as_data(self) -> dict:
        return self.session.as_data() if self.session else {"user": user_public(self.user)}


def session_open(*, tenant: Tenant, user: TenantUserBase, ip: str = "", user_agent: str = "") -> Session:
    """Open a session (login, register) and issue its first access/refresh pair."""
    with transaction.atomic(using="default"):
        record = sessions.session_create(
            app=tenant.app,
            user_id=user.id,
            expires_at=timezone.now() + tenant.refresh_expiry,
            ip=ip,
            user_agent=user_agent,
        )
        return _issue(tenant=tenant, user=user, session_id=record.id)


def _issue(*, tenant: Tenant, user: TenantUserBase, session_id: str) -> Session:
    """An access/refresh pair of the session; both carry its id as `sid`.

    The role claim is informative only: requests read the user's current role."""
    refresh = TenantRefreshToken(tenant=tenant)
    refresh["sub"] = user.id
    refresh["sid"] = session_id
    access = TenantAccessToken(tenant=tenant)
    access["sub"] = user.id
    access["email"] = user.email
    access["name"] = user.name
    access["role"] = user.role
    access["sid"] = session_id
    revocation.record_refresh_token(
        app=tenant.app,
        jti=refresh["jti"],
        user_id=user.id,
        session_id=session_id,
        issued_at=revocation.epoch_to_datetime(refresh["iat"]),
        expires_at=revocation.epoch_to_datetime(refresh["exp"]),
    )
    return Session(
        user,
        str(access),
        str(refresh),
        refresh["jti"],
        int(tenant.jwt_expiry.total_seconds()),
        session_id,
    )


def user_create(
    *, tenant: Tenant, email: str, password_hash: str, name: str, verified: bool = False
) -> TenantUserBase:
    """A new user of the tenant's first role, with its welcome e-mail and, unless the address
    is `verified` already, a verification code. IntegrityError when the e-mail is taken.

    The e-mails are recorded in the tenant's transaction, beside the user: all or none.
    They reach the control outbox after commit, or with the mail sweep. The verification
    code is a row of the control database, whose transaction commits last: a code whose
    user was never created does not exist."""
    welcome = hooks.account_mailer(tenant, "welcome")
    verify = None if verified else verification.verification_mailer(tenant)
    with transaction.atomic(using="default"), transaction.atomic(using=tenant.db_alias):
        user = user_model(tenant).objects.create(
            email=email,
            password=password_hash,
            name=name,
            role=tenant.roles[0],
            email_verified_at=timezone.now() if verified else None,
        )
        if welcome is not None:
            welcome.queue_in_tenant(tenant=tenant, template="welcome", user=user, variables={})
        if verify is not None:
            verification.verification_queue(tenant=tenant, user=user, mailer=verify)
    return user


def user_register(
    *, tenant: Tenant, email: str, password: str, name: str, ip: str = "", user_agent: str = ""
) -> Registration:
    """Create an account; its session, unless the app requires a verified address first."""
    email = normalize_email(email)
    model = user_model(tenant)
    if model.objects.filter(email=email).exists():
        raise AlreadyExists(
            "An account with this e-mail already exists.", details={"email": ["already registered"]}
        )
    hashed = hash_password(password, tenant)  # before the transaction: bcrypt takes a while
    try:
        user = user_create(tenant=tenant, email=email, password_hash=hashed, name=name)
    except IntegrityError:  # a concurrent registration won the race
        raise AlreadyExists(
            "An account with this e-mail already exists.", details={"email": ["already registered"]}
        ) from None
    log_event(tenant.app, "register", user_id=user.id, details={"email": email})
    if verification.verification_required(tenant, user):
        return Registration(user, None)
    return Registration(user, session_open(tenant=tenant, user=user, ip=ip, user_agent=user_agent))


def user_login(*, tenant: Tenant, email: str, password: str, client_ip: str, user_agent: str = "") -> Session:
    email = normalize_email(email)
    ip_count = ratelimit.hit("login-ip", f"{tenant.app}|{client_ip}", tenant.login_rate_per_ip)
    ratelimit.refuse_over(tenant.login_rate_per_ip, ip_count)
    email_subject = f"{tenant.app}|{email}"
    failures = ratelimit.count("login-email", email_subject, tenant.login_rate_per_email)
    ratelimit.refuse_over(tenant.login_rate_per_email, failures + 1)

    user = user_by_email(tenant=tenant, email=email)
    if user is None:
        spend_hashing_time(password, tenant)
        matches = needs_rehash = False
    else:
        matches, needs_rehash = verify_password(password, user.password, tenant)
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
        user.password = hash_password(password, tenant)
        user.save(update_fields=["password", "updated_at"])
    # Only after the password: the state of an address is told to its owner alone.
    if verification.verification_required(tenant, user):
        log_event(tenant.app, "login_unverified", user_id=user.id, details={"ip": client_ip})
        raise EmailNotVerified()
    log_event(tenant.app, "login", user_id=user.id, details={"ip": client_ip, "rehashed": needs_rehash})
    return session_open(tenant=tenant, user=user, ip=client_ip, user_agent=user_agent)


def login_extras(*, tenant: Tenant, user: TenantUserBase) -> dict:
    """The lists named in `auth.login_includes`, gathered from the login enrichers."""
    extras: dict = {}
    for enricher in hooks.login_enrichers:
        extras.update(enricher(tenant, user))
    return extras


def session_refresh(*, tenant: Tenant, refresh_token: str) -> Session:
    """Rotate within the session: the old refresh token is spent, the session goes on.

    Reusing a spent refresh token means it leaked: every refresh token of the user is
    revoked and every session of theirs ends."""
    try:
        old = TenantRefreshToken(refresh_token, tenant=tenant)
    except ExpiredTokenError:
        raise ExpiredToken("The refresh token has expired.") from None
    except TokenError as exc:
        raise InvalidToken(f"The refresh token is not valid: {exc}.") from None
    try:
        user_id = int(old["sub"])
    except (TypeError, ValueError):
        raise InvalidToken("The refresh token is not valid: bad subject.") from None
    user = user_by_id(tenant=tenant, user_id=user_id)
    if user is None or not user.is_active:
        raise InvalidToken("The refresh token is not valid: no such user.")
    # Refresh tokens issued before sessions existed named none: their session has their id.
    session_id = str(old.get("sid") or old["jti"])
    with transaction.atomic(using="default"):
        record = sessions.session_for_refresh(app=tenant.app, user_id=user.id, session_id=session_id)
        if record is None:
            outcome = "ended"
        else:
            issued = _issue(tenant=tenant, user=user, session_id=session_id)
            outcome = revocation.consume_refresh_token(
                app=tenant.app, jti=old["jti"], replaced_by=issued.refresh_jti
            )
            if outcome == "ok":
                sessions.session_renewed(session=record, expires_at=timezone.now() + tenant.refresh_expiry)
            else:
                transaction.set_rollback(True, using="default")
    if outcome == "reused":
        ended = sessions.sessions_end_all(app=tenant.app, user_id=user.id, reason="refresh_reused")
        log_event(tenant.app, "refresh_reused", user_id=user.id, details={"ended_sessions": ended})
    if outcome == "ended":
        raise InvalidToken("The session has ended.")
    if outcome != "ok":
        raise InvalidToken("The refresh token has been revoked.")
    log_event(tenant.app, "refresh", user_id=user.id)
    return issued


def session_logout(*, tenant: Tenant, principal: TenantPrincipal, everywhere: bool = False) -> int:
    """End the caller's session (its access and refresh tokens), or with `everywhere` every
    session of the caller; returns how many sessions ended.

    A Go-era token has no session of its own: only moving the user's "tokens valid after"
    refuses it, so its logout ends every session of the user."""
    if principal.expires_at is None:
        raise ValueError("only the principal of an access token can log out (it has no expiry)")
    everywhere = everywhere or principal.is_legacy
    if not principal.is_legacy:
        # Kept for the record of logged-out tokens; the ended session is what refuses them.
        revocation.revoke_access_token(app=tenant.app, jti=principal.jti, expires_at=principal.expires_at)
    if everywhere:
        ended = sessions.sessions_end_all(app=tenant.app, user_id=principal.id, reason="logout_all")
    else:
        ended = int(
            sessions.session_end(
                app=tenant.app, user_id=principal.id, session_id=principal.session_id, reason="logout"
            )
        )
    details: dict[str, object] = {"all": everywhere, "ended_sessions": ended}
    if principal.is_legacy:
        details["legacy"] = True
    log_event(tenant.app, "logout", user_id=principal.id, details=details)
    return ended


def user_sessions(*, tenant: Tenant, principal: TenantPrincipal) -> list[AuthSession]:
    """The caller's sessions that are on, the most recently used first."""
    return sessions.sessions_live(app=tenant.app, user_id=principal.id)


def session_revoke(*, tenant: Tenant, principal: TenantPrincipal, session_id: str) -> None:
    """End one of the caller's sessions; another user's, or an ended one, is not found."""
    ended = sessions.session_end(
        app=tenant.app, user_id=principal.id, session_id=session_id, reason="revoked"
    )
    if not ended:
        raise NotFoundError("No such session.")
    log_event(tenant.app, "session_revoked", user_id=principal.id, details={"session": session_id})


def user_current(*, tenant: Tenant, principal: TenantPrincipal) -> TenantUserBase:
    user = user_by_id(tenant=tenant, user_id=principal.id)
    if user is None or not user.is_active:
        raise AuthenticationRequired("The account no longer exists or is disabled.")
    return user


def user_update_profile(
    *,
    tenant: Tenant,
    principal: TenantPrincipal,
    name: str | None = None,
    email: str | None = None,
    current_password: str | None = None,
) -> TenantUserBase:
    """The caller changes their name and/or e-mail address.

    A new address needs the current password (its failures count like failed logins), must
    not be taken, and is not verified: a code goes to it when the app verifies addresses.
    Sessions go on (the password did not change), and the change is logged."""
    user = user_current(tenant=tenant, principal=principal)
    new_email = normalize_email(email) if email is not None else user.email
    old_email = user.email
    changes = []
    if name is not None and name != user.name:
        user.name = name
        changes.append("name")
    if new_email != old_email:
        _check_current_password(tenant=tenant, user=user, password=current_password)
        if user_model(tenant).objects.filter(email=new_email).exclude(pk=user.id).exists():
            raise AlreadyExists(
                "An account with this e-mail already exists.", details={"email": ["already registered"]}
            )
        user.email = new_email
        user.email_verified_at = None
        changes += ["email", "email_verified_at"]
    if not changes:
        return user
    verify = verification.verification_mailer(tenant) if "email" in changes else None
    try:
        # As on register: the code (control database) and its e-mail (tenant database, beside
        # the new address) are written together; the old address's codes are spent.
        with transaction.atomic(using="default"), transaction.atomic(using=tenant.db_alias):
            user.save(update_fields=[*changes, "updated_at"])
            if "email" in changes:
                verification.verification_codes_spend(tenant=tenant, user_id=user.id)
            if verify is not None:
                verification.verification_queue(tenant=tenant, user=user, mailer=verify)
    except IntegrityError:  # another account took the address meanwhile
        raise AlreadyExists(
            "An account with this e-mail already exists.", details={"email": ["already registered"]}
        ) from None
    if "email" in changes:
        current.user_changed(app=tenant.app, user_id=user.id, using=tenant.db_alias)
        log_event(tenant.app, "email_changed", user_id=user.id, details={"from": old_email, "to": new_email})
    if "name" in changes:
        log_event(tenant.app, "profile_changed", user_id=user.id, details={"fields": ["name"]})
    return user


def _check_current_password(*, tenant: Tenant, user: TenantUserBase, password: str | None) -> None:
    """InvalidInput on `current_password` unless it is the user's password. Failures count
    against the address like failed logins: a stolen access token cannot guess it freely."""
    subject = f"{tenant.app}|{user.email}"
    rate = tenant.login_rate_per_email
    ratelimit.refuse_over(rate, ratelimit.count("login-email", subject, rate) + 1)
    if password is None:
        raise InvalidInput(
            "The current password is needed to change the e-mail address.",
            details={"current_password": ["required to change the e-mail address"]},
        )
    matches, _ = verify_password(password, user.password, tenant)
    if not matches:
        ratelimit.hit("login-email", subject, rate)
        log_event(tenant.app, "email_change_refused", user_id=user.id, details={"reason": "password"})
        raise InvalidInput("The current password is wrong.", details={"current_password": ["wrong password"]})


def user_password_reset_by_operator(*, tenant: Tenant, user: TenantUserBase) -> str:
    """A new random password (returned once, for the operator to pass on); sessions end."""
    import secrets

    password = secrets.token_urlsafe(12)
    user.password = hash_password(password, tenant)
    user.save(update_fields=["password", "updated_at"])
    ended = sessions.sessions_end_all(app=tenant.app, user_id=user.id, reason="password_reset")
    log_event(tenant.app, "password_reset_by_operator", user_id=user.id, details={"ended_sessions": ended})
    return password


def user_set_role(*, tenant: Tenant, email: str, role: str) -> TenantUserBase:
    user = user_by_email(tenant=tenant, email=email)
    if user is None:
        raise NotFoundError(f"No user {normalize_email(email)!r} in {tenant.app}.")
    return user_change(tenant=tenant, user=user, role=role)


def user_change(
    *, tenant: Tenant, user: TenantUserBase, role: str | None = None, is_active: bool | None = None
) -> TenantUserBase:
    """Change a user's role and/or active flag; it holds at once (tokens carry no power,
    and a deactivation ends every session)."""
    if role is not None and role not in tenant.roles:
        raise InvalidInput(
            f"{role!r} is not a role of {tenant.app} ({', '.join(tenant.roles)}).",
            details={"role": ["unknown role"]},
        )
    role_changed = role is not None and role != user.role
    active_changed = is_active is not None and is_active != user.is_active
    if not (role_changed or active_changed):
        return user
    if role is not None and role_changed:
        user.role = role
    if active_changed:
        user.is_active = bool(is_active)
    user.save(update_fields=["role", "is_active", "updated_at"])
    user_state_changed(tenant=tenant, user=user, role_changed=role_changed, active_changed=active_changed)
    if role_changed:
        log_event(tenant.app, "role_changed", user_id=user.id, details={"role": role})
    if active_changed:
        log_event(tenant.app, "activated" if is_active else "deactivated", user_id=user.id)
    return user


def user_set_active(*, tenant: Tenant, email: str, active: bool) -> TenantUserBase:
    """Enable or disable an account; disabling ends every session of the user."""
    user = user_by_email(tenant=tenant, email=email)
    if user is None:
        raise NotFoundError(f"No user {normalize_email(email)!r} in {tenant.app}.")
    return user_change(tenant=tenant, user=user, is_active=active)


def user_state_changed(
    *, tenant: Tenant, user: TenantUserBase, role_changed: bool = False, active_changed: bool = False
) -> None:
    """After a saved change of a user's role or active flag (here, or by the operators' admin):
    every process reads the new state at once, and a disabled user's sessions end."""
    if active_changed and not user.is_active:
        sessions.sessions_end_all(app=tenant.app, user_id=user.id, reason="deactivated")
    elif role_changed or active_changed:
        current.user_changed(app=tenant.app, user_id=user.id, using=tenant.db_alias)


def user_logout_everywhere(*, tenant: Tenant, email: str) -> int:
    """The operator's "log out everywhere": every session of the user ends; how many did."""
    user = user_by_email(tenant=tenant, email=email)
    if user is None:
        raise NotFoundError(f"No user {normalize_email(email)!r} in {tenant.app}.")
    ended = sessions.sessions_end_all(app=tenant.app, user_id=user.id, reason="logout_all")
    log_event(tenant.app, "logout_by_operator", user_id=user.id, details={"ended_sessions": ended})
    return ended


def user_deleted(*, tenant: Tenant, user_id: int) -> None:
    """After a user's row is deleted: their sessions end with it."""
    sessions.sessions_end_all(app=tenant.app, user_id=user_id, reason="deleted")
