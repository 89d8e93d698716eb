"""The OAuth2 / OpenID Connect sign-in flow of a tenant, and the user's linked identities.

start -> the provider -> callback -> the client's page with a one-time code -> exchange ->
the usual session. Functions take keyword-only arguments and raise domain errors.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from authlib.common.urls import add_params_to_uri  # type: ignore[import-untyped]
from django.contrib.auth.hashers import is_password_usable

from sogoms_site.errors import (
    DomainError,
    EmailNotVerified,
    InvalidInput,
    NotFoundError,
    NotPermitted,
    OAuthFailed,
    StateConflict,
)
from tenants.auth import ratelimit, verification
from tenants.auth.oauth import accounts, provider_for, store
from tenants.auth.principal import TenantPrincipal
from tenants.auth.selectors import user_by_id
from tenants.auth.services import Session, session_open, user_current
from tenants.config import Tenant
from tenants.logs import log_event
from tenants.models import Identity

LAST_WAY_IN = "This is the account's last way to sign in: set a password or link another provider first."


@dataclass(frozen=True)
class CallbackOutcome:
    """Where the browser goes after the callback: the client's page, with `params`, or with
    the refusal in `error` (the view names it by its contract code)."""

    redirect_uri: str
    params: Mapping[str, str]
    error: DomainError | None = None


def oauth_start(
    *,
    tenant: Tenant,
    provider: str,
    redirect_uri: str,
    callback_url: str,
    client_ip: str = "",
    link_user_id: int | None = None,
) -> str:
    """Begin a sign-in (or, with `link_user_id`, a link): the provider's authorization URL."""
    chosen = provider_for(tenant, provider)
    if link_user_id is None:
        # Each start writes a row: a client cannot fill the table faster than it may log in.
        rate = tenant.login_rate_per_ip
        ratelimit.refuse_over(rate, ratelimit.hit("oauth-start-ip", f"{tenant.app}|{client_ip}", rate))
    allowed = tenant.oauth.redirect_uris if tenant.oauth else ()
    if redirect_uri not in allowed:
        raise InvalidInput(
            "redirect_uri is not one of this app's auth.oauth.redirect_uris.",
            details={"redirect_uri": ["not allowed"]},
        )
    state = store.new_token()
    code_verifier = secrets.token_urlsafe(64)  # 86 characters: RFC 7636 wants 43 to 128
    nonce = store.new_token() if chosen.uses_nonce else ""
    url = chosen.authorization_url(
        callback_url=callback_url, state=state, code_verifier=code_verifier, nonce=nonce
    )
    store.state_create(
        app=tenant.app,
        provider=provider,
        state=state,
        code_verifier=code_verifier,
        nonce=nonce,
        redirect_uri=redirect_uri,
        callback_url=callback_url,
        link_user_id=link_user_id,
    )
    return url


def oauth_callback(*, tenant: Tenant, provider: str, params: Mapping[str, str]) -> CallbackOutcome:
    """Finish at the provider's redirect. An unknown, expired or used state raises
    InvalidOAuthState (there is no client page to go back to); any later refusal goes to
    the client's page as an error."""
    chosen = provider_for(tenant, provider)
    pending = store.state_claim(app=tenant.app, provider=provider, state=params.get("state", ""))
    try:
        if params.get("error"):
            raise OAuthFailed(f"The provider refused the sign-in: {params['error'][:100]}.")
        chosen.check_callback(params)
        code = params.get("code", "")
        if not code or len(code) > 2048:
            raise OAuthFailed("The provider sent no code.")
        profile = chosen.profile(
            callback_url=pending.callback_url,
            code=code,
            code_verifier=pending.code_verifier,
            nonce=pending.nonce,
        )
        if pending.link_user_id is not None:
            accounts.identity_link(
                tenant=tenant, provider=provider, profile=profile, user_id=pending.link_user_id
            )
            return CallbackOutcome(pending.redirect_uri, {"linked": provider})
        user = accounts.user_for_profile(tenant=tenant, provider=provider, profile=profile)
    except DomainError as exc:
        log_event(
            tenant.app,
            "oauth_failed",
            user_id=pending.link_user_id,
            details={"provider": provider, "error": type(exc).__name__, "message": exc.message},
        )
        return CallbackOutcome(pending.redirect_uri, {}, exc)
    code = store.code_create(app=tenant.app, provider=provider, user_id=user.id)
    return CallbackOutcome(pending.redirect_uri, {"code": code})


def outcome_url(outcome: CallbackOutcome, error_code: str = "") -> str:
    params = dict(outcome.params)
    if outcome.error is not None:
        params = {"error": error_code, "error_description": outcome.error.message}
    return str(add_params_to_uri(outcome.redirect_uri, list(params.items())))


def oauth_exchange(*, tenant: Tenant, code: str, client_ip: str, user_agent: str = "") -> Session:
    """Trade a one-time code for the usual session, as a login would open it."""
    rate = tenant.login_rate_per_ip
    ratelimit.refuse_over(rate, ratelimit.hit("oauth-exchange-ip", f"{tenant.app}|{client_ip}", rate))
    row = store.code_claim(app=tenant.app, code=code)
    user = user_by_id(tenant=tenant, user_id=row.user_id)
    if user is None or not user.is_active:
        raise NotPermitted(accounts.DISABLED)
    if verification.verification_required(tenant, user):  # the same rule as a login
        log_event(tenant.app, "login_unverified", user_id=user.id, details={"ip": client_ip})
        raise EmailNotVerified()
    log_event(tenant.app, "login", user_id=user.id, details={"ip": client_ip, "provider": row.provider})
    return session_open(tenant=tenant, user=user, ip=client_ip, user_agent=user_agent)


def identities_list(*, tenant: Tenant, principal: TenantPrincipal) -> list[Identity]:
    return list(Identity.objects.filter(app=tenant.app, user_id=principal.id).order_by("provider"))


def identity_unlink(*, tenant: Tenant, principal: TenantPrincipal, provider: str) -> None:
    """Unlink the caller's account at `provider`, unless nothing else would sign them in."""
    identity = Identity.objects.filter(app=tenant.app, user_id=principal.id, provider=provider[:40]).first()
    if identity is None:
        raise NotFoundError(f"No linked {provider[:40]!r} account.")
    user = user_current(tenant=tenant, principal=principal)
    others = Identity.objects.filter(app=tenant.app, user_id=user.id).exclude(pk=identity.pk).exists()
    if not others and not is_password_usable(user.password):
        raise StateConflict(LAST_WAY_IN, details={"provider": ["last way to sign in"]})
    identity.delete()
    log_event(tenant.app, "identity_unlinked", user_id=user.id, details={"provider": provider})
