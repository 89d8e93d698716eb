"""The shape of `config/routes/<app>.yaml`, checked by pydantic.

This layer checks only what one file can say about itself: keys, types, formats.
Cross-file rules (one host, one tenant) and the file system (secret files) are the
loader's job, so that every problem is reported with its file and key path.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from tenants.config.durations import parse_duration, parse_rate
from tenants.config.model import VerifyEmail

APP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
BASE_PATH = re.compile(r"^(/[A-Za-z0-9_.~-]+)+$")
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)
RESERVED_SEGMENTS = ("admin", "static", "health", "ready")  # the site's own paths


def _duration(value: Any) -> Any:
    parse_duration(value)
    return value


def _rate(value: Any) -> Any:
    parse_rate(value)
    return value


Duration = Annotated[str | int, AfterValidator(_duration)]
Rate = Annotated[str, AfterValidator(_rate)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class DatabaseBlock(Strict):
    """The seed's block (host, port, user, password_file, name), or a URL, or SQLite."""

    engine: Literal["mysql", "mariadb", "sqlite"] | None = None
    url: str | None = None
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = None
    password_file: str | None = None
    name: str | None = None
    conn_max_age: int | None = Field(default=None, ge=0)  # seconds; default SOGOMS_CONN_MAX_AGE

    @field_validator("url")
    @classmethod
    def _url_without_inline_password(cls, value: str | None) -> str | None:
        if value and not value.startswith("env:") and re.match(r"^[a-z0-9+]+://[^/@:]*:[^/@]+@", value):
            raise ValueError("the URL holds a password: use password_file, or url: env:VARIABLE")
        return value


class MqttBlock(Strict):
    """The MQTT broker that also receives every push event of the tenant (realtime app)."""

    host: str
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password_file: str | None = None
    client_id_prefix: str = Field(default="sogoms", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    qos: Literal[0, 1, 2] = 1
    topic_prefix: str | None = Field(default=None, pattern=r"^[^#+]*$")  # prepended as is
    keepalive: int = Field(default=60, ge=5, le=3600)


class RateLimits(Strict):
    login_per_email: Rate = "10/15m"
    login_per_ip: Rate = "60/1m"


class ApiRateLimits(Strict):
    """Requests to the tenant's API (every path under its base path), in sliding windows."""

    per_ip: Rate | None = None  # every request of a client IP, signed in or not
    per_user: Rate | None = None  # every request of a signed-in user, whatever the IP
    # Stricter limits for resource operations, per user (per IP for anonymous callers).
    operations: dict[Literal["list", "show", "create", "update", "delete"], Rate] = Field(
        default_factory=dict
    )


class RateLimitBlock(Strict):
    api: ApiRateLimits = Field(default_factory=ApiRateLimits)


PROVIDER_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
OAUTH_KINDS = ("oidc", "discord", "spotify")  # tenants.auth.oauth has one module per kind


def _http_url(value: str | None) -> str | None:
    """An absolute http(s) URL without user info or fragment (endpoint overrides, issuers)."""
    if value is None:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an absolute http:// or https:// URL")
    if parts.username or parts.password or parts.fragment:
        raise ValueError(f"{value!r} must not carry a user name, password or #fragment")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class OAuthProviderBlock(Strict):
    """One sign-in provider: an OpenID Connect issuer, or a plain OAuth2 kind (discord, spotify).

    `kind` defaults to `oidc` when `issuer` is set, else to the provider's name. The endpoint
    keys override the kind's defaults (tests point them at local servers)."""

    kind: Literal["oidc", "discord", "spotify"] | None = None
    issuer: HttpUrl | None = None
    client_id: str = Field(min_length=1, max_length=500)
    client_secret_file: str | None = None
    client_secret: str | None = None  # only `env:NAME`; a literal secret is refused
    scopes: list[Annotated[str, Field(pattern=r"^[\x21\x23-\x5b\x5d-\x7e]+$")]] | None = None
    authorize_url: HttpUrl | None = None
    token_url: HttpUrl | None = None
    userinfo_url: HttpUrl | None = None

    @field_validator("client_secret")
    @classmethod
    def _secret_from_environment_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("env:"):
            raise ValueError("secrets never sit in YAML: use client_secret_file, or env:VARIABLE")
        return value

    @model_validator(mode="after")
    def _one_secret(self) -> OAuthProviderBlock:
        if bool(self.client_secret_file) == bool(self.client_secret):
            raise ValueError("set client_secret_file or client_secret (env:VARIABLE), exactly one")
        if self.kind == "oidc" and not self.issuer:
            raise ValueError("an OpenID Connect provider needs its issuer URL")
        return self


class OAuthBlock(Strict):
    """Sign-in with other providers (`<base>/auth/oauth/*`)."""

    # Where the client may ask to be sent back after the provider (exact match).
    redirect_uris: list[HttpUrl] = Field(min_length=1)
    providers: dict[str, OAuthProviderBlock] = Field(min_length=1)

    @field_validator("providers")
    @classmethod
    def _provider_names_and_kinds(cls, value: dict[str, OAuthProviderBlock]) -> dict[str, OAuthProviderBlock]:
        for name, block in value.items():
            if not PROVIDER_NAME.match(name):
                raise ValueError(f"{name!r} is not a provider name (lower-case letters, digits, _ and -)")
            if block.kind is None and not block.issuer and name not in OAUTH_KINDS:
                raise ValueError(
                    f"provider {name!r}: set issuer (OpenID Connect) or kind ({', '.join(OAUTH_KINDS)})"
                )
        return value

    @field_validator("redirect_uris")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a redirect URI is listed twice")
        return value


class AuthBlock(Strict):
    jwt_secret_file: str | None = None
    jwt_secret: str | None = None  # only `env:NAME`; a literal secret is refused
    jwt_expiry: Duration = "24h"
    refresh_expiry: Duration = "30d"
    login_includes: list[str] = Field(default_factory=list)
    rate_limit: RateLimits = Field(default_factory=RateLimits)
    # The password-reset e-mail: how long its token is good, and the page it links to
    # (`{token}` is replaced), e.g. https://app.example.com/reset?token={token}.
    password_reset_expiry: Duration = "1h"  # noqa: S105  (a duration)
    password_reset_url: str | None = None
    # E-mail verification: off (never asked), optional (asked, login works without it) or
    # required (login refused until verified); the code's lifetime and the page it links to.
    verify_email: VerifyEmail = "optional"
    verify_email_expiry: Duration = "24h"
    verify_email_url: str | None = None
    # Tokens signed by the Go original (no jti, no session) are accepted until the end of
    # this day (UTC) or until this moment; unset, they are refused like any foreign token.
    legacy_tokens_until: datetime | date | None = None
    # How new passwords are stored: Django's hasher, or bcrypt as the Go original wrote it.
    password_hash: Literal["django", "bcrypt"] = "django"  # noqa: S105  (a hasher's name)
    bcrypt_cost: int = Field(default=10, ge=4, le=16)  # 10 is Go's bcrypt.DefaultCost
    oauth: OAuthBlock | None = None

    @field_validator("legacy_tokens_until", mode="before")
    @classmethod
    def _date_or_moment(cls, value: Any) -> Any:
        # YAML gives a date or a datetime when unquoted; a quoted one arrives as text. A
        # number is refused: pydantic would read it as seconds since 1970.
        if value is None or isinstance(value, date):
            return value
        text = value.strip() if isinstance(value, str) else ""
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a date (2026-12-31) or an ISO date and time (2026-12-31T18:00:00Z)"
            ) from None

    @field_validator("verify_email", mode="before")
    @classmethod
    def _unquoted_off(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted `off` as false: that is the mode "off", not a typo.
        return "off" if value is False else value

    @field_validator("jwt_secret")
    @classmethod
    def _secret_from_environment_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("env:"):
            raise ValueError("secrets never sit in YAML: use jwt_secret_file, or env:VARIABLE")
        return value


class LogsBlock(Strict):
    retention_days: int = Field(default=30, ge=1, le=3650)


class SmtpBlock(Strict):
    """The seed's SMTP keys; delivery itself belongs to the mail app."""

    host: str
    port: int | None = Field(default=None, ge=1, le=65535)  # 587, or 465 with tls: true
    user: str | None = None
    password_file: str | None = None
    from_: str = Field(alias="from")
    from_name: str | None = None
    tls: bool = False  # false: STARTTLS; true: implicit TLS (SMTPS)
    starttls: bool = True  # false only for a local relay without TLS (port 25)
    ca_file: str | None = None  # a private CA to trust, beside the system ones
    timeout: int = Field(default=20, ge=1, le=600)  # seconds per SMTP operation


class EmailBlock(Strict):
    """An e-mail API provider through django-anymail, instead of SMTP.

    Credentials come from `<setting>_file` keys (`api_key_file: /secrets/key` gives the
    provider's `api_key`); `options` holds the provider's settings that are not secret.
    """

    model_config = ConfigDict(extra="allow", frozen=True, str_strip_whitespace=True)

    provider: str
    from_: str = Field(alias="from")
    from_name: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("provider")
    @classmethod
    def _provider_name(cls, value: str) -> str:
        if not re.match(r"^[a-z][a-z0-9_]*$", value):
            raise ValueError(f"{value!r} is not a provider name (like mailgun, postmark, sendgrid)")
        return value

    def credential_files(self) -> dict[str, str]:
        """The `<setting>_file` keys, by setting name."""
        return {key.removesuffix("_file"): value for key, value in (self.model_extra or {}).items()}

    @model_validator(mode="after")
    def _only_credential_files(self) -> EmailBlock:
        for key, value in (self.model_extra or {}).items():
            if not key.endswith("_file") or not isinstance(value, str):
                raise ValueError(
                    f"unknown key {key!r}: credentials are `<setting>_file` paths, settings go in options"
                )
        return self


class RoutesFile(Strict):
    app: str
    version: str = "1.0"
    base_path: str = "/api"
    hosts: list[str] = Field(min_length=1)
    database: DatabaseBlock | None = None
    mqtt: MqttBlock | None = None
    auth: AuthBlock = Field(default_factory=AuthBlock)
    rate_limit: RateLimitBlock = Field(default_factory=RateLimitBlock)
    logs: LogsBlock = Field(default_factory=LogsBlock)
    smtp: SmtpBlock | None = None
    email: EmailBlock | None = None
    # The roles of the app's users: the first is given at registration; `admin` always exists.
    roles: list[str] = Field(default_factory=lambda: ["default", "admin"], min_length=1)
    # The data dictionary (<base>/_schema) for everyone, not only role admin.
    schema_public: bool = False
    # Operators may look at this tenant's data in the Django admin but not change it.
    admin_read_only: bool = False

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("roles")
    @classmethod
    def _role_names(cls, value: list[str]) -> list[str]:
        bad = [role for role in value if not ROLE_NAME.match(role)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a role name (lower-case letters, digits and _, at most 32)")
        if len(set(value)) != len(value):
            raise ValueError("a role is named twice")
        return value if "admin" in value else [*value, "admin"]

    @field_validator("app")
    @classmethod
    def _app_name(cls, value: str) -> str:
        if not APP_NAME.match(value):
            raise ValueError(
                f"{value!r} is not an app name (lower-case letters, digits and _, "
                "starting with a letter, at most 40)"
            )
        return value

    @field_validator("base_path")
    @classmethod
    def _base_path(cls, value: str) -> str:
        if not BASE_PATH.match(value):
            raise ValueError(
                f"{value!r} is not a base path (it starts with / and has no trailing /, like /api or /v1/app)"
            )
        if value.split("/")[1].lower() in RESERVED_SEGMENTS:
            raise ValueError(f"{value!r} collides with a site path (/{', /'.join(RESERVED_SEGMENTS)})")
        return value

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, values: list[str]) -> list[str]:
        normalized = []
        for value in values:
            host = str(value).strip().lower().rstrip(".")
            if not (HOSTNAME.match(host) or _is_ip(host)):
                raise ValueError(f"{value!r} is not a host name (no scheme, port or path)")
            normalized.append(host)
        if len(set(normalized)) != len(normalized):
            raise ValueError("a host is listed twice")
        return normalized


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
