"""The validated, immutable view of the tenants that the rest of SOGOMS reads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

PasswordHash = Literal["django", "bcrypt"]
VerifyEmail = Literal["off", "optional", "required"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class ApiLimits:
    """`rate_limit.api` of the routes: None (or no entry) is no limit."""

    per_ip: RateLimit | None = None
    per_user: RateLimit | None = None
    operations: MappingProxyType[str, RateLimit] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class OAuthProvider:
    """One configured sign-in provider; empty URLs and scopes mean the kind's defaults."""

    name: str
    kind: str  # oidc, discord, spotify: the module of tenants.auth.oauth that speaks it
    client_id: str
    client_secret: str = field(repr=False)
    issuer: str = ""  # OpenID Connect: discovery at <issuer>/.well-known/openid-configuration
    scopes: tuple[str, ...] = ()
    authorize_url: str = ""
    token_url: str = ""
    userinfo_url: str = ""


@dataclass(frozen=True, slots=True)
class OAuthSettings:
    """`auth.oauth`: the client pages a sign-in may return to, and the providers by name."""

    redirect_uris: tuple[str, ...]
    providers: MappingProxyType[str, OAuthProvider]


@dataclass(frozen=True, slots=True, eq=False)  # identity: one object per loaded config
class Tenant:
    app: str
    version: str
    base_path: str
    hosts: tuple[str, ...]
    source: Path
    db_alias: str
    database: MappingProxyType[str, Any]  # Django DATABASES entry; copied when registered
    jwt_secret: str = field(repr=False)
    jwt_expiry: timedelta
    refresh_expiry: timedelta
    password_reset_expiry: timedelta
    password_reset_url: str  # `{token}` is replaced; empty: the e-mail carries the token alone
    verify_email: VerifyEmail  # off, optional or required (tenants.auth.verification)
    verify_email_expiry: timedelta
    verify_email_url: str  # `{token}` is replaced; empty: the e-mail carries the code alone
    login_includes: tuple[str, ...]
    login_rate_per_email: RateLimit
    login_rate_per_ip: RateLimit
    # Tokens of the Go original are accepted before this moment (aware, UTC); None: never.
    legacy_tokens_until: datetime | None
    password_hash: PasswordHash  # how new passwords are stored (tenants.auth.passwords)
    bcrypt_cost: int
    log_retention_days: int
    schema_public: bool
    admin_read_only: bool
    raw: MappingProxyType[str, Any] = field(repr=False)  # the validated YAML, for later features
    api_limits: ApiLimits = field(default_factory=ApiLimits)
    roles: tuple[str, ...] = ("default", "admin")  # the first is given at registration
    # What the config sections of other apps add (e.g. "resources" from crud).
    extensions: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    oauth: OAuthSettings | None = None  # None: no sign-in with other providers

    @property
    def db_engine(self) -> str:
        """A short engine name for people: `sqlite` or `mysql`."""
        return str(self.database["ENGINE"]).rsplit(".", 1)[-1].replace("sqlite3", "sqlite")

    def database_settings(self) -> dict[str, Any]:
        """A fresh, mutable copy of the Django database settings of this tenant."""
        return {
            key: dict(value) if isinstance(value, MappingProxyType | dict) else value
            for key, value in self.database.items()
        }


@dataclass(frozen=True, slots=True, eq=False)
class Registry:
    """All tenants of this process, looked up by app name or by host."""

    tenants: MappingProxyType[str, Tenant]  # app -> Tenant
    by_host: MappingProxyType[str, Tenant]  # normalized host -> Tenant

    @classmethod
    def of(cls, tenants: list[Tenant]) -> Registry:
        by_host = {host: tenant for tenant in tenants for host in tenant.hosts}
        return cls(
            tenants=MappingProxyType({t.app: t for t in tenants}),
            by_host=MappingProxyType(by_host),
        )

    def for_host(self, host: str) -> Tenant | None:
        return self.by_host.get(normalize_host(host))

    def get(self, app: str) -> Tenant | None:
        return self.tenants.get(app)

    def __iter__(self) -> Iterator[Tenant]:
        return iter(self.tenants.values())

    def __len__(self) -> int:
        return len(self.tenants)


def normalize_host(host: str) -> str:
    """Lower-case, without port and trailing dot: `Prokov.Localhost:8000` -> `prokov.localhost`."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8000
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")
