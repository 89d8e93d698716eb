"""Load `config/routes/*.yaml` into a `Registry`, collecting every problem at once.

A problem names the file, the key path and the reason, e.g.
`routes/prokov.yaml: auth.jwt_expiry: '24x' is not a duration`. A config with any
problem yields no registry: the server refuses to start rather than half-apply it.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import dj_database_url
import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from tenants.config.durations import parse_duration, parse_rate
from tenants.config.model import ApiLimits, OAuthProvider, OAuthSettings, RateLimit, Registry, Tenant
from tenants.config.schema import DatabaseBlock, OAuthBlock, RoutesFile
from tenants.config.secrets import (
    SecretError,
    read_environment_reference,
    read_secret_file,
    require_jwt_strength,
    resolve_path,
)


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}" if self.path else f"{self.file}: {self.message}"


@dataclass
class LoadResult:
    registry: Registry | None
    problems: list[ConfigProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class LoadOptions:
    config_dir: Path
    base_dir: Path
    var_dir: Path
    tenant_database_url: str = ""
    tune_database: DatabaseTuner | None = None  # the site's engine options
    # Config sections of other apps: each returns its extensions of the tenant.
    sections: tuple[ConfigSection, ...] = ()


# A Django DATABASES entry in, the same entry with the site's engine options out.
DatabaseTuner = Callable[[dict[str, Any]], dict[str, Any]]
# (tenant, options, problems) -> the extensions a section adds (None: nothing).
ConfigSection = Callable[[Tenant, LoadOptions, list[ConfigProblem]], Mapping[str, Any] | None]


def load_config(options: LoadOptions) -> LoadResult:
    routes_dir = options.config_dir / "routes"
    problems: list[ConfigProblem] = []
    if not routes_dir.is_dir():
        problems.append(ConfigProblem(str(routes_dir), "", "the routes directory does not exist"))
        return LoadResult(None, problems)

    tenants: list[Tenant] = []
    for path in sorted([*routes_dir.glob("*.yaml"), *routes_dir.glob("*.yml")]):
        label = f"routes/{path.name}"
        tenant = _load_tenant(path, label, options, problems)
        if tenant is not None:
            tenants.append(tenant)
    if not tenants and not problems:
        problems.append(ConfigProblem("routes/", "", "no tenant is declared (no *.yaml file)"))

    _check_unique_apps(tenants, problems)
    _check_unique_hosts(tenants, problems)
    if problems:
        return LoadResult(None, problems)
    tenants = [_with_sections(tenant, options, problems) for tenant in tenants]
    forget_unused_documents()
    if problems:
        return LoadResult(None, problems)
    return LoadResult(Registry.of(tenants), [])


def _load_tenant(
    path: Path, label: str, options: LoadOptions, problems: list[ConfigProblem]
) -> Tenant | None:
    data = read_yaml(path, label, problems)
    if data is None:
        return None
    before = len(problems)
    model = validate_model(RoutesFile, data, label, problems)
    if model is None:
        return None
    if model.app != path.stem:
        problems.append(
            ConfigProblem(label, "app", f"{model.app!r} does not match the file name {path.stem!r}")
        )

    jwt_secret = _jwt_secret(model, label, options, problems)
    database = _database(model, label, options, problems)
    oauth = _oauth(model.auth.oauth, label, options, problems)
    if len(problems) > before:
        return None

    email_rate = parse_rate(model.auth.rate_limit.login_per_email)
    ip_rate = parse_rate(model.auth.rate_limit.login_per_ip)
    return Tenant(
        app=model.app,
        version=model.version,
        base_path=model.base_path,
        hosts=tuple(model.hosts),
        source=path,
        db_alias=f"tenant_{model.app}",
        database=MappingProxyType(database),
        jwt_secret=jwt_secret,
        jwt_expiry=parse_duration(model.auth.jwt_expiry),
        refresh_expiry=parse_duration(model.auth.refresh_expiry),
        password_reset_expiry=parse_duration(model.auth.password_reset_expiry),
        password_reset_url=model.auth.password_reset_url or "",
        verify_email=model.auth.verify_email,
        verify_email_expiry=parse_duration(model.auth.verify_email_expiry),
        verify_email_url=model.auth.verify_email_url or "",
        login_includes=tuple(model.auth.login_includes),
        login_rate_per_email=RateLimit(*email_rate),
        login_rate_per_ip=RateLimit(*ip_rate),
        legacy_tokens_until=legacy_tokens_end(model.auth.legacy_tokens_until),
        password_hash=model.auth.password_hash,
        bcrypt_cost=model.auth.bcrypt_cost,
        log_retention_days=model.logs.retention_days,
        schema_public=model.schema_public,
        admin_read_only=model.admin_read_only,
        raw=MappingProxyType(model.model_dump(by_alias=True)),
        api_limits=_api_limits(model),
        roles=tuple(model.roles),
        oauth=oauth,
    )


def _api_limits(model: RoutesFile) -> ApiLimits:
    api = model.rate_limit.api

    def rate(value: str | None) -> RateLimit | None:
        return RateLimit(*parse_rate(value)) if value is not None else None

    operations: dict[str, RateLimit] = {
        operation: RateLimit(*parse_rate(value)) for operation, value in api.operations.items()
    }
    return ApiLimits(rate(api.per_ip), rate(api.per_user), MappingProxyType(operations))


def _oauth(
    block: OAuthBlock | None, label: str, options: LoadOptions, problems: list[ConfigProblem]
) -> OAuthSettings | None:
    """The providers with their secrets read (each unreadable one is a problem)."""
    if block is None:
        return None
    providers: dict[str, OAuthProvider] = {}
    for name, provider in block.providers.items():
        key = f"auth.oauth.providers.{name}"
        reference, secret_file = provider.client_secret, provider.client_secret_file
        if reference:
            secret = secret_or_problem(
                lambda ref=reference: read_environment_reference(ref), label, f"{key}.client_secret", problems
            )
        else:
            secret = secret_or_problem(
                lambda path=secret_file: read_secret_file(path, options.base_dir),
                label,
                f"{key}.client_secret_file",
                problems,
            )
        providers[name] = OAuthProvider(
            name=name,
            kind=provider.kind or ("oidc" if provider.issuer else name),
            client_id=provider.client_id,
            client_secret=secret or "",
            issuer=(provider.issuer or "").rstrip("/"),
            scopes=tuple(provider.scopes or ()),
            authorize_url=provider.authorize_url or "",
            token_url=provider.token_url or "",
            userinfo_url=provider.userinfo_url or "",
        )
    return OAuthSettings(redirect_uris=tuple(block.redirect_uris), providers=MappingProxyType(providers))


def legacy_tokens_end(value: date | datetime | None) -> datetime | None:
    """The moment Go-era tokens stop working: a date means the end of that day (UTC), a
    moment without a zone is UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.combine(value + timedelta(days=1), time.min, tzinfo=UTC)


def _with_sections(tenant: Tenant, options: LoadOptions, problems: list[ConfigProblem]) -> Tenant:
    extensions: dict[str, Any] = {}
    for section in options.sections:
        # each section sees what the ones before it added (push rules need the resources)
        so_far = dataclasses.replace(tenant, extensions=MappingProxyType(dict(extensions)))
        extensions.update(section(so_far, options, problems) or {})
    return dataclasses.replace(tenant, extensions=MappingProxyType(extensions))


# libyaml's parser with PyYAML's safe constructor: the same documents and errors, parsed
# several times faster, which a start with a thousand tenants' files needs.
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The documents of the last load by the SHA-256 of their bytes, pickled: a file that did
# not change since (a reload), or that many tenants share (copies of one app's schema), is
# parsed once. Unpickling gives each caller its own copy, ten times faster than parsing.
_parsed: dict[bytes, bytes] = {}
_parsed_used: set[bytes] = set()


def forget_unused_documents() -> None:
    """Keep only the documents the last load read (called at the end of each load)."""
    for key in set(_parsed) - _parsed_used:
        del _parsed[key]
    _parsed_used.clear()


def _parse(raw: bytes) -> Any:
    key = hashlib.sha256(raw).digest()
    _parsed_used.add(key)
    cached = _parsed.get(key)
    if cached is not None:
        return pickle.loads(cached)  # noqa: S301  (pickled by this process from a parsed document)
    data = yaml.load(raw.decode("utf-8"), Loader=SAFE_LOADER)  # noqa: S506  (a safe loader)
    _parsed[key] = pickle.dumps(data)
    return data


def read_yaml(path: Path, label: str, problems: list[ConfigProblem]) -> dict | None:
    """A YAML mapping, or None with the problem recorded (config sections use it too)."""
    try:
        data = _parse(path.read_bytes())
    except UnicodeDecodeError:
        problems.append(ConfigProblem(label, "", "is not UTF-8 text"))
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        problems.append(ConfigProblem(label, where, f"invalid YAML: {reason}"))
        return None
    except OSError as exc:
        problems.append(ConfigProblem(label, "", f"cannot be read: {exc.strerror}"))
        return None
    if not isinstance(data, dict):
        problems.append(ConfigProblem(label, "", "the file must hold a mapping of keys"))
        return None
    return data


def validate_model(model: type[BaseModel], data: dict, label: str, problems: list[ConfigProblem]) -> Any:
    """The pydantic model of the data, or None with each error recorded by key path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            problems.append(ConfigProblem(label, _key_path(error["loc"]), _explain(model, error)))
        return None


def _key_path(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item.startswith("function-after") or item in {"str", "int"}:
            continue  # pydantic's names for union members and validators, not keys
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts)


def _explain(model: type[BaseModel], error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key" + _suggestion(model, error["loc"])
    if kind == "missing":
        return "is required"
    message = error["msg"].removeprefix("Value error, ")
    if kind in {"value_error", "assertion_error"}:
        return message
    value = error.get("input")
    shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    return f"{shown}: {message[:1].lower()}{message[1:]}"


def _suggestion(model: type[BaseModel], loc: tuple) -> str:
    """`did you mean 'jwt_expiry'?` for a typo, by walking the model to the parent key."""
    current: Any = model
    for item in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if isinstance(item, int) or not fields or item not in fields:
            continue  # a list index or a mapping key (a table name): same model below it
        current = _model_of(fields[item].annotation)
    if current is None:
        return ""
    names = [info.alias or name for name, info in current.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def secret_or_problem(
    read: Callable[..., str], label: str, path: str, problems: list[ConfigProblem]
) -> str | None:
    """The secret that `read()` returns, or None with the problem recorded at `path`.

    `read` is called without arguments; `...` lets a lambda bind a loop variable as a default.
    """
    try:
        return read()
    except SecretError as exc:
        problems.append(ConfigProblem(label, path, str(exc)))
        return None


def _jwt_secret(model: RoutesFile, label: str, options: LoadOptions, problems: list[ConfigProblem]) -> str:
    auth = model.auth
    if auth.jwt_secret_file and auth.jwt_secret:
        problems.append(ConfigProblem(label, "auth", "set jwt_secret_file or jwt_secret, not both"))
        return ""
    reference, secret_file = auth.jwt_secret, auth.jwt_secret_file
    read: Callable[[], str]
    if reference:
        key, read = "auth.jwt_secret", lambda: read_environment_reference(reference)
    elif secret_file:
        key, read = "auth.jwt_secret_file", lambda: read_secret_file(secret_file, options.base_dir)
    else:
        problems.append(
            ConfigProblem(label, "auth.jwt_secret_file", "is required (or jwt_secret: env:VARIABLE)")
        )
        return ""
    return secret_or_problem(lambda: require_jwt_strength(read()), label, key, problems) or ""


def _database(
    model: RoutesFile, label: str, options: LoadOptions, problems: list[ConfigProblem]
) -> dict[str, Any]:
    block = model.database
    tune = options.tune_database or _as_is
    config: dict[str, Any]
    if block is None:
        if options.tenant_database_url:
            shared = options.tenant_database_url.replace("{app}", model.app)
            config = dict(dj_database_url.parse(shared))
            config.pop("CONN_MAX_AGE", None)  # the site's default applies
            return tune(config)
        path = options.var_dir / "db" / f"{model.app}.sqlite3"
        return tune({"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)})
    url = _database_url(block, model.app, label, options, problems)
    if url is None:
        return {}
    try:
        config = dict(dj_database_url.parse(url))
    except ValueError as exc:
        problems.append(ConfigProblem(label, "database.url", f"not a database URL: {exc}"))
        return {}
    if block.conn_max_age is None:
        config.pop("CONN_MAX_AGE", None)  # the site's default applies
    else:
        config["CONN_MAX_AGE"] = block.conn_max_age
    if config["ENGINE"].endswith("sqlite3"):
        config["NAME"] = str(resolve_path(config["NAME"], options.base_dir))
    return tune(config)


def _as_is(config: dict[str, Any]) -> dict[str, Any]:
    return config


def _database_url(
    block: DatabaseBlock, app: str, label: str, options: LoadOptions, problems: list[ConfigProblem]
) -> str | None:
    url, password_file = block.url, block.password_file
    if url:
        if block.host or block.name or block.user or password_file:
            problems.append(ConfigProblem(label, "database", "give url, or host/port/user/name, not both"))
            return None
        if url.startswith("env:"):
            return secret_or_problem(lambda: read_environment_reference(url), label, "database.url", problems)
        return url
    if block.engine == "sqlite":
        name = block.name or str(options.var_dir / "db" / f"{app}.sqlite3")
        return "sqlite:///" + str(resolve_path(name, options.base_dir))
    if not block.name:
        problems.append(ConfigProblem(label, "database.name", "is required"))
        return None
    password = ""
    if password_file:
        secret = secret_or_problem(
            lambda: read_secret_file(password_file, options.base_dir, allow_empty=True),
            label,
            "database.password_file",
            problems,
        )
        if secret is None:
            return None
        password = secret
    credentials = quote(block.user or "root", safe="")
    if password:
        credentials += ":" + quote(password, safe="")
    host = block.host or "127.0.0.1"
    port = block.port or 3306
    return f"mysql://{credentials}@{host}:{port}/{block.name}"


def _check_unique_apps(tenants: list[Tenant], problems: list[ConfigProblem]) -> None:
    first: dict[str, Tenant] = {}
    for tenant in tenants:
        seen = first.setdefault(tenant.app, tenant)
        if seen is not tenant:
            problems.append(
                ConfigProblem(
                    f"routes/{tenant.source.name}",
                    "app",
                    f"{tenant.app!r} is already declared in routes/{seen.source.name}",
                )
            )


def _check_unique_hosts(tenants: list[Tenant], problems: list[ConfigProblem]) -> None:
    owner: dict[str, Tenant] = {}
    for tenant in tenants:
        for index, host in enumerate(tenant.hosts):
            first = owner.setdefault(host, tenant)
            if first is not tenant:
                problems.append(
                    ConfigProblem(
                        f"routes/{tenant.source.name}",
                        f"hosts[{index}]",
                        f"{host!r} is already claimed by routes/{first.source.name}",
                    )
                )
