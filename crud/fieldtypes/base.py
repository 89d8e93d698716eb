"""The base class of the resource engine's field types: all one schema type does, in one class.

A schema type name (`int`, `decimal`, `email`...) is one `FieldType` subclass registered in
`crud.fieldtypes.registry`. The engine's modules never branch on type names; they ask the
type for its Django model field (`crud.dynamic`), its DRF field (`crud.serializers`), the
OpenAPI schema of its values (`crud.openapi`), the filter operators it allows and how a
query-string value becomes a Python value (`crud.params`), how a database column reads
back as it (`crud.introspect`, `crud.schematools`), and what the admin and the data
dictionary show. The parts every type shares (null, default, unique, choices, validators)
stay in those modules; a type only says what is its own.
"""

# The base methods are the defaults a type overrides: their arguments are the interface,
# whether or not a default reads them.
# ruff: noqa: ARG002

from __future__ import annotations

from collections.abc import Mapping
from decimal import InvalidOperation
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from django.db import models
from rest_framework import serializers

if TYPE_CHECKING:
    from crud.resource import FieldSpec
    from crud.schematools.shapes import ColumnShape

# The query language's operators (`?filter[f][op]=`) in the groups types allow them by.
EQUALITY = frozenset({"eq", "ne", "in", "isnull"})
ORDERING = frozenset({"lt", "lte", "gt", "gte"})
TEXT_MATCHING = frozenset({"contains", "icontains", "startswith"})

EMPTY: Mapping[str, Any] = MappingProxyType({})


class _Invalid:
    """The one value `coerce()` gives for text that is not a value of the type."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


def parse_bool(raw: str) -> bool | None:
    """A query-string truth value (true/false/1/0, any case, blanks around), or None."""
    return {"true": True, "1": True, "false": False, "0": False}.get(raw.strip().lower())


class FieldType:
    """One schema field type. Subclass it, set `name` and what differs, and `@register` it.

    Class attributes describe the type; methods build what the engine needs from a
    `FieldSpec` (a declared field) or from an introspected column.
    """

    name: ClassVar[str]  # the schema type name, `type:` in the YAML

    # --- the model and the database
    model_class: ClassVar[type[models.Field]]
    auto_class: ClassVar[type[models.Field] | None] = None  # set for types that can be `auto`
    takes_max_length: ClassVar[bool] = False  # the schema key `max_length` applies
    # a scalar default also goes into the table's DEFAULT clause (not every engine allows
    # one on TEXT/BLOB/JSON columns, and date defaults are not portable literals)
    db_default_allowed: ClassVar[bool] = False
    # Django field class names (what database introspection answers) that read back as
    # this type; each name belongs to one type only
    django_types: ClassVar[tuple[str, ...]] = ()

    # --- the API
    serializer_class: ClassVar[type[serializers.Field]]
    openapi: ClassVar[Mapping[str, Any]] = EMPTY  # the OpenAPI schema of a value
    openapi_nullable_on_read: ClassVar[bool] = False  # a read value may be null whatever the spec

    # --- the query language
    operators: ClassVar[frozenset[str]] = EQUALITY | ORDERING
    sortable: ClassVar[bool] = True
    integer: ClassVar[bool] = False  # values are whole numbers (keys in a URL are digits)
    # how a compiled read stands in for a value of this type: "int" and "str" pass through
    # the ORM unchanged; "other" values are converted, so such reads are never cached
    marker_kind: ClassVar[str] = "other"

    # --- the operators' admin
    admin_list_filter: ClassVar[bool] = False  # offered as a filter in the side bar
    admin_form_options: ClassVar[Mapping[str, Any]] = EMPTY  # formfield_overrides of model_class

    @property
    def can_be_auto(self) -> bool:
        return self.auto_class is not None

    def __repr__(self) -> str:
        return f"<field type {self.name}>"

    # --- the model and the database -----------------------------------------------------------

    def model_field(self, spec: FieldSpec, options: dict[str, Any]) -> models.Field:
        """The Django field of a column of this type; `options` are the ones all types share."""
        return self.model_class(**options)

    def auto_model_field(self, options: dict[str, Any]) -> models.Field:
        """The Django field of an auto-increment key of this type."""
        if self.auto_class is None:
            raise ValueError(f"{self.name} fields cannot be auto")
        return self.auto_class(**options)

    def existing_field(
        self, shape: ColumnShape, like: models.Field | None, options: dict[str, Any]
    ) -> models.Field:
        """A field standing for a column as the database has it now (the old side of an ALTER).

        `like` is the field the schema wants, if any, for what the database does not say.
        """
        return self.model_class(**options)

    # --- the API ----------------------------------------------------------------------------------

    def serializer_field(self, spec: FieldSpec, options: dict[str, Any]) -> serializers.Field:
        """The DRF field checking a written value; `options` hold required and allow_null."""
        return self.serializer_class(**options)

    def openapi_schema(self, spec: FieldSpec, *, writing: bool) -> dict[str, Any]:
        """The OpenAPI schema of a value (of a written value if `writing`)."""
        return dict(self.openapi)

    def openapi_constraints(self, spec: FieldSpec) -> dict[str, Any]:
        """What a written value must also meet, from the field's own limits (min, size...);
        documented beside the type's schema or beside an `enum` of its choices."""
        return {}

    # --- the query language -------------------------------------------------------------------

    def coerce(self, raw: str) -> Any:
        """A query-string value as the type's Python value, or INVALID. Never raises."""
        try:
            return self.parse(raw)
        except (ValueError, InvalidOperation, OverflowError):
            return INVALID

    def parse(self, raw: str) -> Any:
        """`coerce()` without the safety net: may raise ValueError or return INVALID."""
        return raw

    # --- reading an existing database ---------------------------------------------------------

    def claims_column(self, django_type: str, column: Any) -> bool:
        """True for a column that Django reads as another type but that holds this one."""
        return False

    def spec_options(self, column: Any) -> dict[str, Any]:
        """FieldSpec keywords read from an introspected column (sizes of a v1 table)."""
        return {}

    def shape_options(self, column: Any) -> dict[str, Any]:
        """ColumnShape keywords (size, digits) read from an introspected column."""
        return {}

    def model_shape_options(self, field_obj: models.Field) -> dict[str, Any]:
        """ColumnShape keywords (size, digits) of a model field, to compare with the database."""
        return {}

    def literal_default(self, text: str) -> Any:
        """A database default (normalized text) as a value of the type, or None if it is
        none the schema can carry (an expression such as CURRENT_TIMESTAMP)."""
        return None

    # --- describing -------------------------------------------------------------------------------

    def dictionary_entries(self, spec: FieldSpec) -> dict[str, Any]:
        """What the data dictionary says of a field beyond the keys every type has."""
        return {}

    def schema_entries(self, shape: ColumnShape) -> dict[str, Any]:
        """Schema YAML keys (size, digits) that `init` writes for an existing column."""
        return {}
