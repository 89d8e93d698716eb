"""`generate`: v1 query YAML from the schema, for teams that hand-tune their SQL."""

from __future__ import annotations

from crud.config import resources_of
from crud.resource import Resource
from tenants.config import Tenant


def _filters(resource: Resource) -> dict:
    owner = resource.owner_field
    return {"default": f"{owner.name} = :user_id" if owner else "", "admin": ""}


def query_files(tenant: Tenant) -> dict[str, dict]:
    """resource name -> the v1 query YAML data of that resource."""
    files = {}
    for name, resource in resources_of(tenant).items():
        if resource.source != "schema" or not resource.operations:
            continue
        columns = ", ".join(spec.name for spec in resource.visible_fields)
        order = (
            ", ".join(
                f"{item.lstrip('-')} {'DESC' if item.startswith('-') else 'ASC'}"
                for item in resource.default_sort
            )
            or f"{resource.primary.name} ASC"
        )
        writable = [spec.name for spec in resource.fields if spec.writable]
        owner = resource.owner_field
        data: dict = {}
        if resource.allows("list"):
            data["list"] = {
                "query": f"SELECT {columns} FROM {name}",  # noqa: S608  (YAML for people to tune)
                "filters": _filters(resource),
                "order": order,
            }
        if resource.allows("show"):
            data["show"] = {
                "query": f"SELECT {columns} FROM {name} WHERE {resource.primary.name} = :id",  # noqa: S608
                "filters": _filters(resource),
            }
        if resource.allows("create"):
            data["create"] = {"table": name, "fields": ([owner.name] if owner else []) + writable}
        if resource.allows("update"):
            data["update"] = {"table": name, "fields": writable, "filters": _filters(resource)}
        if resource.allows("delete"):
            data["delete"] = {"table": name, "filters": _filters(resource)}
        files[name] = data
    return files
