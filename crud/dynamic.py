"""Django models built at run time from Resources, one per (tenant, table).

Models live in the tenant's private registry (`tenants.usermodel.tenant_apps`) and carry
the tenant's database alias for the router, the approach Baserow takes for user-defined
tables. A foreign key field keeps its column name (`project_id`); its Django name drops
the `_id` (`project`), so `attname` is the column name the API speaks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core import validators
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from crud.fieldtypes import field_type
from crud.resource import MISSING, FieldSpec, Resource
from tenants.config import Tenant
from tenants.usermodel import once_per_tenant, tenant_apps, user_model

ON_DELETE = {
    "cascade": models.CASCADE,
    "restrict": models.RESTRICT,
    "protect": models.PROTECT,
    "set_null": models.SET_NULL,
}


def django_name(spec: FieldSpec) -> str:
    if spec.foreign:
        return spec.name[:-3] if spec.name.endswith("_id") else f"{spec.name}_ref"
    return spec.name


def concrete_field(model: type[models.Model], name: str) -> models.Field:
    """The field `name` of a model: one of its own columns, never a relation's other side."""
    field_obj = model._meta.get_field(name)
    if not isinstance(field_obj, models.Field):
        raise FieldDoesNotExist(f"{model._meta.label} has no column field {name!r}")
    return field_obj


@once_per_tenant
def schema_models(tenant: Tenant) -> dict[str, type[models.Model]]:
    """Every schema table of the tenant as a model, `users` being the built-in user model."""
    from crud.config import resources_of

    resources = {name: r for name, r in resources_of(tenant).items() if r.source == "schema"}
    built: dict[str, type[models.Model]] = {"users": user_model(tenant)}
    pending = [name for name in resources if name != "users"]
    while pending:
        progressed = False
        for name in list(pending):
            targets = {spec.foreign[0] for spec in resources[name].fields if spec.foreign}
            if all(target in built or target == name for target in targets):
                built[name] = build_model(tenant, resources[name], built)
                pending.remove(name)
                progressed = True
        if not progressed:  # a cycle of foreign keys: build the rest with lazy references
            for name in pending:
                built[name] = build_model(tenant, resources[name], built)
            break
    return built


def build_model(
    tenant: Tenant, resource: Resource, built: dict[str, type[models.Model]]
) -> type[models.Model]:
    """The model of one table; `built` holds the models its foreign keys may point at."""
    attrs: dict[str, Any] = {"__module__": __name__, "sogoms_db_alias": tenant.db_alias}
    for spec in resource.fields:
        attrs[django_name(spec)] = model_field(spec, resource, built)
    class_name = f"{resource.name}_{tenant.app}"
    indexes = [
        models.Index(
            fields=[_column_to_name(resource, c) for c in group], name=_index_name(resource, group, "ix")
        )
        for group in resource.indexes
    ]
    constraints = [
        models.UniqueConstraint(
            fields=[_column_to_name(resource, c) for c in group], name=_index_name(resource, group, "uq")
        )
        for group in resource.unique_together
    ]
    attrs["Meta"] = type(
        "Meta",
        (),
        {
            "db_table": resource.name,
            "app_label": "crud",
            "apps": tenant_apps(tenant),
            "indexes": indexes,
            "constraints": constraints,
            "verbose_name": f"{tenant.app} {resource.name}",
            "verbose_name_plural": f"{tenant.app} {resource.name}",
        },
    )
    return type(class_name, (models.Model,), attrs)


def _column_to_name(resource: Resource, column: str) -> str:
    spec = resource.field(column)
    return django_name(spec) if spec else column


def _index_name(resource: Resource, group: tuple, kind: str) -> str:
    import hashlib

    digest = hashlib.sha1(f"{resource.name}:{','.join(group)}".encode(), usedforsecurity=False).hexdigest()[
        :8
    ]
    return f"{resource.name[:18]}_{kind}_{digest}"


def db_default_allowed(spec: FieldSpec) -> bool:
    """Scalar defaults of columns every engine lets carry a DEFAULT clause."""
    scalar = isinstance(spec.default, bool | int | float | str) and spec.default is not None
    return scalar and field_type(spec.type).db_default_allowed


def model_field(spec: FieldSpec, resource: Resource, built: dict[str, type[models.Model]]) -> models.Field:
    options = _common_options(spec)
    if spec.foreign:
        target_table, target_field = spec.foreign
        target = built.get(target_table, "self" if target_table == resource.name else target_table)
        extra: dict[str, Any] = {} if target_field == "id" else {"to_field": target_field}
        return models.ForeignKey(
            target, on_delete=ON_DELETE[spec.on_delete], related_name="+", **extra, **options
        )
    if spec.timestamp == "created":
        return models.DateTimeField(auto_now_add=True, db_column=spec.name)
    if spec.timestamp == "updated":
        return models.DateTimeField(auto_now=True, db_column=spec.name)
    kind = field_type(spec.type)
    if spec.auto:
        return kind.auto_model_field(options)
    return kind.model_field(spec, options)


def _common_options(spec: FieldSpec) -> dict[str, Any]:
    """The model field options every type shares: key, uniqueness, null, default, checks."""
    options: dict[str, Any] = {"db_column": spec.name}
    if spec.primary:
        options["primary_key"] = True
    if spec.unique and not spec.primary:
        options["unique"] = True
    if spec.index and not spec.unique:
        options["db_index"] = True
    if spec.nullable:
        options["null"] = True
        options["blank"] = True
    if spec.default is not MISSING:
        options["default"] = spec.default
        if db_default_allowed(spec):
            # in the table too, so rows written outside SOGOMS (Go era, SQL) get it
            options["db_default"] = models.Value(spec.default)
    if spec.choices:
        options["choices"] = [(choice, str(choice)) for choice in spec.choices]
    checks: list[Callable[[Any], None]] = []
    if spec.min is not None:
        checks.append(validators.MinValueValidator(spec.min))
    if spec.max is not None:
        checks.append(validators.MaxValueValidator(spec.max))
    if spec.pattern:
        checks.append(validators.RegexValidator(spec.pattern))
    if checks:
        options["validators"] = checks
    return options
