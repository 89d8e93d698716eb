"""OpenID Connect: endpoints from the issuer's discovery document, who signed in from the id_token.

The id_token is checked with Authlib's OIDC claims (iss, aud, exp, iat, nonce, azp, at_hash)
after its signature is verified against the issuer's JWKS (joserfc, which Authlib builds on).
Claims the id_token leaves out (oidc-provider puts e-mail in user info) are read from the
user-info endpoint, whose `sub` must be the id_token's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from authlib.integrations.requests_client import OAuth2Session  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry, extract_compact

from sogoms_site.errors import OAuthFailed
from tenants.auth.oauth.base import Endpoints, Profile, Provider, email_of, text
from tenants.auth.oauth.http import get_json

DISCOVERY_SECONDS = 600  # a changed provider is seen within this long
LEEWAY_SECONDS = 60  # clock difference tolerated on exp and iat

_discovered: dict[str, tuple[float, dict[str, Any]]] = {}
# The issuers' key sets, kept like the discovery documents; a token naming a key id the kept
# set does not have (the provider rotated its keys) fetches the set again.
_key_sets: dict[str, tuple[float, KeySet]] = {}
_lock = threading.Lock()


class OpenIDProvider(Provider):
    kind = "oidc"
    default_scopes = ("openid", "email", "profile")
    uses_nonce = True

    def metadata(self) -> dict[str, Any]:
        """The issuer's discovery document (kept for a while by each process)."""
        issuer = self.config.issuer
        with _lock:
            cached = _discovered.get(issuer)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        with self.session(callback_url="") as session:
            document = get_json(
                session,
                f"{issuer}/.well-known/openid-configuration",
                "discovery document",
                withhold_token=True,
            )
        # OpenID Connect Discovery 1.0, 4.3: the document must name the issuer asked for.
        if str(document.get("issuer", "")).rstrip("/") != issuer:
            raise OAuthFailed(f"The discovery document of {issuer} names another issuer.")
        with _lock:
            _discovered[issuer] = (time.monotonic() + DISCOVERY_SECONDS, document)
        return document

    def endpoints(self) -> Endpoints:
        if self.config.authorize_url and self.config.token_url and self.config.userinfo_url:
            return super().endpoints()
        document = self.metadata()
        return Endpoints(
            self.config.authorize_url or str(document.get("authorization_endpoint", "")),
            self.config.token_url or str(document.get("token_endpoint", "")),
            self.config.userinfo_url or str(document.get("userinfo_endpoint", "")),
        )

    def check_callback(self, params: Mapping[str, str]) -> None:
        # RFC 9207: an issuer that names itself in the response must be the one we asked
        # (a mix-up attack sends another provider's code to this callback).
        if "iss" in params and params["iss"].rstrip("/") != self.config.issuer:
            raise OAuthFailed("The sign-in answer comes from another issuer.")

    def read_profile(self, session: OAuth2Session, token: dict[str, Any], nonce: str) -> Profile:
        claims = self._id_token_claims(session, token, nonce)
        subject = text(claims.get("sub"))
        if "email" not in claims and self.endpoints().userinfo:
            info = self.userinfo(session)
            if text(info.get("sub")) != subject:
                raise OAuthFailed("The provider's user info is about another account than its id_token.")
            claims = {**info, **claims}
        email = email_of(claims.get("email"))
        return Profile(
            subject=subject,
            email=email,
            email_verified=bool(email) and claims.get("email_verified") is True,
            name=text(claims.get("name")) or text(claims.get("preferred_username")),
        )

    def _id_token_claims(self, session: OAuth2Session, token: dict[str, Any], nonce: str) -> dict[str, Any]:
        raw = token.get("id_token")
        if not isinstance(raw, str) or not raw:
            raise OAuthFailed("The provider sent no id_token.")
        document = self.metadata()
        jwks_uri = str(document.get("jwks_uri", ""))
        if not jwks_uri:
            raise OAuthFailed("The provider's discovery document names no jwks_uri.")
        # Only public-key algorithms: "none" and HMAC (keyed with our own secret) are refused.
        offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [
            alg for alg in offered if isinstance(alg, str) and alg != "none" and not alg.startswith("HS")
        ]
        client_id = self.config.client_id
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
        try:
            keys, kept = self._key_set(session, jwks_uri, fresh=False)
            kid = extract_compact(raw.encode()).protected.get("kid")
            if kept and kid is not None and kid not in {key.kid for key in keys.keys}:
                keys, _ = self._key_set(session, jwks_uri, fresh=True)  # the provider rotated
            decoded = jwt.decode(raw, keys, registry=registry)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "value": self.config.issuer},
                    "aud": {"essential": True, "value": client_id},
                },
                {"nonce": nonce, "client_id": client_id, "access_token": token.get("access_token")},
            )
            claims.validate(leeway=LEEWAY_SECONDS)
        except (JoseError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            # Whatever is wrong with the token or the key set, the sign-in fails cleanly.
            raise OAuthFailed(f"The provider's id_token is not valid: {exc}.") from None
        return dict(claims)

    @staticmethod
    def _key_set(session: OAuth2Session, jwks_uri: str, *, fresh: bool) -> tuple[KeySet, bool]:
        """The issuer's keys and whether they came from this process's store (not fetched now)."""
        if not fresh:
            with _lock:
                cached = _key_sets.get(jwks_uri)
            if cached and cached[0] > time.monotonic():
                return cached[1], True
        keys = KeySet.import_key_set(get_json(session, jwks_uri, "JWKS", withhold_token=True))  # type: ignore[arg-type]
        with _lock:
            _key_sets[jwks_uri] = (time.monotonic() + DISCOVERY_SECONDS, keys)
        return keys, False
