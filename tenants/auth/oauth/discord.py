"""Discord: plain OAuth2; who signed in comes from `GET /api/users/@me`."""

from __future__ import annotations

from typing import Any

from authlib.integrations.requests_client import OAuth2Session  # type: ignore[import-untyped]

from tenants.auth.oauth.base import Endpoints, Profile, Provider, email_of, text


class DiscordProvider(Provider):
    kind = "discord"
    default_scopes = ("identify", "email")
    default_endpoints = Endpoints(
        "https://discord.com/oauth2/authorize",
        "https://discord.com/api/oauth2/token",
        "https://discord.com/api/users/@me",
    )

    def read_profile(self, session: OAuth2Session, token: dict[str, Any], nonce: str) -> Profile:  # noqa: ARG002  (the base signature)
        data = self.userinfo(session)
        email = email_of(data.get("email"))
        return Profile(
            subject=text(data.get("id")),
            email=email,
            # Discord's `verified`: the user confirmed the address with Discord.
            email_verified=bool(email) and data.get("verified") is True,
            name=text(data.get("global_name")) or text(data.get("username")),
        )
