"""Domain errors: what went wrong, said without HTTP.

Services, selectors and the engines below the API raise these. They carry a message for
people and `details` keyed by field (`{"email": ["already registered"]}`). The API layer
(`sogoms_site.api.errors.translate`) maps each class to its contract code and status; the
CLI and the admin print the message in their own words. Nothing here imports DRF or
Django's HTTP machinery, so any floor may raise them.

The default messages are the ones clients have always read; keep them stable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "AccountExists",
    "AlreadyExists",
    "AuthenticationRequired",
    "BadCredentials",
    "DomainError",
    "EmailNotVerified",
    "ExpiredToken",
    "IdentityInUse",
    "InvalidInput",
    "InvalidOAuthCode",
    "InvalidOAuthState",
    "InvalidToken",
    "NotFoundError",
    "NotPermitted",
    "OAuthFailed",
    "StateConflict",
    "TenantUnavailable",
    "TooManyAttempts",
]


class DomainError(Exception):
    """Base of every error a service raises on purpose: a message and details by field."""

    default_message: ClassVar[str] = "The request is invalid."

    def __init__(self, message: str | None = None, details: Mapping[str, Any] | None = None) -> None:
        self.message: str = str(message or self.default_message)
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(self.message)


class InvalidInput(DomainError):
    """The input cannot be used as given; `details` names the fields at fault."""

    default_message = "The request is invalid."


class NotFoundError(DomainError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    default_message = "Not found."


class StateConflict(DomainError):
    """The request contradicts the current state of the data (e.g. a row still referenced)."""

    default_message = "The request conflicts with existing data."


class AlreadyExists(StateConflict):
    """What the request would create exists already (e.g. an e-mail already registered)."""

    default_message = "The request conflicts with existing data."


class AccountExists(AlreadyExists):
    """A sign-in with another provider names the e-mail of an account it may not take over:
    the provider does not vouch for the address, or the account never proved it."""

    default_message = "An account with this e-mail already exists; sign in to it and link the provider."


class IdentityInUse(StateConflict):
    """The provider account is linked to another user already (or the user has one there)."""

    default_message = "This provider account is linked to another account."


class InvalidOAuthState(InvalidInput):
    """A provider's callback whose `state` is unknown, expired, already used or of another provider."""

    default_message = "The sign-in is unknown, expired or already finished; start again."


class InvalidOAuthCode(InvalidInput):
    """A one-time sign-in code that is unknown, expired or already exchanged."""

    default_message = "The sign-in code is unknown, expired or already used; sign in again."


class OAuthFailed(DomainError):
    """The provider refused the sign-in, or its answer could not be trusted or reached."""

    default_message = "The sign-in with the provider failed."


class NotPermitted(DomainError):
    """The caller is known but may not do this."""

    default_message = "You are not allowed to do this."


class EmailNotVerified(NotPermitted):
    """The credentials are right, but the app requires a verified e-mail address first."""

    default_message = "Verify your e-mail address before signing in."


class AuthenticationRequired(DomainError):
    """The caller is not (or no longer) authenticated."""

    default_message = "Authentication is required."


class InvalidToken(AuthenticationRequired):
    """A token that is malformed, forged, revoked or names no usable account."""

    default_message = "Authentication is required."


class ExpiredToken(AuthenticationRequired):
    """A token that was valid but whose lifetime is over."""

    default_message = "The token has expired."


class BadCredentials(AuthenticationRequired):
    """A login with an unknown e-mail or a wrong password (never says which)."""

    default_message = "Invalid e-mail or password."


class TooManyAttempts(DomainError):
    """Too many attempts in the current window; `retry_after` seconds until the next one."""

    default_message = "Too many attempts; try again later."

    def __init__(
        self,
        message: str | None = None,
        details: Mapping[str, Any] | None = None,
        *,
        retry_after: int = 1,
    ) -> None:
        super().__init__(message, details)
        self.retry_after: int = max(1, int(retry_after))


class TenantUnavailable(DomainError):
    """The tenant's own database cannot be reached; other tenants are not concerned."""

    default_message = "This app is temporarily unavailable; try again later."
