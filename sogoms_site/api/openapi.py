"""OpenAPI building blocks of the API contract, and the one document a tenant serves.

The contract owns what every tenant API shares: the envelope, the error responses, the
bearer security scheme and the document skeleton. It knows no app. Each app describes
its own paths in a *provider*, `(tenant) -> OpenApiPart`, registered from its
`AppConfig.ready()`:

    from sogoms_site.api import openapi
    openapi.register_provider(my_paths)

`openapi_document(tenant)` asks every provider in registration order (the order of
INSTALLED_APPS) and merges their paths, component schemas, tags and `x-` extensions; two
providers describing the same path or the same schema name is a programming error.

The helpers (`envelope`, `json_body`, `responses`, `serializer_schema`, `model_schema`,
...) give the providers one way to write the shapes of the contract.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import models
from rest_framework import serializers

OPENAPI_VERSION = "3.0.3"
Schema = dict[str, Any]

# Status -> what the error envelope's code is then; each is `#/components/responses/E<status>`.
ERRORS: dict[str, str] = {
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


class DescribedTenant(Protocol):
    """What the skeleton reads of a tenant (tenants.config.Tenant has it)."""

    @property
    def app(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def base_path(self) -> str: ...


@dataclass(frozen=True)
class OpenApiPart:
    """What one app says about one tenant's API.

    `paths` are relative to the tenant's base path (`/auth/login`), `schemas` go to
    `components.schemas`, `tags` (`{"name", "description"}`) to the document's tag list,
    `extensions` are top-level `x-...` entries (e.g. the socket, which is not an HTTP path).
    """

    paths: dict[str, dict[str, Any]] = field(default_factory=dict)
    schemas: dict[str, Schema] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)
    extensions: dict[str, Any] = field(default_factory=dict)


PathProvider = Callable[[Any], OpenApiPart]  # (tenant) -> OpenApiPart

providers: list[PathProvider] = []


def register_provider(provider: PathProvider) -> None:
    """Add an app's description of its paths (idempotent; call from AppConfig.ready)."""
    if provider not in providers:
        providers.append(provider)


# --- building blocks ---------------------------------------------------------------------


def ref(name: str) -> Schema:
    """A reference to `components.schemas.<name>`."""
    return {"$ref": f"#/components/schemas/{name}"}


def envelope(data: Schema, meta: Schema | None = None) -> Schema:
    """The success envelope around `data` (and `meta`, for lists)."""
    properties = {"success": {"type": "boolean", "enum": [True]}, "message": {"type": "string"}, "data": data}
    if meta:
        properties["meta"] = meta
    return {"type": "object", "required": ["success", "message", "data"], "properties": properties}


def no_data() -> Schema:
    """The envelope of an answer that carries no data (`"data": null`)."""
    return envelope({"nullable": True})


def page_meta_schema(**more: Schema) -> Schema:
    """The `meta` of a page of a list (`sogoms_site.api.envelope.page_meta`), plus `more`."""
    properties = {name: {"type": "integer"} for name in ("page", "per_page", "total", "pages")}
    return {"type": "object", "properties": {**properties, **more}}


def json_body(schema: Schema) -> dict[str, Any]:
    """A required JSON request body."""
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def responses(success: str, schema: Schema, description: str, errors: Iterable[str]) -> dict[str, Any]:
    """The success response (a JSON body) and references to the contract's error responses."""
    answers: dict[str, Any] = {
        success: {"description": description, "content": {"application/json": {"schema": schema}}}
    }
    for code in errors:
        answers[code] = {"$ref": f"#/components/responses/E{code}"}
    return answers


def query_parameter(name: str, schema: Schema, description: str = "", *, required: bool = False) -> Schema:
    parameter: Schema = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def path_parameter(name: str, schema: Schema, description: str = "") -> Schema:
    parameter: Schema = {"name": name, "in": "path", "required": True, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def serializer_schema(serializer: serializers.Serializer | type[serializers.Serializer]) -> Schema:
    """The JSON schema of what an input serializer accepts (unknown keys refused: StrictInput)."""
    instance = serializer() if isinstance(serializer, type) else serializer
    properties = {name: _field_schema(item) for name, item in instance.fields.items() if not item.read_only}
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [name for name, item in instance.fields.items() if item.required and not item.read_only]
    if required:
        schema["required"] = required
    return schema


def query_parameters(serializer: type[serializers.Serializer]) -> list[Schema]:
    """Query parameters from a serializer that validates `request.query_params`."""
    instance = serializer()
    return [
        query_parameter(name, _field_schema(item), required=item.required)
        for name, item in instance.fields.items()
    ]


def _field_schema(item: serializers.Field) -> Schema:
    schema: Schema
    if isinstance(item, serializers.ChoiceField):
        schema = {"enum": list(item.choices)}
    elif isinstance(item, serializers.BooleanField):
        schema = {"type": "boolean"}
    elif isinstance(item, serializers.IntegerField):
        schema = _bounded({"type": "integer"}, minimum=item.min_value, maximum=item.max_value)
    elif isinstance(item, serializers.CharField):
        schema = _text_schema(item)
    elif isinstance(item, serializers.DictField):
        values = _field_schema(item.child)
        schema = {"type": "object", "additionalProperties": values or True}
    elif isinstance(item, serializers.ListField):
        schema = _bounded(
            {"type": "array", "items": _field_schema(item.child)},
            minItems=None if item.allow_empty else 1,
            maxItems=item.max_length,
        )
    elif isinstance(item, serializers.Serializer):
        schema = serializer_schema(item)
    else:  # JSONField, _UnvalidatedField (a DictField's child) and the like: any JSON value
        schema = {}
    if getattr(item, "allow_null", False) and schema:
        schema["nullable"] = True
    return schema


def _text_schema(item: serializers.CharField) -> Schema:
    schema: Schema = {"type": "string"}
    if isinstance(item, serializers.EmailField):
        schema["format"] = "email"
    shortest = max(item.min_length or 0, 0 if item.allow_blank else 1)
    return _bounded(schema, minLength=shortest or None, maxLength=item.max_length)


def _bounded(schema: Schema, **bounds: int | None) -> Schema:
    """`schema` with the bounds that are set (None: no bound)."""
    schema.update({keyword: value for keyword, value in bounds.items() if value is not None})
    return schema


def model_schema(model: type[models.Model], names: Iterable[str]) -> Schema:
    """The JSON schema of `names` of a model's rows as the API renders them (every key present)."""
    names = list(names)
    properties = {name: _column_schema(model._meta.get_field(name)) for name in names}
    return {"type": "object", "required": names, "properties": properties}


def _column_schema(column: Any) -> Schema:
    schema: Schema
    if column.choices:
        schema = {"enum": [value for value, _ in column.choices]}
    elif isinstance(column, models.BooleanField):
        schema = {"type": "boolean"}
    elif isinstance(column, models.IntegerField | models.AutoField):
        schema = {"type": "integer"}
    elif isinstance(column, models.DateTimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(column, models.DateField):
        schema = {"type": "string", "format": "date"}
    elif isinstance(column, models.CharField | models.TextField):
        schema = {"type": "string"}
    else:
        schema = {}
    if column.null:
        if "enum" in schema:
            schema["enum"].append(None)  # OpenAPI 3.0: null must be one of the values
        schema["nullable"] = True
    return schema


# --- the document ------------------------------------------------------------------------


def common_components() -> dict[str, Any]:
    """The components every document has: Envelope, Error, the error responses, bearer auth."""
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
    success = envelope({"description": "what the operation returns; null when it has nothing to say"})
    success["properties"]["meta"] = {"type": "object", "additionalProperties": True}
    return {
        "schemas": {"Envelope": success, "Error": error},
        "responses": {
            f"E{code}": {
                "description": description,
                "content": {"application/json": {"schema": ref("Error")}},
            }
            for code, description in ERRORS.items()
        },
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
    }


def openapi_document(tenant: DescribedTenant) -> dict[str, Any]:
    """The OpenAPI 3.0 document of `tenant`: the skeleton and what every provider says.

    Providers build fresh dicts on each call: a document shares no object with another."""
    components = common_components()
    paths: dict[str, Any] = {}
    tags: list[dict[str, str]] = []
    extensions: dict[str, Any] = {}
    for provider in providers:
        part = provider(tenant)
        _merge(paths, part.paths, "path", provider)
        _merge(components["schemas"], part.schemas, "schema", provider)
        _merge(extensions, part.extensions, "extension", provider)
        named = {tag["name"] for tag in tags}
        tags += [tag for tag in part.tags if tag["name"] not in named]  # the first description wins
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": f"{tenant.app} API",
            "version": tenant.version,
            "description": "Served by SOGOMS. Every answer is an envelope: "
            '{"success": true, "message", "data"} or {"success": false, "error": {code, message, details}}.',
        },
        "servers": [{"url": tenant.base_path}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": components,
    }
    if tags:
        document["tags"] = tags
    for name, value in extensions.items():
        if not name.startswith("x-"):
            raise ValueError(f"OpenAPI extension {name!r} must start with 'x-'")
        document[name] = value
    return document


def _merge(into: dict[str, Any], more: Mapping[str, Any], kind: str, provider: PathProvider) -> None:
    for key, value in more.items():
        if key in into:
            raise ValueError(f"OpenAPI {kind} {key!r} is described twice (again by {provider.__module__})")
        into[key] = value
