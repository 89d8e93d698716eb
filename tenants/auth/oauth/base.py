"""The base of every sign-in provider kind: endpoints, the authorization URL, the profile.

A kind is one module (oidc, discord, spotify) with one subclass; it names its default
endpoints and scopes and reads the provider's answer into a `Profile`. The flow itself
(authorization code with PKCE S256, the token request) is Authlib's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
from authlib.integrations.requests_client import OAuth2Session  # type: ignore[import-untyped]

from sogoms_site.errors import OAuthFailed
from tenants.auth.oauth.http import get_json, oauth_session
from tenants.config import OAuthProvider

MAX_EMAIL = 254


@dataclass(frozen=True)
class Profile:
    """Who the provider says signed in."""

    subject: str  # the provider's stable id of the account
    email: str  # "" when the provider shared none
    email_verified: bool  # the provider vouches that the person controls `email`
    name: str


@dataclass(frozen=True)
class Endpoints:
    authorize: str
    token: str
    userinfo: str


class Provider:
    """One configured provider of one kind."""

    kind: ClassVar[str]
    default_scopes: ClassVar[tuple[str, ...]] = ()
    default_endpoints: ClassVar[Endpoints] = Endpoints("", "", "")
    uses_nonce: ClassVar[bool] = False  # OpenID Connect binds the id_token to the request

    def __init__(self, config: OAuthProvider) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def scopes(self) -> tuple[str, ...]:
        return self.config.scopes or self.default_scopes

    def endpoints(self) -> Endpoints:
        """The configured endpoints, each defaulting to the kind's."""
        default = self.default_endpoints
        return Endpoints(
            self.config.authorize_url or default.authorize,
            self.config.token_url or default.token,
            self.config.userinfo_url or default.userinfo,
        )

    def session(self, *, callback_url: str) -> OAuth2Session:
        return oauth_session(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            scope=" ".join(self.scopes),
            redirect_uri=callback_url,
        )

    def authorization_url(self, *, callback_url: str, state: str, code_verifier: str, nonce: str) -> str:
        """Where the browser goes to sign in: state, PKCE challenge and (OIDC) nonce included."""
        extra = {"nonce": nonce} if self.uses_nonce else {}
        endpoint = self.endpoints().authorize
        if not endpoint:
            raise OAuthFailed("The provider names no authorization endpoint.")
        with self.session(callback_url=callback_url) as session:
            url, _ = session.create_authorization_url(
                endpoint, state=state, code_verifier=code_verifier, **extra
            )
        return str(url)

    def profile(self, *, callback_url: str, code: str, code_verifier: str, nonce: str) -> Profile:
        """Trade the code (with the PKCE verifier) for tokens and read who signed in."""
        with self.session(callback_url=callback_url) as session:
            try:
                token = session.fetch_token(self.endpoints().token, code=code, code_verifier=code_verifier)
            except OAuthError as exc:
                raise OAuthFailed(f"The provider refused the sign-in: {exc.error}.") from None
            except (ValueError, KeyError, TypeError, AttributeError):  # not JSON, no access_token...
                raise OAuthFailed("The provider's token answer is not usable.") from None
            profile = self.read_profile(session, dict(token), nonce)
        if not profile.subject:
            raise OAuthFailed("The provider did not say who signed in.")
        return profile

    def check_callback(self, params: Mapping[str, str]) -> None:
        """Refuse a callback the provider cannot have sent (OAuthFailed); kinds add checks."""

    def read_profile(self, session: OAuth2Session, token: dict[str, Any], nonce: str) -> Profile:
        raise NotImplementedError

    def userinfo(self, session: OAuth2Session) -> dict[str, Any]:
        """The user-info answer, asked with the access token."""
        return get_json(session, self.endpoints().userinfo, "user info")


def text(value: Any, limit: int = 255) -> str:
    """A provider's value as bounded text ("" for anything that is not a string or number)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value).strip()[:limit]


def email_of(value: Any) -> str:
    email = text(value, MAX_EMAIL + 1).lower()
    return email if "@" in email and len(email) <= MAX_EMAIL else ""
