"""Spotify: plain OAuth2; who signed in comes from `GET /v1/me`.

Spotify says nothing about whether the address was confirmed, so its e-mail is never
taken as verified: it cannot claim an existing account."""

from __future__ import annotations

from typing import Any

from authlib.integrations.requests_client import OAuth2Session  # type: ignore[import-untyped]

from tenants.auth.oauth.base import Endpoints, Profile, Provider, email_of, text


class SpotifyProvider(Provider):
    kind = "spotify"
    default_scopes = ("user-read-email",)
    default_endpoints = Endpoints(
        "https://accounts.spotify.com/authorize",
        "https://accounts.spotify.com/api/token",
        "https://api.spotify.com/v1/me",
    )

    def read_profile(self, session: OAuth2Session, token: dict[str, Any], nonce: str) -> Profile:  # noqa: ARG002  (the base signature)
        data = self.userinfo(session)
        return Profile(
            subject=text(data.get("id")),
            email=email_of(data.get("email")),
            email_verified=False,
            name=text(data.get("display_name")),
        )
