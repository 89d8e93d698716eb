"""The data dictionary of a tenant (seed phase 15d): tables, fields, constraints, relations.

It is built from the Resources, so it says exactly what the API enforces. Hidden fields
never appear.
"""

from __future__ import annotations

from typing import Any

from crud.access.rules import RULE_OPERATIONS, rule_for
from crud.config import resources_of
from crud.fieldtypes import field_type
from crud.resource import MISSING, FieldSpec
from crud.runtime import BoundResource, bound_resource
from tenants.config import Tenant


def field_entry(spec: FieldSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": spec.name, "type": spec.type}
    flags = {
        "primary": spec.primary,
        "auto": spec.auto,
        "unique": spec.unique,
        "required": spec.required,
        "nullable": spec.nullable,
        "owner": spec.owner,
        "readonly": not spec.writable,
        "searchable": spec.searchable,
    }
    entry.update({name: True for name, value in flags.items() if value})
    for key in ("min", "max", "max_length", "pattern"):
        value = getattr(spec, key)
        if value is not None:
            entry[key] = value
    if spec.choices:
        entry["choices"] = list(spec.choices)
    if spec.default is not MISSING:
        entry["default"] = spec.default
    entry.update(field_type(spec.type).dictionary_entries(spec))
    if spec.foreign:
        entry["foreign"] = ".".join(spec.foreign)
        entry["on_delete"] = spec.on_delete
    for which in ("read", "write"):  # a field's own access rules, as written
        rule = getattr(spec, which)
        if rule is not None:
            entry[which] = rule.source
    return entry


def _with_reference(entry: dict[str, Any], references: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """A v1 column's foreign key, as the database declares it."""
    if entry["name"] in references:
        entry["foreign"] = ".".join(references[entry["name"]])
    return entry


def table_entry(bound: BoundResource) -> dict:
    resource = bound.resource
    return {
        "name": resource.name,
        "source": resource.source,
        "operations": [op for op in ("list", "show", "create", "update", "delete") if resource.allows(op)],
        "fields": [
            _with_reference(field_entry(spec), resource.references) for spec in resource.visible_fields
        ],
        "includes": {
            name: {"kind": include.kind, "table": include.target} for name, include in bound.includes.items()
        },
        "named_filters": resource.named_filters,
        "sort": list(resource.default_sort),
        "indexes": [list(group) for group in resource.indexes],
        "unique": [list(group) for group in resource.unique_together],
        **({"access": access_entry(bound)} if resource.source == "schema" else {}),
    }


def access_entry(bound: BoundResource) -> dict[str, str]:
    """The rule of each operation as written (or the default rule's text)."""
    return {name: rule_for(bound.resource, name).source for name in RULE_OPERATIONS}


def exposed(tenant: Tenant) -> list[BoundResource]:
    """Resources a client can call, in declaration order."""
    bound = (bound_resource(tenant, name) for name, r in resources_of(tenant).items() if r.operations)
    return [item for item in bound if item is not None]


def dictionary(tenant: Tenant) -> dict:
    return {"app": tenant.app, "version": tenant.version, "tables": [table_entry(b) for b in exposed(tenant)]}
