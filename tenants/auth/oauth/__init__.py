"""Sign-in with other providers (`auth.oauth`): OpenID Connect issuers, Discord, Spotify.

One module per provider kind behind `base.Provider`; `store` keeps the pending sign-ins and
one-time codes (control database), `accounts` finds, creates or links the tenant user,
`services` is the flow and `views` its HTTP endpoints.
"""

from __future__ import annotations

from sogoms_site.errors import NotFoundError
from tenants.auth.oauth.base import Provider
from tenants.auth.oauth.discord import DiscordProvider
from tenants.auth.oauth.oidc import OpenIDProvider
from tenants.auth.oauth.spotify import SpotifyProvider
from tenants.config import Tenant

KINDS: dict[str, type[Provider]] = {
    cls.kind: cls for cls in (OpenIDProvider, DiscordProvider, SpotifyProvider)
}


def provider_for(tenant: Tenant, name: str) -> Provider:
    """The tenant's provider of that name; NotFoundError when it has none (or no auth.oauth)."""
    config = tenant.oauth.providers.get(name) if tenant.oauth else None
    if config is None:
        raise NotFoundError(f"No sign-in provider {name[:40]!r} in this app.")
    return KINDS[config.kind](config)
