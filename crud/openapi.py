"""The OpenAPI 3 description of one tenant's API, generated from its Resources.

It covers auth, every exposed resource with its operations and parameters, the response
envelope and the error codes; clients and Swagger UI (`<base>/_docs`) read it at
`<base>/_openapi`.
"""

from __future__ import annotations

from crud.dictionary import exposed
from crud.params import FILTER_OPERATORS, MAX_PER_PAGE
from crud.resource import MISSING, FieldSpec
from crud.runtime import BoundResource
from crud.serializers import writable_fields
from crud.sql import placeholders
from tenants import hooks
from tenants.config import Tenant

ERRORS = {
    "400": "VALIDATION_ERROR: invalid input, parameters or JSON",
    "401": "UNAUTHORIZED or TOKEN_EXPIRED",
    "403": "FORBIDDEN",
    "404": "NOT_FOUND",
    "405": "METHOD_NOT_ALLOWED",
    "409": "CONFLICT",
    "413": "PAYLOAD_TOO_LARGE",
    "415": "UNSUPPORTED_MEDIA_TYPE",
    "429": "RATE_LIMITED",
    "500": "INTERNAL_ERROR",
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def value_schema(spec: FieldSpec, *, writing: bool = False) -> dict:
    kind = "int" if spec.foreign else spec.type
    if spec.choices:
        # OpenAPI 3.0 ignores `nullable` beside a bare enum: null must be one of the values
        schema: dict = {"enum": list(spec.choices) + ([None] if spec.nullable else [])}
    elif kind in ("int", "bigint"):
        schema = {"type": "integer", "format": "int32" if kind == "int" else "int64"}
        if spec.foreign and writing:
            schema["minimum"] = 1
    elif kind in ("string", "text", "email", "url"):
        schema = {"type": "string"}
        if kind == "email":
            schema["format"] = "email"
        if kind == "url":
            schema["format"] = "uri"
    elif kind == "bool":
        schema = {"type": "boolean"}
    elif kind == "date":
        schema = {"type": "string", "format": "date"}
    elif kind == "datetime":
        schema = {"type": "string", "format": "date-time"}
    elif kind == "decimal":
        schema = {"type": "string", "format": "decimal", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
    elif kind == "float":
        schema = {"type": "number"}
    else:  # json: any JSON value
        schema = {}
    if writing:
        if spec.max_length and kind == "string":
            schema["maxLength"] = spec.max_length
        if spec.pattern and kind == "string":
            schema["pattern"] = spec.pattern
        if spec.min is not None and kind in ("int", "bigint", "float"):
            schema["minimum"] = spec.min
        if spec.max is not None and kind in ("int", "bigint", "float"):
            schema["maximum"] = spec.max
        if spec.required and kind in ("string", "text"):
            schema["minLength"] = 1
    if spec.default is not MISSING:
        schema["default"] = spec.default
    if spec.nullable or (kind == "json" and not writing):
        schema["nullable"] = True
    return schema


def record_schema(bound: BoundResource) -> dict:
    if bound.resource.source == "queries":
        return {"type": "object", "additionalProperties": True, "description": "the columns of the SQL"}
    fields = bound.resource.visible_fields
    return {
        "type": "object",
        "properties": {spec.name: value_schema(spec) for spec in fields},
        # `?fields=` may trim any column but the key
        "required": [bound.resource.primary.name],
    }


def input_schema(bound: BoundResource, operation: str) -> dict:
    fields = writable_fields(bound, operation)
    schema = {
        "type": "object",
        "properties": {spec.name: value_schema(spec, writing=True) for spec in fields},
        "additionalProperties": False,
    }
    required = [s.name for s in fields if s.required and s.default is MISSING and operation != "partial"]
    if required:
        schema["required"] = required
    return schema


def envelope(data: dict, meta: dict | None = None) -> dict:
    properties = {"success": {"type": "boolean", "enum": [True]}, "message": {"type": "string"}, "data": data}
    if meta:
        properties["meta"] = meta
    return {"type": "object", "required": ["success", "message", "data"], "properties": properties}


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _responses(success: str, schema: dict, description: str, errors: tuple[str, ...]) -> dict:
    responses = {success: {"description": description, "content": {"application/json": {"schema": schema}}}}
    for code in errors:
        responses[code] = {"$ref": f"#/components/responses/E{code}"}
    return responses


COMMON = ("400", "401", "404", "405", "413", "415", "500")


def _list_parameters(bound: BoundResource) -> list[dict]:
    def query(name: str, schema: dict, description: str) -> dict:
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

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
                    {**query(name, {"type": "string"}, "a value of the query's SQL"), "required": True}
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


def _resource_paths(bound: BoundResource) -> dict:
    name, resource = bound.name, bound.resource
    schema_name = f"{name}_record"
    paths: dict = {}
    page_meta = {
        "type": "object",
        "properties": {
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer"},
            "pages": {"type": "integer"},
            "next_cursor": {"type": "string", "nullable": True},
        },
    }
    collection: dict = {}
    if resource.allows("list"):
        collection["get"] = {
            "tags": [name],
            "summary": f"List {name}",
            "operationId": f"{name}_list",
            "parameters": _list_parameters(bound),
            "responses": _responses(
                "200",
                envelope({"type": "array", "items": _ref(schema_name)}, page_meta),
                "a page of rows",
                COMMON,
            ),
        }
    if resource.allows("create"):
        created = {
            "allOf": [_ref(schema_name), {"type": "object", "properties": {"insert_id": {"type": "integer"}}}]
        }
        collection["post"] = {
            "tags": [name],
            "summary": f"Create a row of {name}",
            "operationId": f"{name}_create",
            "requestBody": _json_body(input_schema(bound, "create")),
            "responses": _responses("201", envelope(created), "the created row", (*COMMON, "409")),
        }
    if collection:
        paths[f"/{name}"] = collection
    item: dict = {}
    id_parameter = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    if resource.allows("show"):
        item["get"] = {
            "tags": [name],
            "summary": f"One row of {name}",
            "operationId": f"{name}_show",
            "responses": _responses("200", envelope(_ref(schema_name)), "the row", COMMON),
        }
    if resource.allows("update"):
        for method, operation in (("put", "update"), ("patch", "partial")):
            item[method] = {
                "tags": [name],
                "summary": f"{'Replace' if method == 'put' else 'Change'} a row of {name}",
                "operationId": f"{name}_{method}",
                "requestBody": _json_body(input_schema(bound, operation)),
                "responses": _responses(
                    "200", envelope(_ref(schema_name)), "the updated row", (*COMMON, "409")
                ),
            }
    if resource.allows("delete"):
        deleted = {
            "type": "object",
            "properties": {"affected_rows": {"type": "integer"}},
            "required": ["affected_rows"],
        }
        item["delete"] = {
            "tags": [name],
            "summary": f"Delete a row of {name}",
            "operationId": f"{name}_delete",
            "responses": _responses("200", envelope(deleted), "deleted", (*COMMON, "409")),
        }
    if item:
        item["parameters"] = [id_parameter]
        paths[f"/{name}/{{id}}"] = item
    return paths


def _auth_paths(tenant: Tenant) -> dict:
    credentials = {
        "type": "object",
        "required": ["email", "password"],
        "properties": {
            "email": {"type": "string", "minLength": 1, "maxLength": 254},
            "password": {"type": "string", "minLength": 1, "maxLength": 128},
        },
        "additionalProperties": False,
    }
    register = {
        "type": "object",
        "required": ["email", "password", "name"],
        "properties": {
            "email": {"type": "string", "format": "email", "maxLength": 254},
            "password": {"type": "string", "minLength": 8, "maxLength": 128},
            "name": {"type": "string", "minLength": 1, "maxLength": 255},
        },
        "additionalProperties": False,
    }
    refresh = {
        "type": "object",
        "required": ["refresh_token"],
        "properties": {"refresh_token": {"type": "string", "minLength": 1, "maxLength": 4096}},
        "additionalProperties": False,
    }
    public = {"security": []}
    paths = {
        "/auth/register": {
            "post": {
                **public,
                "tags": ["auth"],
                "operationId": "auth_register",
                "summary": "Create an account",
                "requestBody": _json_body(register),
                "responses": _responses(
                    "201", envelope(_ref("Session")), "a session", ("400", "409", "413", "415", "500")
                ),
            }
        },
        "/auth/login": {
            "post": {
                **public,
                "tags": ["auth"],
                "operationId": "auth_login",
                "summary": "Log in"
                + (f" (with {', '.join(tenant.login_includes)})" if tenant.login_includes else ""),
                "requestBody": _json_body(credentials),
                "responses": _responses(
                    "200", envelope(_ref("Session")), "a session", ("400", "401", "413", "415", "429", "500")
                ),
            }
        },
        "/auth/refresh": {
            "post": {
                **public,
                "tags": ["auth"],
                "operationId": "auth_refresh",
                "summary": "Rotate the refresh token",
                "requestBody": _json_body(refresh),
                "responses": _responses(
                    "200", envelope(_ref("Session")), "a new session", ("400", "401", "413", "415", "500")
                ),
            }
        },
        "/auth/me": {
            "get": {
                "tags": ["auth"],
                "operationId": "auth_me",
                "summary": "The current user",
                "responses": _responses(
                    "200",
                    envelope({"type": "object", "required": ["user"], "properties": {"user": _ref("User")}}),
                    "the user",
                    ("401", "500"),
                ),
            }
        },
        "/auth/logout": {
            "post": {
                "tags": ["auth"],
                "operationId": "auth_logout",
                "summary": "Revoke this token",
                "responses": _responses("200", envelope({"nullable": True}), "logged out", ("401", "500")),
            }
        },
    }
    if hooks.account_mailer(tenant, "password_reset") is not None:
        paths.update(_password_reset_paths(public))
    return paths


def _password_reset_paths(public: dict) -> dict:
    forgot = {
        "type": "object",
        "required": ["email"],
        "properties": {"email": {"type": "string", "format": "email", "maxLength": 254}},
        "additionalProperties": False,
    }
    reset = {
        "type": "object",
        "required": ["token", "password"],
        "properties": {
            "token": {"type": "string", "minLength": 1, "maxLength": 200},
            "password": {"type": "string", "minLength": 8, "maxLength": 128},
        },
        "additionalProperties": False,
    }
    nothing = envelope({"nullable": True})
    return {
        "/auth/password/forgot": {
            "post": {
                **public,
                "tags": ["auth"],
                "operationId": "auth_password_forgot",
                "summary": "E-mail a single-use reset token (the same answer for unknown addresses)",
                "requestBody": _json_body(forgot),
                "responses": _responses("202", nothing, "accepted", ("400", "413", "415", "429", "500")),
            }
        },
        "/auth/password/reset": {
            "post": {
                **public,
                "tags": ["auth"],
                "operationId": "auth_password_reset",
                "summary": "Set a new password with a reset token; every refresh token is revoked",
                "requestBody": _json_body(reset),
                "responses": _responses("200", nothing, "password changed", ("400", "413", "415", "500")),
            }
        },
    }


def _components(bounds: list[BoundResource]) -> dict:
    error = {
        "type": "object",
        "required": ["success", "error"],
        "properties": {
            "success": {"type": "boolean", "enum": [False]},
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"type": "object", "additionalProperties": True},
                    "request_id": {"type": "string"},
                },
            },
        },
    }
    user = {
        "type": "object",
        "required": ["id", "email", "name", "role", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "name": {"type": "string"},
            "role": {"type": "string", "enum": ["default", "admin"]},
            "created_at": {"type": "string", "format": "date-time"},
        },
    }
    session = {
        "type": "object",
        "required": ["token", "refresh_token", "token_type", "expires_in", "user"],
        "properties": {
            "token": {"type": "string"},
            "refresh_token": {"type": "string"},
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "expires_in": {"type": "integer"},
            "user": _ref("User"),
        },
        "additionalProperties": True,
    }
    schemas = {"Error": error, "User": user, "Session": session}
    for bound in bounds:
        schemas[f"{bound.name}_record"] = record_schema(bound)
    responses = {
        f"E{code}": {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}
        for code, description in ERRORS.items()
    }
    return {
        "schemas": schemas,
        "responses": responses,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
    }


def openapi_document(tenant: Tenant) -> dict:
    bounds = exposed(tenant)
    paths = _auth_paths(tenant)
    for bound in bounds:
        paths.update(_resource_paths(bound))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"{tenant.app} API",
            "version": tenant.version,
            "description": "Served by SOGOMS. Every answer is an envelope: "
            '{"success": true, "message", "data"} or {"success": false, "error": {code, message, details}}.',
        },
        "servers": [{"url": tenant.base_path}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": _components(bounds),
    }
