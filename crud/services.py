"""Writes of resources: create, update, delete, with isolation and clear errors.

Input is validated by the resource's serializer; the owner column comes from the token,
never from the client; a foreign key must point at a row the caller may see (so a task
cannot join someone else's project). Unique violations are 409; every change emits one
domain event after commit.

Access rules (crud.access): an operation whose rule no row can pass for the caller is a
403; a row the caller may not view is a 404 for update and delete, one it may view but
not change is a 403, and so is a new or changed row the create or update rule does not
accept. Tables on the default rules keep the one-statement UPDATE and DELETE.

A write that is one statement (a create or an update under the default rules, outside
any caller's transaction) runs in autocommit: the statement is its own transaction,
durable when it returns, which saves the BEGIN and the switches of autocommit around it
(a round trip each on MariaDB). Its event is then dispatched at once, after that commit.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from django.db import IntegrityError, connections, transaction
from django.db.models import BooleanField, ProtectedError, QuerySet, RestrictedError
from django.db.models.expressions import RawSQL
from django.db.models.sql import InsertQuery
from django.utils import timezone

from crud import writes
from crud.access.callers import is_anonymous
from crud.access.compile import apply, to_q
from crud.access.evaluate import holds
from crud.access.rules import is_default, rule_for, unwritable
from crud.events import DomainEvent, emit
from crud.runtime import BoundResource, existing_resource
from crud.selectors import readable_names, require, row_show, scoped
from crud.sql import bind
from crud.sqlreads import placeholder_values, role_filter, show_row, v1_row_visible
from sogoms_site.errors import (
    AlreadyExists,
    AuthenticationRequired,
    DomainError,
    InvalidInput,
    NotFoundError,
    NotPermitted,
    StateConflict,
)
from tenants.auth.principal import TenantPrincipal


def refused_by_database(bound: BoundResource, exc: IntegrityError) -> DomainError:
    """The domain error for a row the database refused, without its SQL message.

    A taken unique value is 409; a missing value or a broken reference (checks the
    engine made that the serializer could not know of, e.g. in a v1 table) is 400.
    """
    cause = exc.__cause__ or exc
    code = cause.args[0] if cause.args and isinstance(cause.args[0], int) else None
    text = str(cause).lower()
    if code == 1062 or "unique" in text or "duplicate" in text:
        return AlreadyExists(f"A row of {bound.name} already has this unique value.")
    return InvalidInput(
        f"The database refused this row of {bound.name}: a required value is missing "
        "or a reference points at nothing."
    )


def _refuse_unwritable(bound: BoundResource, caller: TenantPrincipal, data: Any) -> None:
    """Fields whose `write:` rule the caller does not meet are refused by name (400)."""
    refused = unwritable(bound.resource, caller)
    if refused and isinstance(data, dict):
        named = sorted(name for name in data if name in refused)
        if named:
            raise InvalidInput(
                "You may not write these fields.",
                details={name: ["you may not write this field"] for name in named},
            )


def _allowed(bound: BoundResource, caller: TenantPrincipal, operation: str, row: dict) -> bool:
    owner = bound.resource.owner_field
    return holds(rule_for(bound.resource, operation).node, row, caller, owner.name if owner else None)


def _row_values(bound: BoundResource, instance: Any) -> dict:
    return {spec.name: getattr(instance, bound.attnames[spec.name]) for spec in bound.resource.fields}


def _writing_rules(bound: BoundResource) -> bool:
    """Whether writes need the row read first: a table with its own view/update/delete rules."""
    resource = bound.resource
    return resource.source == "schema" and not all(
        is_default(resource, op) for op in ("show", "update", "delete")
    )


def validated(bound: BoundResource, operation: str, data: Any) -> dict:
    serializer = bound.serializer(operation)(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _references(bound: BoundResource) -> dict[str, tuple[str, str]]:
    """Foreign keys of the resource: declared in the schema, or the database's own (v1)."""
    if bound.resource.source == "queries":
        return bound.resource.references
    return {spec.name: spec.foreign for spec in bound.resource.fields if spec.foreign}


def _reference_visible(
    bound: BoundResource, caller: TenantPrincipal, target: tuple[str, str], value: Any, where: Any = None
) -> bool:
    """Whether the caller may point at the row `target` = value: the rows it can see."""
    target_name, target_field = target
    if target_name == "users":
        from tenants.usermodel import user_model

        return user_model(bound.tenant).objects.filter(**{target_field: value}).exists()
    if bound.resource.source == "schema":
        other = existing_resource(bound.tenant, target_name)
        rows = scoped(other, caller).filter(**{other.attnames[target_field]: value})
        if where is not None:  # the field's foreign_where: e.g. only a paid invoice
            owner = other.resource.owner_field
            rows = apply(
                rows, to_q(where.node, caller, other.attnames, other.attnames[owner.name] if owner else None)
            )
        return rows.exists()
    return v1_row_visible(bound, caller, target_name, target_field, value)


def _check_foreign_keys(bound: BoundResource, caller: TenantPrincipal, values: dict) -> None:
    errors = {}
    references = _references(bound)
    for name, value in values.items():
        target = references.get(name)
        if target is None or value is None:
            continue
        spec = bound.resource.field(name)
        where = spec.foreign_where if spec else None
        if not _reference_visible(bound, caller, target, value, where):
            condition = f" where {where.source}" if where is not None else ""
            errors[name] = [f"no {target[0]} with {target[1]} {value}{condition}"]
    if errors:
        raise InvalidInput("A reference points at nothing you can use.", details=errors)


def _model_values(bound: BoundResource, values: dict) -> dict:
    return {bound.attnames[name]: value for name, value in values.items()}


def _v1_answer(bound: BoundResource, caller: TenantPrincipal, pk: Any, values: dict) -> dict:
    """A v1 write's row as its show query answers it (its columns, the same types as
    list and show), or nothing when the resource has no show the caller passes."""
    if not bound.resource.allows("show"):
        return {}
    # the written values stand in for request parameters the show query may name
    params = {name: str(value) for name, value in values.items() if value is not None}
    try:
        return show_row(bound, caller, pk, params) or {}
    except InvalidInput:  # a parameter the show query needs is in neither
        return {}


def _owner_of(caller: TenantPrincipal, row_owner: Any = None) -> Any:
    return row_owner if row_owner is not None else caller.id


def _insert(bound: BoundResource, model_values: dict) -> Any:
    """Save a new row: every column of a schema table; only the written columns of a v1
    table, so the database's own defaults (`DEFAULT CURRENT_TIMESTAMP`) fill the rest."""
    alias = bound.tenant.db_alias
    row = bound.model(**model_values)
    if bound.resource.source == "schema":
        writes.insert(bound, row)
        return row
    meta = bound.model._meta
    columns = [field for field in meta.concrete_fields if field.attname in model_values]
    query = InsertQuery(bound.model)
    query.insert_values(columns, [row])
    returned = query.get_compiler(using=alias).execute_sql(returning_fields=[meta.pk])
    row.pk = returned[0][0]
    return row


def _one_statement_or_atomic(alias: str, one_statement: bool) -> AbstractContextManager[Any]:
    """No transaction of its own for a write of one statement made in autocommit (the
    statement commits itself); a transaction otherwise, or a savepoint inside the
    caller's, so a refused row never breaks the caller's transaction."""
    if one_statement and not connections[alias].in_atomic_block:
        return nullcontext()
    return transaction.atomic(using=alias)


def record_create(*, bound: BoundResource, caller: TenantPrincipal, data: Any) -> dict:
    require(bound, caller, "create")
    _refuse_unwritable(bound, caller, data)
    values = validated(bound, "create", data)
    _check_foreign_keys(bound, caller, values)
    owner = bound.resource.owner_field
    if owner is not None and is_anonymous(caller):
        raise AuthenticationRequired()  # a row of this table belongs to a user
    model_values = _model_values(bound, values)
    if owner is not None and owner.name not in values:  # set only where its write rule allows
        model_values[bound.attnames[owner.name]] = caller.id
    row_owner = model_values[bound.attnames[owner.name]] if owner is not None else caller.id
    custom = bound.resource.source == "schema" and not is_default(bound.resource, "create")
    written: dict | None = None
    if custom:
        # the new row as it would be saved (defaults filled) must pass the create rule
        written = _row_values(bound, bound.model(**model_values))
        if not _allowed(bound, caller, "create", written):
            raise NotPermitted(f"The access rule of {bound.name} does not let you create this row.")
    alias = bound.tenant.db_alias
    reads_row = _writing_rules(bound) or custom
    try:
        with _one_statement_or_atomic(alias, not reads_row):
            row = _insert(bound, model_values)
            if reads_row:
                written = _row_values(bound, row)
            emit(
                DomainEvent(
                    bound.tenant.app, bound.name, "create", row.pk, row_owner, tuple(values), row=written
                ),
                using=alias,
            )
    except IntegrityError as exc:
        raise refused_by_database(bound, exc) from None
    if bound.resource.source == "queries":
        # the seed's answer, plus the row as the show query reads it
        return {"insert_id": row.pk, **_v1_answer(bound, caller, row.pk, values)}
    # the saved instance holds every value the row got (defaults, timestamps, key):
    # answering from it saves a second SELECT per create
    names = readable_names(bound, caller)
    record = {name: getattr(row, bound.attnames[name]) for name in names}
    return {**record, "insert_id": row.pk}


def _writable_rows(bound: BoundResource, caller: TenantPrincipal, operation: str, pk: Any) -> QuerySet:
    if bound.resource.source == "schema":
        return scoped(bound, caller).filter(pk=pk)
    queryset = bound.model._default_manager.filter(pk=pk)
    fragment = role_filter(bound, operation, caller)
    if fragment.strip():
        sql, params = bind(fragment, placeholder_values(fragment, caller, {}, pk))
        queryset = queryset.filter(RawSQL(sql, params, output_field=BooleanField()))  # noqa: S611  (operator SQL, bound values)
    return queryset


def record_update(
    *, bound: BoundResource, caller: TenantPrincipal, pk: Any, data: Any, partial: bool
) -> dict:
    require(bound, caller, "update")
    _refuse_unwritable(bound, caller, data)
    values = validated(bound, "partial" if partial else "update", data)
    _check_foreign_keys(bound, caller, values)
    alias = bound.tenant.db_alias
    changes = _model_values(bound, values)
    for spec in bound.resource.fields:
        if spec.timestamp == "updated":  # queryset.update() does not run auto_now
            changes[bound.attnames[spec.name]] = timezone.now()
    if _writing_rules(bound):
        _update_by_rules(bound, caller, pk, values, changes)
        return _answer(bound, caller, pk)
    owner = bound.resource.owner_field
    reads_owner = owner is not None and caller.is_admin  # a second statement: the row's owner
    try:
        with _one_statement_or_atomic(alias, not reads_owner):
            # one UPDATE, owner-filtered: no row load, and the write lock is held briefly
            if bound.resource.source == "schema":
                affected = writes.update(bound, caller, pk, changes)
            else:
                affected = _writable_rows(bound, caller, "update", pk).update(**changes)
            if not affected:
                raise NotFoundError(f"No {bound.name} with id {pk}.")
            row_owner: int | None = caller.id
            if reads_owner and owner is not None:
                rows = _writable_rows(bound, caller, "update", pk)
                row_owner = rows.values_list(bound.attnames[owner.name], flat=True).first()
            emit(
                DomainEvent(bound.tenant.app, bound.name, "update", pk, row_owner, tuple(values)),
                using=alias,
            )
    except IntegrityError as exc:
        raise refused_by_database(bound, exc) from None
    if bound.resource.source == "queries":
        # the seed's answer, plus the row as the show query reads it
        return {"affected_rows": affected, **_v1_answer(bound, caller, pk, values)}
    return row_show(bound, caller, pk)


def _answer(bound: BoundResource, caller: TenantPrincipal, pk: Any) -> dict:
    """The changed row as the caller reads it; only its key when it may no longer view it."""
    try:
        return row_show(bound, caller, pk)
    except (NotFoundError, NotPermitted):
        return {bound.resource.primary.name: pk}


def _locked_row(bound: BoundResource, caller: TenantPrincipal, operation: str, pk: Any) -> dict:
    """The row `pk` if the caller may view it (404 otherwise) and `operation` it (403)."""
    names = [spec.name for spec in bound.resource.fields]
    found = (
        scoped(bound, caller, "show")
        .filter(pk=pk)
        .select_for_update()
        .values_list(*[bound.attnames[name] for name in names])
        .first()
    )
    if found is None:
        raise NotFoundError(f"No {bound.name} with id {pk}.")
    row = dict(zip(names, found, strict=True))
    if not _allowed(bound, caller, operation, row):
        raise NotPermitted(f"The access rule of {bound.name} does not let you {operation} this row.")
    return row


def _update_by_rules(
    bound: BoundResource, caller: TenantPrincipal, pk: Any, values: dict, changes: dict
) -> None:
    """An update under a table's own rules: the row before and after must pass `update`."""
    alias = bound.tenant.db_alias
    owner = bound.resource.owner_field
    try:
        with transaction.atomic(using=alias):
            before = _locked_row(bound, caller, "update", pk)
            after = {**before, **values}
            if not _allowed(bound, caller, "update", after):
                raise NotPermitted(
                    f"The access rule of {bound.name} does not let you change this row into that."
                )
            bound.model._default_manager.filter(pk=pk).update(**changes)
            after.update(
                {name: changes[bound.attnames[name]] for name in after if bound.attnames[name] in changes}
            )
            emit(
                DomainEvent(
                    bound.tenant.app,
                    bound.name,
                    "update",
                    pk,
                    before[owner.name] if owner else caller.id,
                    tuple(values),
                    row=after,
                ),
                using=alias,
            )
    except IntegrityError as exc:
        raise refused_by_database(bound, exc) from None


def _delete_by_rules(bound: BoundResource, caller: TenantPrincipal, pk: Any) -> int:
    alias = bound.tenant.db_alias
    owner = bound.resource.owner_field
    try:
        with transaction.atomic(using=alias):
            before = _locked_row(bound, caller, "delete", pk)
            try:
                bound.model._default_manager.filter(pk=pk).delete()
            except (ProtectedError, RestrictedError):
                raise IntegrityError("referenced") from None
            emit(
                DomainEvent(
                    bound.tenant.app,
                    bound.name,
                    "delete",
                    pk,
                    before[owner.name] if owner else caller.id,
                    row=before,
                ),
                using=alias,
            )
    except IntegrityError:
        raise StateConflict(f"This row of {bound.name} is still referenced by other rows.") from None
    return 1


def record_delete(*, bound: BoundResource, caller: TenantPrincipal, pk: Any) -> int:
    require(bound, caller, "delete")
    if _writing_rules(bound):
        return _delete_by_rules(bound, caller, pk)
    alias = bound.tenant.db_alias
    try:
        with transaction.atomic(using=alias):
            rows = _writable_rows(bound, caller, "delete", pk)
            owner = bound.resource.owner_field
            row = rows.values_list("pk", bound.attnames[owner.name] if owner else "pk").first()
            if row is None:
                raise NotFoundError(f"No {bound.name} with id {pk}.")
            try:
                rows.delete()
            except (ProtectedError, RestrictedError):
                raise IntegrityError("referenced") from None
            emit(
                DomainEvent(
                    bound.tenant.app,
                    bound.name,
                    "delete",
                    row[0],
                    _owner_of(caller, row[1] if owner else None),
                ),
                using=alias,
            )
    except IntegrityError:
        raise StateConflict(f"This row of {bound.name} is still referenced by other rows.") from None
    return 1
