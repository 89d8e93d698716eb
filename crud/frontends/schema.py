"""Front-end 1: `config/schema/<app>.yaml` (tables, fields, relations) to Resources.

The file's shape is checked by pydantic; the relations between tables (foreign keys,
owner columns, links, indexes, named filters) are checked here, each problem with its
key path.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crud.access.check import checked_rule
from crud.access.rules import RULE_OPERATIONS
from crud.fieldtypes import all_types, field_type, find
from crud.fieldtypes import names as type_names
from crud.params import FILTER_OPERATORS
from crud.resource import MISSING, OPERATIONS, FieldSpec, LinkSpec, Notification, Resource

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ON_DELETE = ("cascade", "restrict", "set_null", "protect")
BUILTIN_USER_FIELDS = (
    "id",
    "email",
    "password",
    "name",
    "role",
    "is_active",
    "created_at",
    "updated_at",
    "email_verified_at",
)

Problem = Callable[[str, str], None]  # (key path, message): records a config problem


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldBlock(Strict):
    type: str  # a name of the field-type registry, checked when the file is read
    primary: bool = False
    auto: bool = False
    unique: bool = False
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = Field(default=None, ge=1, le=65535)
    choices: list[Any] | None = None
    pattern: str | None = None
    max_digits: int = Field(default=12, ge=1, le=65)
    decimal_places: int = Field(default=2, ge=0, le=30)
    foreign: str | None = None
    on_delete: Literal[ON_DELETE] = "cascade"  # type: ignore[valid-type]
    filter: Literal["owner"] | None = None
    auth: Literal["login", "password"] | None = None
    hidden: bool = False
    readonly: bool = False
    searchable: bool = False
    index: bool = False
    # a foreign key may only point at rows of the target that pass this rule (beside its view)
    foreign_where: str | None = None
    read: str | None = None  # an access rule naming the caller only: who sees the column
    write: str | None = None  # the same for writing it

    @field_validator("type")
    @classmethod
    def _registered_type(cls, value: str) -> str:
        # checked against the registry at load time, not a Literal fixed at import, so a
        # type registered later (a plugin, a test) is a type like the built-in ones
        if find(value) is None:
            raise ValueError(f"{value!r} is not a field type; the types are {', '.join(type_names())}")
        return value


class LinkBlock(Strict):
    through: str
    target: str


class NotifyBlock(Strict):
    after: Literal["create", "update"]  # (not `on`: YAML 1.1 reads a bare `on` as true)
    template: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    to: str = "owner"  # owner, or role(<name>)
    fields: list[str] = Field(default_factory=list)


ROLE_RECIPIENT = re.compile(r"^role\(\s*([a-z][a-z0-9_]{0,31})\s*\)$")


class TableBlock(Strict):
    fields: dict[str, FieldBlock] = Field(min_length=1)
    crud: list[Literal[OPERATIONS]] = Field(default_factory=list)  # type: ignore[valid-type]
    timestamps: bool = True
    search: list[str] = Field(default_factory=list)
    sort: list[str] = Field(default_factory=list)
    indexes: list[list[str]] = Field(default_factory=list)
    unique: list[list[str]] = Field(default_factory=list)
    filters: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    links: dict[str, LinkBlock] = Field(default_factory=dict)
    notify: list[NotifyBlock] = Field(default_factory=list)
    access: dict[Literal[RULE_OPERATIONS], str] = Field(default_factory=dict)  # type: ignore[valid-type]


class SchemaFile(Strict):
    tables: dict[str, TableBlock] = Field(min_length=1)


def compile_schema(
    app: str, schema: SchemaFile, problem: Problem, roles: tuple[str, ...] = ("default", "admin")
) -> dict[str, Resource]:
    """Resources of a schema; `problem(path, message)` records what is wrong; `roles` are the
    tenant's, which access rules may name."""
    tables = schema.tables
    resources: dict[str, Resource] = {}
    for table, block in tables.items():
        where = f"tables.{table}"
        if not IDENTIFIER.match(table):
            problem(where, f"{table!r} is not a table name (lower-case letters, digits, _)")
            continue
        fields = _compile_fields(table, block, tables, problem)
        if fields is None:
            continue
        fields = _with_field_rules(where, block, fields, roles, problem)
        access = _table_rules(where, block, fields, roles, problem)
        names = {spec.name for spec in fields}
        _check_field_lists(where, block, names, problem)
        for filter_name, conditions in block.filters.items():
            for field_name, operations in conditions.items():
                if field_name not in names:
                    problem(f"{where}.filters.{filter_name}.{field_name}", "is not a field of this table")
                for op in operations:
                    if op not in FILTER_OPERATORS:
                        problem(
                            f"{where}.filters.{filter_name}.{field_name}.{op}", "is not a filter operator"
                        )
        links = tuple(_compile_link(table, name, link, tables, problem) for name, link in block.links.items())
        resources[table] = Resource(
            app=app,
            name=table,
            fields=fields,
            operations=frozenset(block.crud),
            source="schema",
            indexes=tuple(tuple(index) for index in block.indexes),
            unique_together=tuple(tuple(group) for group in block.unique),
            named_filters={name: dict(conditions) for name, conditions in block.filters.items()},
            links=tuple(link for link in links if link is not None),
            notifications=_compile_notify(where, block, fields, problem),
            default_sort=tuple(block.sort),
            access=access,
        )
    if "users" in tables:
        _check_users_table(tables["users"], problem)
    return _with_reference_rules(tables, resources, roles, problem)


def _with_reference_rules(
    tables: dict[str, TableBlock],
    resources: dict[str, Resource],
    roles: tuple[str, ...],
    problem: Problem,
) -> dict[str, Resource]:
    """`foreign_where` of each foreign key, checked against the table it points at."""
    for table, resource in list(resources.items()):
        changed = []
        for spec in resource.fields:
            raw = tables[table].fields.get(spec.name)
            text = raw.foreign_where if raw is not None else None
            if text is None:
                changed.append(spec)
                continue
            key = f"tables.{table}.fields.{spec.name}.foreign_where"
            target = resources.get(spec.foreign[0]) if spec.foreign else None
            if target is None:
                problem(key, "needs a foreign key to a table of this schema")
                changed.append(spec)
                continue
            rule = checked_rule(text, key, target.fields, roles, problem)
            changed.append(dataclasses.replace(spec, foreign_where=rule))
        resources[table] = dataclasses.replace(resource, fields=tuple(changed))
    return resources


def _compile_notify(
    where: str, block: TableBlock, fields: tuple[FieldSpec, ...], problem: Problem
) -> tuple[Notification, ...]:
    names = {spec.name for spec in fields}
    has_owner = any(spec.owner for spec in fields)
    notifications = []
    for index, item in enumerate(block.notify):
        at = f"{where}.notify[{index}]"
        role = ROLE_RECIPIENT.match(item.to)
        if item.to == "owner":
            if not has_owner:
                problem(f"{at}.to", "this table has no owner field (filter: owner) to write to")
                continue
            recipient = "owner"
        elif role:
            recipient = f"role:{role[1]}"
        else:
            problem(f"{at}.to", f"{item.to!r} is not a recipient: owner, or role(<name>)")
            continue
        unknown = [name for name in item.fields if name not in names]
        if unknown:
            problem(f"{at}.fields", f"not fields of this table: {', '.join(unknown)}")
            continue
        if item.fields and item.after != "update":
            problem(f"{at}.fields", "only an update changes fields")
            continue
        notifications.append(Notification(item.after, item.template, recipient, tuple(item.fields)))
    return tuple(notifications)


def _compile_fields(
    table: str, block: TableBlock, tables: dict[str, TableBlock], problem: Problem
) -> tuple[FieldSpec, ...] | None:
    specs = []
    for name, raw in block.fields.items():
        where = f"tables.{table}.fields.{name}"
        if not IDENTIFIER.match(name):
            problem(where, f"{name!r} is not a field name")
            continue
        spec = _field_spec(name, raw, block, where, tables, problem)
        if spec is not None:
            specs.append(spec)
    primaries = [spec for spec in specs if spec.primary]
    if len(primaries) != 1:
        problem(f"tables.{table}.fields", f"needs exactly one primary field, has {len(primaries)}")
        return None
    if sum(spec.owner for spec in specs) > 1:
        problem(f"tables.{table}.fields", "has more than one `filter: owner` field")
    if block.timestamps:
        present = {spec.name for spec in specs}
        for name, kind in (("created_at", "created"), ("updated_at", "updated")):
            if name not in present:
                specs.append(FieldSpec(name=name, type="datetime", readonly=True, timestamp=kind))
    return tuple(specs)


def _field_spec(
    name: str,
    raw: FieldBlock,
    block: TableBlock,
    where: str,
    tables: dict[str, TableBlock],
    problem: Problem,
) -> FieldSpec | None:
    foreign = None
    if raw.foreign:
        target_table, _, target_field = raw.foreign.partition(".")
        target = tables.get(target_table)
        if target is None or target_field not in target.fields:
            problem(f"{where}.foreign", f"{raw.foreign!r} names no table.field of this schema")
            return None
        target_spec = target.fields[target_field]
        if not (target_spec.primary or target_spec.unique):
            problem(f"{where}.foreign", f"{raw.foreign!r} is neither primary nor unique")
            return None
        foreign = (target_table, target_field)
    if raw.filter == "owner" and (foreign is None or foreign[0] != "users"):
        problem(f"{where}.filter", "an owner field must be `foreign: users.id`")
        return None
    kind = field_type(raw.type)
    if raw.max_length is not None and not kind.takes_max_length:
        sized = " or ".join(t.name for t in all_types() if t.takes_max_length)
        problem(f"{where}.max_length", f"applies to type {sized}, not {raw.type}")
    if raw.pattern is not None:
        try:
            re.compile(raw.pattern)
        except re.error as exc:
            problem(f"{where}.pattern", f"is not a regular expression: {exc}")
    if raw.auto and not kind.can_be_auto:
        counters = " and ".join(t.name for t in all_types() if t.can_be_auto)
        problem(f"{where}.auto", f"only {counters} fields can be auto")
    if raw.on_delete == "set_null" and raw.required:
        problem(f"{where}.on_delete", "set_null needs a field that is not required")
    return FieldSpec(
        name=name,
        type=raw.type,
        primary=raw.primary,
        auto=raw.auto,
        unique=raw.unique,
        required=raw.required,
        default=MISSING if raw.default is None else raw.default,
        min=raw.min,
        max=raw.max,
        max_length=raw.max_length if kind.takes_max_length else None,
        choices=tuple(raw.choices or ()),
        pattern=raw.pattern,
        max_digits=raw.max_digits,
        decimal_places=raw.decimal_places,
        foreign=foreign,
        on_delete=raw.on_delete,
        owner=raw.filter == "owner",
        auth=raw.auth,
        hidden=raw.hidden or raw.auth == "password",
        readonly=raw.readonly,
        searchable=raw.searchable or name in block.search,
        index=raw.index,
    )


def _with_field_rules(
    where: str, block: TableBlock, fields: tuple[FieldSpec, ...], roles: tuple[str, ...], problem: Problem
) -> tuple[FieldSpec, ...]:
    """The fields with their `read:` / `write:` rules, checked (they name the caller only)."""
    specs = []
    for spec in fields:
        raw = block.fields.get(spec.name)
        if raw is None or (raw.read is None and raw.write is None):
            specs.append(spec)
            continue
        key = f"{where}.fields.{spec.name}"
        read = (
            checked_rule(raw.read, f"{key}.read", fields, roles, problem, caller_only=True)
            if raw.read
            else None
        )
        write = (
            checked_rule(raw.write, f"{key}.write", fields, roles, problem, caller_only=True)
            if raw.write
            else None
        )
        specs.append(dataclasses.replace(spec, read=read, write=write))
    return tuple(specs)


def _table_rules(
    where: str, block: TableBlock, fields: tuple[FieldSpec, ...], roles: tuple[str, ...], problem: Problem
) -> dict:
    rules = {}
    for operation, text in block.access.items():
        rule = checked_rule(text, f"{where}.access.{operation}", fields, roles, problem)
        if rule is not None:
            rules[operation] = rule
    return rules


def _check_field_lists(where: str, block: TableBlock, names: set[str], problem: Problem) -> None:
    for index, name in enumerate(block.search):
        if name not in names:
            problem(f"{where}.search[{index}]", f"{name!r} is not a field of this table")
    for index, name in enumerate(block.sort):
        if name.lstrip("-") not in names:
            problem(f"{where}.sort[{index}]", f"{name!r} is not a field of this table")
    for key in ("indexes", "unique"):
        for index, group in enumerate(getattr(block, key)):
            for name in group:
                if name not in names:
                    problem(f"{where}.{key}[{index}]", f"{name!r} is not a field of this table")


def _compile_link(
    table: str, name: str, link: LinkBlock, tables: dict[str, TableBlock], problem: Problem
) -> LinkSpec | None:
    where = f"tables.{table}.links.{name}"
    through = tables.get(link.through)
    if through is None:
        problem(f"{where}.through", f"{link.through!r} is not a table of this schema")
        return None
    if link.target not in tables:
        problem(f"{where}.target", f"{link.target!r} is not a table of this schema")
        return None
    columns = {f.foreign.split(".")[0]: col for col, f in through.fields.items() if f.foreign}
    if table not in columns or link.target not in columns:
        problem(where, f"{link.through!r} needs foreign keys to both {table!r} and {link.target!r}")
        return None
    return LinkSpec(name, link.through, columns[table], link.target, columns[link.target])


def _check_users_table(block: TableBlock, problem: Problem) -> None:
    fields = block.fields
    if "email" not in fields or fields["email"].auth != "login":
        problem("tables.users.fields.email", "the users table needs `email` with `auth: login`")
    if "password" not in fields or fields["password"].auth != "password":
        problem("tables.users.fields.password", "the users table needs `password` with `auth: password`")
    if "id" not in fields or not fields["id"].primary:
        problem("tables.users.fields.id", "the users table needs the primary key `id`")
