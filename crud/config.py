"""The crud config section: a tenant's resources from schema YAML and v1 query YAML.

Runs inside the one config loader (tenants.config), so resource problems are reported
with the routes problems, by file and key path, and a bad resource stops the start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crud.frontends.queries import AuthQueries, QueryFile, compile_login_lists, compile_queries
from crud.frontends.schema import BUILTIN_USER_FIELDS, IDENTIFIER, SchemaFile, compile_schema
from crud.resource import PLATFORM_TABLE_PREFIX, Resource
from tenants.config import Tenant
from tenants.config.loader import ConfigProblem, LoadOptions, read_yaml, validate_model

RESERVED_NAMES = ("auth", "_schema", "_openapi", "_docs", "_mail", "_cron", "_push", "_users", "ws")


def load_resources(tenant: Tenant, options: LoadOptions, problems: list[ConfigProblem]) -> dict[str, Any]:
    resources: dict[str, Resource] = {}
    schema_path = _first(options.config_dir / "schema", tenant.app)
    if schema_path is not None:
        resources.update(_schema_resources(tenant.app, schema_path, problems, tenant.roles))
    queries_dir = options.config_dir / "queries" / tenant.app
    login_data: dict[str, Resource | str] = {}
    if queries_dir.is_dir():
        for path in sorted([*queries_dir.glob("*.yaml"), *queries_dir.glob("*.yml")]):
            if path.stem == "auth":
                login_data = _auth_queries(tenant.app, path, problems)
                continue
            label = f"queries/{tenant.app}/{path.name}"
            resource = _query_resource(tenant.app, path, label, problems)
            if resource is None:
                continue
            if resource.name in resources:
                problems.append(ConfigProblem(label, "", f"{resource.name!r} is also declared in the schema"))
                continue
            resources[resource.name] = resource
    _check_recipients(tenant, resources, problems)
    login_lists = _login_lists(tenant, resources, login_data, problems)
    return {"resources": resources, "login_lists": login_lists}


def _first(directory: Path, app: str) -> Path | None:
    for suffix in (".yaml", ".yml"):
        if (directory / f"{app}{suffix}").is_file():
            return directory / f"{app}{suffix}"
    return None


def _schema_resources(
    app: str, path: Path, problems: list[ConfigProblem], roles: tuple[str, ...]
) -> dict[str, Resource]:
    label = f"schema/{path.name}"
    data = read_yaml(path, label, problems)
    if data is None:
        return {}
    schema = validate_model(SchemaFile, data, label, problems)
    if schema is None:
        return {}
    before = len(problems)

    def problem(key: str, message: str) -> None:
        problems.append(ConfigProblem(label, key, message))

    resources = compile_schema(app, schema, problem, roles)
    users = schema.tables.get("users")
    if users is not None:
        for name in users.fields:
            if name not in BUILTIN_USER_FIELDS:
                problem(
                    f"tables.users.fields.{name}",
                    "users has the built-in columns "
                    f"({', '.join(BUILTIN_USER_FIELDS)}); other columns are not supported",
                )
    for name in resources:
        if name in RESERVED_NAMES:
            problem(f"tables.{name}", f"{name!r} is a reserved route name")
        elif name.startswith(PLATFORM_TABLE_PREFIX):
            problem(
                f"tables.{name}",
                f"names starting with {PLATFORM_TABLE_PREFIX!r} are the platform's own tables",
            )
    return resources if len(problems) == before else {}


def _query_resource(app: str, path: Path, label: str, problems: list[ConfigProblem]) -> Resource | None:
    if not IDENTIFIER.match(path.stem) or path.stem in RESERVED_NAMES:
        problems.append(ConfigProblem(label, "", f"{path.stem!r} is not a usable resource name"))
        return None
    data = read_yaml(path, label, problems)
    if data is None:
        return None
    spec = validate_model(QueryFile, data, label, problems)
    if spec is None:
        return None
    before = len(problems)

    def problem(key: str, message: str) -> None:
        problems.append(ConfigProblem(label, key, message))

    resource = compile_queries(app, path.stem, spec, problem)
    return resource if len(problems) == before else None


def _check_recipients(tenant: Tenant, resources: dict[str, Resource], problems: list[ConfigProblem]) -> None:
    """`notify` to a role: the role must be one of the tenant's."""
    for resource in resources.values():
        for index, notification in enumerate(resource.notifications):
            role = notification.to.removeprefix("role:")
            if notification.to != "owner" and role not in tenant.roles:
                problems.append(
                    ConfigProblem(
                        f"schema/{tenant.app}.yaml",
                        f"tables.{resource.name}.notify[{index}].to",
                        f"{role!r} is not a role of {tenant.app} ({', '.join(tenant.roles)})",
                    )
                )


def _auth_queries(app: str, path: Path, problems: list[ConfigProblem]) -> dict[str, Resource | str]:
    label = f"queries/{app}/{path.name}"
    data = read_yaml(path, label, problems)
    spec = validate_model(AuthQueries, data, label, problems) if data is not None else None
    if spec is None:
        return {}

    def problem(key: str, message: str) -> None:
        problems.append(ConfigProblem(label, key, message))

    return compile_login_lists(app, spec, problem)


def _login_lists(
    tenant: Tenant,
    resources: dict[str, Resource],
    login_data: dict[str, Resource | str],
    problems: list[ConfigProblem],
) -> dict[str, Resource]:
    """The lists of the login answer: `auth.login_includes` of the routes, then the
    `login_data` of the Go system's auth.yaml; a name given twice is a problem."""
    lists: dict[str, Resource] = {}
    named: list[tuple[str, str, str, Resource | str]] = [
        (f"routes/{tenant.source.name}", f"auth.login_includes[{index}]", name, name)
        for index, name in enumerate(tenant.login_includes)
    ]
    auth_file = f"queries/{tenant.app}/auth.yaml"
    named += [(auth_file, f"login_data.{name}", name, entry) for name, entry in login_data.items()]
    for label, key, name, entry in named:
        resource = resources.get(entry) if isinstance(entry, str) else entry
        if name in lists:
            problems.append(ConfigProblem(label, key, f"the login answer already has a list {name!r}"))
        elif resource is None or not resource.allows("list"):
            problems.append(
                ConfigProblem(label, key, f"{name!r} is not a resource of {tenant.app} with a list operation")
            )
        else:
            lists[name] = resource
    return lists


def login_lists_of(tenant: Tenant) -> dict[str, Resource]:
    """name -> the resource whose list (for the signed-in user) the login answer carries."""
    return tenant.extensions.get("login_lists", {})


def resources_of(tenant: Tenant) -> dict[str, Resource]:
    return tenant.extensions.get("resources", {})
