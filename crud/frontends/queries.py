"""Front-end 2: SOGOMS v1 query YAML, `config/queries/<app>/<resource>.yaml`, to Resources.

list/show carry SQL, role filters and order; create/update/delete carry a table, fields
and role filters. Placeholders (`:user_id`, `:id`, `:<request parameter>`) are checked
here: one that can never have a value is a config problem, not a 500 later.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from crud.frontends.schema import IDENTIFIER, Problem, Strict
from crud.resource import Resource
from crud.sql import placeholders

ROLE_NAMES = ("default", "admin")
DEFAULT_MAX_ROWS = 10_000


class RoleFilters(Strict):
    default: str
    admin: str | None = None


class ReadBlock(Strict):
    query: str
    filters: RoleFilters
    order: str = ""


class ListBlock(ReadBlock):
    # a list asked without `page`/`per_page` answers every row, as Go did, up to this many
    max_rows: int = Field(default=DEFAULT_MAX_ROWS, ge=1, le=1_000_000)


class CreateBlock(Strict):
    table: str
    fields: list[str] = Field(min_length=1)


class UpdateBlock(Strict):
    table: str
    fields: list[str] = Field(min_length=1)
    filters: RoleFilters


class DeleteBlock(Strict):
    table: str
    filters: RoleFilters


class QueryFile(Strict):
    list: ListBlock | None = None
    show: ReadBlock | None = None
    create: CreateBlock | None = None
    update: UpdateBlock | None = None
    delete: DeleteBlock | None = None


def compile_queries(app: str, name: str, spec: QueryFile, problem: Problem) -> Resource | None:
    operations = {op for op in ("list", "show", "create", "update", "delete") if getattr(spec, op)}
    if not operations:
        problem("", "declares no operation (list, show, create, update, delete)")
        return None
    tables = {getattr(spec, op).table for op in ("create", "update", "delete") if getattr(spec, op)}
    if len(tables) > 1:
        problem("", f"create, update and delete name different tables: {', '.join(sorted(tables))}")
        return None
    for table in tables:
        if not IDENTIFIER.match(table):
            problem("table", f"{table!r} is not a table name")
            return None
    sql: dict[str, str] = {}
    role_filters: dict[str, dict[str, str | None]] = {}
    writable: dict[str, tuple[str, ...]] = {}
    for op in sorted(operations):
        block = getattr(spec, op)
        has_id = op in ("show", "update", "delete")
        if op in ("list", "show"):
            sql[op] = block.query
            _check_read(op, block, has_id, problem)
        if op != "create":
            role_filters[op] = {"default": block.filters.default, "admin": block.filters.admin}
            _check_role_filters(op, role_filters[op], has_id, problem)
        if op in ("create", "update"):
            writable[op] = _writable_columns(op, block, problem)
    return Resource(
        app=app,
        name=name,
        fields=(),
        operations=frozenset(operations),
        source="queries",
        sql={**sql, "table": next(iter(tables), "")},
        role_filters=role_filters,
        order=spec.list.order if spec.list else "",
        max_rows=spec.list.max_rows if spec.list else DEFAULT_MAX_ROWS,
        writable_by_op=writable,
    )


def _check_read(op: str, block: ReadBlock, has_id: bool, problem: Problem) -> None:
    _check_placeholders(f"{op}.query", block.query, has_id, problem)
    if placeholders(block.order):
        problem(f"{op}.order", "an order takes no placeholder")


def _check_role_filters(op: str, fragments: dict[str, str | None], has_id: bool, problem: Problem) -> None:
    for role in ROLE_NAMES:
        fragment = fragments[role]
        if fragment:
            _check_placeholders(f"{op}.filters.{role}", fragment, has_id, problem)


def _writable_columns(op: str, block: CreateBlock | UpdateBlock, problem: Problem) -> tuple[str, ...]:
    bad = [field for field in block.fields if not IDENTIFIER.match(field)]
    if bad:
        problem(f"{op}.fields", f"not column names: {', '.join(bad)}")
    return tuple(block.fields)


def _check_placeholders(where: str, sql: str, has_id: bool, problem: Problem) -> None:
    for name in placeholders(sql):
        if name == "id" and not has_id:
            problem(where, ":id has no value here: only show, update and delete have an id")


# --- auth.yaml: the Go system's auth queries and the lists its login answered ------------

LOGIN_PLACEHOLDERS = ("user_id", "role")


class LoginList(Strict):
    query: str
    order: str = ""
    max_rows: int = Field(default=DEFAULT_MAX_ROWS, ge=1, le=1_000_000)


class AuthQueries(Strict):
    """`queries/<app>/auth.yaml`. Its `login`, `register`, `me` and `logout` queries were the
    Go system's own: auth is built in here, so they are accepted and not run. `login_data`
    names the lists the login answer carries: resource names (their list query, the user's
    own rows), or per name a query of its own over `:user_id` / `:role`."""

    login: dict[str, Any] | None = None
    register_: dict[str, Any] | None = Field(default=None, alias="register")
    me: dict[str, Any] | None = None
    logout: dict[str, Any] | None = None
    login_data: list[str] | dict[str, LoginList] = Field(default_factory=list)


def compile_login_lists(app: str, spec: AuthQueries, problem: Problem) -> dict[str, Resource | str]:
    """name -> a resource name (its list query serves) or a list-only Resource of its own."""
    if isinstance(spec.login_data, list):
        return {name: name for name in spec.login_data}
    lists: dict[str, Resource | str] = {}
    for name, block in spec.login_data.items():
        if not IDENTIFIER.match(name):
            problem(f"login_data.{name}", f"{name!r} is not a usable name")
            continue
        unknown = [p for p in placeholders(block.query) if p not in LOGIN_PLACEHOLDERS]
        if unknown:
            problem(
                f"login_data.{name}.query", f"a login list knows only :user_id and :role, not :{unknown[0]}"
            )
            continue
        if placeholders(block.order):
            problem(f"login_data.{name}.order", "an order takes no placeholder")
            continue
        lists[name] = Resource(
            app=app,
            name=name,
            fields=(),
            operations=frozenset({"list"}),
            source="queries",
            sql={"list": block.query, "table": ""},
            order=block.order,
            max_rows=block.max_rows,
        )
    return lists
