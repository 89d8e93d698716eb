"""The one description of a CRUD resource, whichever front-end declared it.

Schema YAML (`config/schema/<app>.yaml`) and v1 query YAML (`config/queries/<app>/`)
both compile to `Resource`; the runtime (models, serializers, views) reads only this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Tables of the platform itself in a tenant database (e.g. the pending mail): no schema may
# declare one, and the schema tools leave them alone.
PLATFORM_TABLE_PREFIX = "sogoms_"

OPERATIONS = ("list", "show", "create", "update", "delete")
MISSING = object()


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str  # a name of the field-type registry (crud.fieldtypes)
    primary: bool = False
    auto: bool = False
    unique: bool = False
    required: bool = False
    default: Any = MISSING
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    choices: tuple = ()
    pattern: str | None = None
    max_digits: int = 12
    decimal_places: int = 2
    foreign: tuple[str, str] | None = None  # (table, column)
    foreign_where: Any = None  # an access rule (crud.access) the referenced row must pass
    on_delete: str = "cascade"
    owner: bool = False
    auth: str | None = None
    hidden: bool = False
    readonly: bool = False
    searchable: bool = False
    index: bool = False
    timestamp: str | None = None  # "created" / "updated": set by the server
    # access rules of the column (crud.access): who may read it, who may write it; None: all
    # who may read or write the row
    read: Any = None
    write: Any = None

    @property
    def nullable(self) -> bool:
        return not self.required and self.default is MISSING and not self.primary and not self.owner

    @property
    def writable(self) -> bool:
        # the owner comes from the token, unless a `write:` rule lets some callers set it
        # (an admin issuing an invoice for a customer); the others are refused by name
        owner_from_token = self.owner and self.write is None
        return not (
            self.primary or self.auto or self.readonly or owner_from_token or self.hidden or self.timestamp
        )

    @property
    def visible(self) -> bool:
        return not self.hidden


@dataclass(frozen=True)
class Notification:
    """An e-mail sent when a row is created or changed: `notify` of a schema table."""

    after: str  # create or update
    template: str  # a template of config/emails/<app>/
    to: str  # "owner" (the row's owner) or "role:<name>": every active user with that role
    fields: tuple[str, ...] = ()  # on update: only when one of these changed (empty: any)


@dataclass(frozen=True)
class LinkSpec:
    """A many-to-many relation through a link table: `tasks.tags` through `task_tags`."""

    name: str
    through: str  # link table
    source_column: str  # link column pointing at this table
    target: str  # target table
    target_column: str  # link column pointing at the target


@dataclass(frozen=True)
class Resource:
    app: str
    name: str  # the route segment and the table name
    fields: tuple[FieldSpec, ...]
    operations: frozenset[str]
    source: str  # "schema" or "queries"
    indexes: tuple[tuple[str, ...], ...] = ()
    unique_together: tuple[tuple[str, ...], ...] = ()
    named_filters: dict = field(default_factory=dict)  # name -> {field: {op: value}}
    links: tuple[LinkSpec, ...] = ()
    notifications: tuple[Notification, ...] = ()
    default_sort: tuple[str, ...] = ()
    # v1 query YAML: SQL per operation and role filters (SQL fragments with :placeholders)
    sql: dict = field(default_factory=dict)  # "list"/"show" -> SELECT
    role_filters: dict = field(default_factory=dict)  # op -> {role: fragment}
    order: str = ""
    writable_by_op: dict = field(default_factory=dict)  # v1: op -> tuple of field names
    # v1: the rows a list without `page` answers at most (Go answered every row)
    max_rows: int = 10_000
    # v1: column -> (table, column), read from the database's own foreign-key constraints
    references: dict = field(default_factory=dict)
    # schema: rule name (list, view, create, update, delete) -> crud.access Rule; a name
    # left out has the default rule (crud.access.rules)
    access: dict = field(default_factory=dict)

    def field(self, name: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    def declared_field(self, name: str) -> FieldSpec:
        """The field `name`, already checked to be one (a parsed query, a loaded config)."""
        spec = self.field(name)
        if spec is None:
            raise KeyError(f"{self.name} has no field {name!r}")
        return spec

    @property
    def primary(self) -> FieldSpec:
        return next(spec for spec in self.fields if spec.primary)

    @property
    def owner_field(self) -> FieldSpec | None:
        return next((spec for spec in self.fields if spec.owner), None)

    @property
    def visible_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if spec.visible)

    @property
    def search_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if spec.searchable and spec.visible)

    def allows(self, operation: str) -> bool:
        return operation in self.operations
