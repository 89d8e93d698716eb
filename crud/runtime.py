"""A Resource bound to one tenant: its model, column names, serializers and includes.

`bound_resource(tenant, name)` is computed once per loaded tenant and resource; views,
selectors and services work on it. `bound_resource` answers None for a name the tenant
does not have (for callers that test); `existing_resource` is for names the config has
already checked (includes, foreign keys, login lists) and raises NotFoundError.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from django.db import models
from rest_framework import serializers

from crud.config import resources_of
from crud.dynamic import build_model, concrete_field, django_name, schema_models
from crud.introspect import table_fields, table_references
from crud.resource import Resource
from crud.serializers import input_serializer
from sogoms_site.errors import NotFoundError
from tenants.config import Tenant
from tenants.usermodel import PerTenant, build_lock, once_per_tenant


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
    # the model of its table; None for a v1 resource that only reads (list/show SQL, no table)
    table_model: type[models.Model] | None
    attnames: dict[str, str]  # API field name -> model attname
    includes: dict[str, Include] = field(default_factory=dict)  # name -> Include

    @property
    def name(self) -> str:
        return self.resource.name

    @property
    def model(self) -> type[models.Model]:
        """The model of the resource's table; a resource without a table has no rows to write."""
        if self.table_model is None:
            raise NotFoundError(f"{self.name} has no table: its queries only read.")
        return self.table_model

    @property
    def pk_attname(self) -> str:
        return self.attnames[self.resource.primary.name]

    def serializer(self, operation: str) -> type[serializers.Serializer]:
        return input_serializer(self, operation)


def bound_resource(tenant: Tenant, name: str) -> BoundResource | None:
    """The resource `name` of the tenant, or None when the tenant has no such resource."""
    resource = resources_of(tenant).get(name)
    if resource is None:
        return None
    return _bind(tenant, name)


def existing_resource(tenant: Tenant, name: str) -> BoundResource:
    """The resource `name`, which the config has checked the tenant has; NotFoundError if not."""
    bound = bound_resource(tenant, name)
    if bound is None:
        raise NotFoundError(f"No resource {name!r} in {tenant.app}.")
    return bound


# name -> BoundResource of each loaded tenant (dropped with the tenant after a reload)
_bound_of: PerTenant[dict[str, BoundResource]] = once_per_tenant(lambda _tenant: {})


def _bind(tenant: Tenant, name: str) -> BoundResource:
    """The bound resource, made on the tenant's first use of it, once whatever the threads."""
    bound: dict[str, BoundResource] = _bound_of(tenant)
    try:
        return bound[name]
    except KeyError:
        pass
    with build_lock(tenant):  # an introspected table's model is built here, like the schema's
        if name not in bound:
            bound[name] = _bind_now(tenant, name)
        return bound[name]


def _bind_now(tenant: Tenant, name: str) -> BoundResource:
    resource = resources_of(tenant)[name]
    model: type[models.Model] | None
    if resource.source == "schema":
        model = schema_models(tenant)[name]
    else:
        resource, model = _introspected(tenant, resource)
    attnames: dict[str, str] = {}
    if model is not None:  # without a table the resource has no fields either
        attnames = {spec.name: concrete_field(model, django_name(spec)).attname for spec in resource.fields}
    return BoundResource(tenant, resource, model, attnames, _includes(tenant, resource))


def _introspected(tenant: Tenant, resource: Resource) -> tuple[Resource, type[models.Model] | None]:
    table = resource.sql.get("table")
    if not table:
        return resource, None
    owner = "user_id" if "user_id" in resource.writable_by_op.get("create", ()) else None
    fields = table_fields(tenant.db_alias, table, owner_column=owner)
    references = table_references(tenant.db_alias, table)
    resource = dataclasses.replace(resource, fields=fields, references=references)
    apps_resource = dataclasses.replace(resource, name=table)
    model = build_model(tenant, apps_resource, {})
    return resource, model


def _includes(tenant: Tenant, resource: Resource) -> dict[str, Include]:
    if resource.source != "schema":
        return {}
    resources = resources_of(tenant)
    includes: dict[str, Include] = {}
    for spec in resource.fields:
        if spec.foreign is None:
            continue
        target_name, target_field = spec.foreign
        target = resources.get(target_name)
        if target is not None and target.name != "users" and target.allows("show"):
            name = django_name(spec)
            includes[name] = Include(name, "one", target.name, spec.name, target_field)
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
