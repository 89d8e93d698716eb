"""A Resource bound to one tenant: its model, column names, serializers and includes.

`bound_resource(tenant, name)` is computed once per loaded tenant and resource; views,
selectors and services work on it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cache

from django.db import models

from crud.config import resources_of
from crud.dynamic import build_model, django_name, schema_models
from crud.introspect import table_fields
from crud.resource import Resource
from crud.serializers import input_serializer
from tenants.config import Tenant


@dataclass(frozen=True)
class Include:
    """How `?include=<name>` fetches related rows of a row."""

    name: str
    kind: str  # "one" (foreign key), "many" (reverse foreign key), "link" (through a table)
    target: str  # the related resource (table)
    local: str  # API field of this row holding the key (the primary key for many/link)
    remote: str  # API field of the related (or link) row matched against it
    link_table: str = ""  # for "link": the link resource
    link_target_column: str = ""  # for "link": the link row's column pointing at the target


@dataclass(frozen=True, eq=False)  # identity: one per loaded tenant and resource
class BoundResource:
    tenant: Tenant
    resource: Resource
    model: type[models.Model]
    attnames: dict  # API field name -> model attname
    includes: dict = field(default_factory=dict)  # name -> Include

    @property
    def name(self) -> str:
        return self.resource.name

    @property
    def pk_attname(self) -> str:
        return self.attnames[self.resource.primary.name]

    def serializer(self, operation: str):
        return input_serializer(self, operation)


def bound_resource(tenant: Tenant, name: str) -> BoundResource | None:
    resource = resources_of(tenant).get(name)
    if resource is None:
        return None
    return _bind(tenant, name)


@cache
def _bind(tenant: Tenant, name: str) -> BoundResource:
    resource = resources_of(tenant)[name]
    if resource.source == "schema":
        model = schema_models(tenant)[name]
    else:
        resource, model = _introspected(tenant, resource)
    attnames = {spec.name: model._meta.get_field(django_name(spec)).attname for spec in resource.fields}
    return BoundResource(tenant, resource, model, attnames, _includes(tenant, resource))


def _introspected(tenant: Tenant, resource: Resource) -> tuple[Resource, type[models.Model]]:
    table = resource.sql.get("table")
    if not table:
        return resource, None
    owner = "user_id" if "user_id" in resource.writable_by_op.get("create", ()) else None
    fields = table_fields(tenant.db_alias, table, owner_column=owner)
    resource = dataclasses.replace(resource, fields=fields)
    apps_resource = dataclasses.replace(resource, name=table)
    model = build_model(tenant, apps_resource, {})
    return resource, model


def _includes(tenant: Tenant, resource: Resource) -> dict:
    if resource.source != "schema":
        return {}
    resources = resources_of(tenant)
    includes = {}
    for spec in resource.fields:
        target = resources.get(spec.foreign[0]) if spec.foreign else None
        if target is not None and target.name != "users" and target.allows("show"):
            name = django_name(spec)
            includes[name] = Include(name, "one", target.name, spec.name, spec.foreign[1])
    for other in resources.values():
        if other.name == resource.name or not other.allows("list"):
            continue
        pointing = [s for s in other.fields if s.foreign and s.foreign[0] == resource.name]
        if len(pointing) == 1:
            includes[other.name] = Include(
                other.name, "many", other.name, resource.primary.name, pointing[0].name
            )
    for link in resource.links:
        if resources.get(link.target) is not None:
            includes[link.name] = Include(
                link.name,
                "link",
                link.target,
                resource.primary.name,
                link.source_column,
                link.through,
                link.target_column,
            )
    return includes
