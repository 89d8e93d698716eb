"""The OpenAPI description of the resource engine's paths, generated from a tenant's Resources.

Every exposed resource with its operations, parameters and record schema, and the
self-description routes (`/_schema`, `/_openapi`, `/_docs`). CrudConfig.ready() registers
`crud_paths` as a provider of the tenant's OpenAPI document (sogoms_site.api.openapi),
which clients and Swagger UI (`<base>/_docs`) read at `<base>/_openapi`.
"""

from __future__ import annotations

from typing import Any

from crud.access.grammar import Auth, Public
from crud.access.rules import is_default, may_be_anonymous, rule_for
from crud.dictionary import exposed
from crud.fieldtypes import value_type
from crud.params import FILTER_OPERATORS
from crud.resource import MISSING, FieldSpec
from crud.runtime import BoundResource
from crud.serializers import writable_fields
from crud.sql import placeholders
from sogoms_site.api.openapi import (
    OpenApiPart,
    envelope,
    json_body,
    page_meta_schema,
    path_parameter,
    query_parameter,
    ref,
    responses,
)
from sogoms_site.api.paging import MAX_PER_PAGE
from tenants.config import Tenant

SCHEMA_TAG = "schema"


def crud_paths(tenant: Tenant) -> OpenApiPart:
    """The provider: every exposed resource of `tenant`, then the self-description routes."""
    bounds = exposed(tenant)
    paths: dict[str, Any] = {}
    for bound in bounds:
        paths.update(resource_paths(bound))
    paths.update(_describe_paths(tenant))
    schemas = {f"{bound.name}_record": record_schema(bound) for bound in bounds}
    schemas.update(_dictionary_schemas())
    tags = [{"name": bound.name, "description": f"the rows of {bound.name}"} for bound in bounds]
    tags.append(
        {
            "name": SCHEMA_TAG,
            "description": "Self-description: the data dictionary, this document and Swagger UI.",
        }
    )
    return OpenApiPart(paths=paths, schemas=schemas, tags=tags)


def value_schema(spec: FieldSpec, *, writing: bool = False) -> dict[str, Any]:
    """The schema of a field's values (as written, if `writing`): its type's, or its choices."""
    kind = value_type(spec)
    if spec.choices:
        # OpenAPI 3.0 ignores `nullable` beside a bare enum: null must be one of the values
        schema: dict[str, Any] = {"enum": list(spec.choices) + ([None] if spec.nullable else [])}
    else:
        schema = kind.openapi_schema(spec, writing=writing)
    if writing:
        schema.update(kind.openapi_constraints(spec))
    if spec.default is not MISSING:
        schema["default"] = spec.default
    if spec.nullable or (kind.openapi_nullable_on_read and not writing):
        schema["nullable"] = True
    return schema


def record_schema(bound: BoundResource) -> dict[str, Any]:
    """A row of the resource as the API returns it."""
    if bound.resource.source == "queries":
        return {"type": "object", "additionalProperties": True, "description": "the columns of the SQL"}
    fields = bound.resource.visible_fields
    return {
        "type": "object",
        "properties": {spec.name: value_schema(spec) for spec in fields},
        # `?fields=` may trim any column but the key
        "required": [bound.resource.primary.name],
    }


def input_schema(bound: BoundResource, operation: str) -> dict[str, Any]:
    """The body a client writes for `operation` (create, update, partial)."""
    fields = writable_fields(bound, operation)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {spec.name: value_schema(spec, writing=True) for spec in fields},
        "additionalProperties": False,
    }
    required = [s.name for s in fields if s.required and s.default is MISSING and operation != "partial"]
    if required:
        schema["required"] = required
    return schema


# What every resource operation may answer (405: an operation the resource does not allow).
COMMON = ("400", "401", "404", "405", "413", "415", "500")


def _list_parameters(bound: BoundResource) -> list[dict[str, Any]]:
    query = query_parameter
    parameters = [
        query("page", {"type": "integer", "minimum": 1}, "page number, from 1"),
        query("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}, "rows per page (20)"),
    ]
    if bound.resource.source == "queries":
        resource = bound.resource
        sql = " ".join([resource.sql.get("list", ""), *resource.role_filters.get("list", {}).values()])
        for name in dict.fromkeys(placeholders(sql)):
            if name not in ("user_id", "role", "id"):
                parameters.append(
                    query(name, {"type": "string"}, "a value of the query's SQL", required=True)
                )
    if bound.resource.source == "schema":
        visible = [spec.name for spec in bound.resource.visible_fields]
        parameters += [
            query(
                "sort",
                {"type": "string"},
                f"comma-separated fields, '-' for descending: {', '.join(visible)}",
            ),
            query("fields", {"type": "string"}, "comma-separated fields to return"),
            query("include", {"type": "string"}, f"related rows: {', '.join(bound.includes) or 'none'}"),
            query("cursor", {"type": "string"}, "keyset pagination: empty to start, then meta.next_cursor"),
            query(
                "total",
                {"type": "string", "enum": ["true", "false"], "default": "true"},
                "false: meta without total and pages (the count is not made)",
            ),
            {
                "name": "filter",
                "in": "query",
                "required": False,
                "style": "deepObject",
                "explode": True,
                "schema": {"type": "object", "additionalProperties": {"type": "string"}},
                "description": "filter[<field>]=<value> (equality), or filter[<field>][<op>]=<value> "
                f"with op in {', '.join(FILTER_OPERATORS)}",
            },
        ]
        if bound.resource.search_fields:
            parameters.append(query("q", {"type": "string", "maxLength": 200}, "case-insensitive search"))
    return parameters


def with_key(record: dict[str, Any], key: str) -> dict[str, Any]:
    """A row plus an integer key the write answers (insert_id, affected_rows)."""
    return {
        "allOf": [record, {"type": "object", "properties": {key: {"type": "integer"}}, "required": [key]}]
    }


def _access(bound: BoundResource, operation: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The operation's `security` (a token optional where its rule can hold without one)
    and the 403 of a rule that may refuse a signed-in caller."""
    resource = bound.resource
    if resource.source != "schema" or is_default(resource, operation):
        return {}, ()
    security: dict[str, Any] = {}
    if may_be_anonymous(resource, operation):
        # a token is still read when sent (owner rows, roles): optional, like a public /_schema
        security = {"security": [{"bearer": []}, {}]}
    node = rule_for(resource, operation).node
    return security, (() if isinstance(node, Public | Auth) else ("403",))


def resource_paths(bound: BoundResource) -> dict[str, Any]:
    """`/<name>` and `/<name>/{id}` with the operations the resource allows."""
    name, resource = bound.name, bound.resource
    schema_name = f"{name}_record"
    paths: dict[str, Any] = {}
    v1 = resource.source == "queries"
    if v1:  # without `page`: every row up to max_rows, and whether the cap cut the list
        page_meta = page_meta_schema(limit={"type": "integer"}, truncated={"type": "boolean"})
    else:
        page_meta = page_meta_schema(next_cursor={"type": "string", "nullable": True})
    collection: dict[str, Any] = {}
    if resource.allows("list"):
        security, refused = _access(bound, "list")
        collection["get"] = {
            **security,
            "tags": [name],
            "summary": f"List {name}",
            "operationId": f"{name}_list",
            "parameters": _list_parameters(bound),
            "responses": responses(
                "200",
                envelope({"type": "array", "items": ref(schema_name)}, page_meta),
                f"every row up to {resource.max_rows} (X-Sogoms-Truncated beyond), or a page"
                if v1
                else "a page of rows",
                (*COMMON, *refused),
            ),
        }
    if resource.allows("create"):
        created = with_key(ref(schema_name), "insert_id")
        security, refused = _access(bound, "create")
        collection["post"] = {
            **security,
            "tags": [name],
            "summary": f"Create a row of {name}",
            "operationId": f"{name}_create",
            "requestBody": json_body(input_schema(bound, "create")),
            "responses": responses("201", envelope(created), "the created row", (*COMMON, *refused, "409")),
        }
    if collection:
        paths[f"/{name}"] = collection
    item: dict[str, Any] = {}
    id_parameter = path_parameter("id", {"type": "integer", "minimum": 1})
    if resource.allows("show"):
        security, refused = _access(bound, "show")
        item["get"] = {
            **security,
            "tags": [name],
            "summary": f"One row of {name}",
            "operationId": f"{name}_show",
            "responses": responses("200", envelope(ref(schema_name)), "the row", (*COMMON, *refused)),
        }
    # a v1 update answers the seed's affected_rows beside the row its show query reads
    updated = with_key(ref(schema_name), "affected_rows") if v1 else ref(schema_name)
    if resource.allows("update"):
        security, refused = _access(bound, "update")
        for method, operation in (("put", "update"), ("patch", "partial")):
            item[method] = {
                **security,
                "tags": [name],
                "summary": f"{'Replace' if method == 'put' else 'Change'} a row of {name}",
                "operationId": f"{name}_{method}",
                "requestBody": json_body(input_schema(bound, operation)),
                "responses": responses(
                    "200", envelope(updated), "the updated row", (*COMMON, *refused, "409")
                ),
            }
    if resource.allows("delete"):
        deleted = {
            "type": "object",
            "properties": {"affected_rows": {"type": "integer"}},
            "required": ["affected_rows"],
        }
        security, refused = _access(bound, "delete")
        item["delete"] = {
            **security,
            "tags": [name],
            "summary": f"Delete a row of {name}",
            "operationId": f"{name}_delete",
            "responses": responses("200", envelope(deleted), "deleted", (*COMMON, *refused, "409")),
        }
    if item:
        item["parameters"] = [id_parameter]
        paths[f"/{name}/{{id}}"] = item
    return paths


def _describe_paths(tenant: Tenant) -> dict[str, Any]:
    """`/_schema`, `/_schema/{table}`, `/_openapi` and `/_docs` (crud.describe_views)."""
    public = tenant.schema_public
    # A public dictionary is read with or without a token; a bad token is still a 401.
    reader: dict[str, Any] = {"security": [{"bearer": []}, {}]} if public else {}
    refused = ("401", "500") if public else ("401", "403", "500")
    who = "everyone (schema_public)" if public else "role admin"
    return {
        "/_schema": {
            "get": {
                **reader,
                "tags": [SCHEMA_TAG],
                "operationId": "schema_dictionary",
                "summary": f"The data dictionary: every exposed table, for {who}",
                "responses": responses("200", envelope(ref("SchemaDictionary")), "the dictionary", refused),
            }
        },
        "/_schema/{table}": {
            "parameters": [path_parameter("table", {"type": "string"}, "a table name")],
            "get": {
                **reader,
                "tags": [SCHEMA_TAG],
                "operationId": "schema_table",
                "summary": f"One table of the data dictionary, for {who}",
                "responses": responses(
                    "200", envelope(ref("SchemaTable")), "the table", (*refused[:-1], "404", "500")
                ),
            },
        },
        "/_openapi": {
            "get": {
                "security": [],
                "tags": [SCHEMA_TAG],
                "operationId": "openapi_document",
                "summary": "This OpenAPI document (the document itself, not in the envelope)",
                "responses": {
                    "200": {
                        "description": "the OpenAPI 3.0 document of this app",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["openapi", "info", "paths"],
                                    "additionalProperties": True,
                                }
                            }
                        },
                    },
                    "500": {"$ref": "#/components/responses/E500"},
                },
            }
        },
        "/_docs": {
            "get": {
                "security": [],
                "tags": [SCHEMA_TAG],
                "operationId": "swagger_ui",
                "summary": "Swagger UI over this document, from this server's static files",
                "responses": {
                    "200": {
                        "description": "an HTML page",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


def _dictionary_schemas() -> dict[str, Any]:
    """The shapes of crud.dictionary: the dictionary, a table, a field."""
    names = {"type": "array", "items": {"type": "string"}}
    flags = ("primary", "auto", "unique", "required", "nullable", "owner", "readonly", "searchable")
    field = {
        "type": "object",
        "required": ["name", "type"],
        "properties": {
            "name": {"type": "string"},
            "type": {"type": "string"},
            **{flag: {"type": "boolean", "enum": [True]} for flag in flags},
            "min": {"type": "number"},
            "max": {"type": "number"},
            "max_length": {"type": "integer"},
            "pattern": {"type": "string"},
            "choices": {"type": "array", "items": {}},
            "default": {"description": "any JSON value"},
            "max_digits": {"type": "integer"},
            "decimal_places": {"type": "integer"},
            "foreign": {"type": "string", "description": "<table>.<column>"},
            "on_delete": {"type": "string"},
            "read": {"type": "string", "description": "the field's read rule"},
            "write": {"type": "string", "description": "the field's write rule"},
        },
    }
    table = {
        "type": "object",
        "required": ["name", "source", "operations", "fields", "includes", "named_filters", "sort"],
        "properties": {
            "name": {"type": "string"},
            "source": {"type": "string", "enum": ["schema", "queries"]},
            "operations": {
                "type": "array",
                "items": {"type": "string", "enum": ["list", "show", "create", "update", "delete"]},
            },
            "fields": {"type": "array", "items": ref("SchemaField")},
            "includes": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["kind", "table"],
                    "properties": {
                        "kind": {"type": "string", "enum": ["one", "many", "link"]},
                        "table": {"type": "string"},
                    },
                },
            },
            "named_filters": {"type": "object", "additionalProperties": True},
            "sort": names,
            "indexes": {"type": "array", "items": names},
            "unique": {"type": "array", "items": names},
            "access": {
                "type": "object",
                "description": "the access rule of each operation, as written (or the default)",
                "additionalProperties": {"type": "string"},
            },
        },
    }
    dictionary = {
        "type": "object",
        "required": ["app", "version", "tables"],
        "properties": {
            "app": {"type": "string"},
            "version": {"type": "string"},
            "tables": {"type": "array", "items": ref("SchemaTable")},
        },
    }
    return {"SchemaDictionary": dictionary, "SchemaTable": table, "SchemaField": field}
