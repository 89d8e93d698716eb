"""The field-type registry (crud.fieldtypes): one class per schema type, asked by every module.

Unit tests check that each type's model field, DRF field, OpenAPI schema, operators and
query-string coercion agree with each other; the config tests check that the schema
front-end reads type names from the registry; the last test registers a new type and
uses it from YAML to rows and back without touching any other module.
"""

from __future__ import annotations

import re
import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.db import connections, models
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from crud import fieldtypes
from crud.config import load_resources, resources_of
from crud.dictionary import field_entry
from crud.dynamic import model_field
from crud.fieldtypes import EQUALITY, INVALID, FieldType, field_type, value_type
from crud.openapi import value_schema
from crud.params import FILTER_OPERATORS, coerce, parse_query
from crud.resource import FieldSpec, Resource
from crud.serializers import drf_field
from sogoms_site.errors import InvalidInput
from tenants.auth.principal import TenantPrincipal
from tenants.config.loader import LoadOptions, LoadResult, load_config

BUILT_IN = {
    "int",
    "bigint",
    "string",
    "text",
    "bool",
    "date",
    "datetime",
    "decimal",
    "float",
    "json",
    "email",
    "url",
}
# a database keeps no e-mail or URL type: their columns read back as sized strings
READS_BACK_AS = {"email": "string", "url": "string"}


def spec(kind: str, **options: Any) -> FieldSpec:
    return FieldSpec(name="f", type=kind, **options)


def model_of(field_spec: FieldSpec) -> models.Field:
    table = Resource(app="t", name="t", fields=(field_spec,), operations=frozenset(), source="schema")
    return model_field(field_spec, table, {})


# --- the registry -------------------------------------------------------------------------------


def test_every_built_in_schema_type_name_has_its_class():
    assert set(fieldtypes.names()) >= BUILT_IN
    for name in BUILT_IN:
        kind = field_type(name)
        assert isinstance(kind, FieldType)
        assert kind.name == name


def test_every_type_of_the_test_tenants_schema_is_registered():
    raw = yaml.safe_load(Path("tests/config/schema/alpha.yaml").read_text())
    used = {field["type"] for table in raw["tables"].values() for field in table["fields"].values()}

    assert used <= set(fieldtypes.names())


def test_an_unknown_type_name_is_an_error_not_a_default():
    assert fieldtypes.find("huge") is None
    with pytest.raises(ValueError, match="unknown field type 'huge'"):
        field_type("huge")


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_each_type_allows_only_operators_of_the_query_language(name):
    kind = field_type(name)

    assert kind.operators <= set(FILTER_OPERATORS)
    assert "isnull" in kind.operators


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_the_column_a_type_creates_reads_back_as_that_type(name):
    created = model_of(spec(name)).get_internal_type()

    assert fieldtypes.kind_of_django_type(created) == READS_BACK_AS.get(name, name)


def test_a_django_type_already_read_by_a_type_cannot_be_claimed_again():
    class Impostor(FieldType):
        name = "impostor"
        model_class = models.CharField
        django_types = ("CharField",)

    with pytest.raises(ValueError, match="CharField"):
        fieldtypes.register(Impostor)
    assert fieldtypes.find("impostor") is None


def test_a_type_name_cannot_be_registered_twice():
    class Again(FieldType):
        name = "decimal"

    with pytest.raises(ValueError, match="'decimal' is already registered"):
        fieldtypes.register(Again)
    assert type(field_type("decimal")).__name__ == "DecimalType"


# --- representative types: model, serializer, OpenAPI and operators agree --------------------


def test_decimal_is_exact_in_the_model_the_serializer_the_schema_and_the_query_string():
    field_spec = spec("decimal", max_digits=6, decimal_places=2, min=0)

    column = model_of(field_spec)
    checker = drf_field(field_spec)

    assert isinstance(column, models.DecimalField)
    assert (column.max_digits, column.decimal_places) == (6, 2)
    assert isinstance(checker, serializers.DecimalField)
    assert (checker.max_digits, checker.decimal_places) == (6, 2)
    assert checker.to_internal_value("12.50") == coerce(field_spec, "12.50") == Decimal("12.50")
    with pytest.raises(ValidationError):
        checker.run_validation("-1")  # min: 0
    schema = value_schema(field_spec, writing=True)
    assert (schema["type"], schema["format"]) == ("string", "decimal")
    assert "minimum" not in schema  # a string has no minimum: the limit is the serializer's
    assert {"lt", "gte"} <= field_type("decimal").operators
    assert "contains" not in field_type("decimal").operators


def test_int_refuses_the_same_out_of_range_value_in_a_body_and_in_a_query_string():
    field_spec = spec("int")
    checker = drf_field(field_spec)

    with pytest.raises(ValidationError):
        checker.run_validation(2**31)
    assert coerce(field_spec, str(2**31)) is INVALID
    assert checker.to_internal_value(2**31 - 1) == coerce(field_spec, str(2**31 - 1))
    assert isinstance(model_of(field_spec), models.IntegerField)
    assert value_schema(field_spec) == {"type": "integer", "format": "int32", "nullable": True}
    assert value_schema(spec("bigint"))["format"] == "int64"


def test_an_auto_key_is_the_auto_field_of_its_integer_type():
    assert isinstance(model_of(spec("int", primary=True, auto=True)), models.AutoField)
    assert isinstance(model_of(spec("bigint", primary=True, auto=True)), models.BigAutoField)
    assert not field_type("string").can_be_auto


def test_email_is_a_checked_string_of_254_characters_that_cannot_be_blank():
    field_spec = spec("email")

    column = model_of(field_spec)
    checker = drf_field(field_spec)

    assert isinstance(column, models.EmailField)
    assert column.max_length == checker.max_length == 254
    assert isinstance(checker, serializers.EmailField)
    assert not checker.allow_blank
    assert value_schema(field_spec) == {"type": "string", "format": "email", "nullable": True}
    assert {"icontains", "startswith"} <= field_type("email").operators


def test_string_documents_its_size_and_pattern_where_the_serializer_enforces_them():
    field_spec = spec("string", max_length=12, pattern="^[a-z]+$", required=True)

    checker = drf_field(field_spec)
    schema = value_schema(field_spec, writing=True)

    assert (checker.max_length, schema["maxLength"]) == (12, 12)
    assert schema["pattern"] == "^[a-z]+$"
    assert schema["minLength"] == 1
    assert model_of(field_spec).max_length == 12
    with pytest.raises(ValidationError):
        checker.run_validation("UPPER")


def test_json_can_only_be_tested_for_null_and_never_sorted():
    kind = field_type("json")

    assert kind.operators == {"isnull"}
    assert not kind.sortable
    assert value_schema(spec("json", required=True)) == {"nullable": True}  # JSON null is a value
    assert isinstance(model_of(spec("json")), models.JSONField)


def test_bool_has_no_order_and_reads_query_string_truth_values():
    field_spec = spec("bool")

    assert not field_type("bool").operators & {"lt", "lte", "gt", "gte"}
    assert coerce(field_spec, " TRUE ") is True
    assert coerce(field_spec, "yes") is INVALID
    assert drf_field(field_spec).to_internal_value("true") is True


def test_date_reads_the_same_iso_text_in_a_body_and_a_query_string():
    field_spec = spec("date")

    assert drf_field(field_spec).to_internal_value("2024-02-29") == coerce(field_spec, "2024-02-29")
    assert coerce(field_spec, "2024-02-29") == date(2024, 2, 29)
    assert value_schema(field_spec)["format"] == "date"


def test_a_foreign_key_speaks_as_a_positive_int_whatever_its_declared_width():
    field_spec = spec("bigint", foreign=("projects", "id"), required=True)

    kind = value_type(field_spec)
    checker = drf_field(field_spec)

    assert kind.integer
    assert checker.min_value == 1
    assert value_schema(field_spec, writing=True) == {"type": "integer", "format": "int32", "minimum": 1}
    assert coerce(field_spec, "0") == 0  # a filter may ask for any key; only writes need a real one


def test_the_data_dictionary_gives_the_digits_of_a_decimal_only():
    assert field_entry(spec("decimal", max_digits=6, decimal_places=1))["max_digits"] == 6
    assert "max_digits" not in field_entry(spec("float"))


# --- config load ---------------------------------------------------------------------------------


def load(tmp_path: Path, table: str) -> LoadResult:
    config = tmp_path / "config"
    (config / "routes").mkdir(parents=True, exist_ok=True)
    (config / "schema").mkdir(exist_ok=True)
    (tmp_path / "jwt").write_bytes(b"k" * 40)
    (config / "routes" / "shop.yaml").write_text(
        "app: shop\nhosts: [shop.example]\nauth:\n  jwt_secret_file: jwt\n"
    )
    (config / "schema" / "shop.yaml").write_text("tables:\n" + textwrap.indent(textwrap.dedent(table), "  "))
    return load_config(
        LoadOptions(config_dir=config, base_dir=tmp_path, var_dir=tmp_path, sections=(load_resources,))
    )


THINGS = """\
things:
  fields:
    id: { type: int, primary: true, auto: true }
"""


def test_an_unknown_type_is_refused_at_config_load_with_the_known_types(tmp_path):
    result = load(tmp_path, THINGS + "    size: { type: huge }\n")

    assert not result.ok
    (problem,) = result.problems
    assert (problem.file, problem.path) == ("schema/shop.yaml", "tables.things.fields.size.type")
    assert problem.message.startswith("'huge' is not a field type")
    assert all(name in problem.message for name in BUILT_IN)


def test_max_length_and_auto_are_refused_on_types_that_take_none(tmp_path):
    result = load(
        tmp_path, THINGS + "    body: { type: text, max_length: 10 }\n    n: { type: float, auto: true }\n"
    )

    messages = {problem.path: problem.message for problem in result.problems}
    assert messages["tables.things.fields.body.max_length"] == "applies to type string, not text"
    assert messages["tables.things.fields.n.auto"] == "only int and bigint fields can be auto"


# --- a new type, end to end ----------------------------------------------------------------------

COLOR = r"^#[0-9a-f]{6}$"


class ColorType(FieldType):
    """A test type: `#rrggbb`, stored as a 7-character string."""

    name = "color"
    model_class = models.CharField
    serializer_class = serializers.RegexField
    openapi = {"type": "string", "pattern": COLOR}
    operators = EQUALITY
    marker_kind = "str"

    def model_field(self, spec: FieldSpec, options: dict[str, Any]) -> models.Field:
        return models.CharField(max_length=7, **options)

    def serializer_field(self, spec: FieldSpec, options: dict[str, Any]) -> serializers.Field:
        return serializers.RegexField(COLOR, **options)

    def parse(self, raw: str) -> Any:
        return raw if re.fullmatch(COLOR, raw) else INVALID


SWATCHES = {
    "tables": {
        "swatches": {
            "fields": {
                "id": {"type": "int", "primary": True, "auto": True},
                "label": {"type": "string", "max_length": 40},
                "tint": {"type": "color", "required": True},
            },
            "crud": ["list", "show", "create"],
        }
    }
}


@pytest.fixture
def color_type():
    fieldtypes.register(ColorType)
    yield field_type("color")
    fieldtypes.unregister("color")


@pytest.fixture
def scratch(tmp_path):
    """A tenant `scratch` over the empty test database `tenant_scratch`, dropped afterwards."""

    def make() -> LoadResult:
        (tmp_path / "routes").mkdir(exist_ok=True)
        (tmp_path / "schema").mkdir(exist_ok=True)
        (tmp_path / "secret").write_text("r" * 40)
        (tmp_path / "schema" / "scratch.yaml").write_text(yaml.safe_dump(SWATCHES))
        (tmp_path / "routes" / "scratch.yaml").write_text(
            f"app: scratch\nhosts: [scratch.test]\nauth: {{jwt_secret_file: {tmp_path / 'secret'}}}\n"
        )
        return load_config(
            LoadOptions(config_dir=tmp_path, base_dir=tmp_path, var_dir=tmp_path, sections=(load_resources,))
        )

    yield make
    connection = connections["tenant_scratch"]
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    with connection.schema_editor() as editor:
        for table in tables:
            editor.execute(editor.sql_delete_table % {"table": editor.quote_name(table)})


def test_a_type_is_unknown_to_the_config_until_it_is_registered(tmp_path):
    table = THINGS + "    tint: { type: color }\n"

    before = load(tmp_path, table)
    fieldtypes.register(ColorType)
    try:
        after = load(tmp_path, table)
    finally:
        fieldtypes.unregister("color")

    assert [problem.path for problem in before.problems] == ["tables.things.fields.tint.type"]
    assert after.ok, [str(problem) for problem in after.problems]
    assert resources_of(after.registry.get("shop"))["things"].field("tint").type == "color"


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_a_registered_type_works_from_yaml_to_rows_without_touching_other_modules(scratch, color_type):
    from crud import selectors, services
    from crud.runtime import bound_resource
    from crud.schematools import migrate
    from crud.schematools.diff import diff_tenant

    result = scratch()
    assert result.ok, [str(problem) for problem in result.problems]
    tenant = result.registry.get("scratch")
    migrate.apply(tenant, migrate.plan(tenant))
    assert diff_tenant(tenant) == []  # the table it made reads back as the schema says

    bound = bound_resource(tenant, "swatches")
    caller = TenantPrincipal(
        id=1,
        email="a@example.com",
        name="A",
        role="default",
        app="scratch",
        jti="",
        session_id="",
        expires_at=None,
    )
    created = services.record_create(bound=bound, caller=caller, data={"label": "sea", "tint": "#0a7bc2"})
    services.record_create(bound=bound, caller=caller, data={"label": "sand", "tint": "#e2c290"})
    with pytest.raises(ValidationError) as refused:
        services.record_create(bound=bound, caller=caller, data={"label": "bad", "tint": "blue"})
    assert set(refused.value.detail) == {"tint"}

    spec = parse_query({"filter[tint][eq]": ["#0a7bc2"]}, bound.resource)
    rows, _meta = selectors.rows_list(bound, caller, spec)
    assert [row["label"] for row in rows] == ["sea"]
    assert selectors.row_show(bound, caller, created["id"])["tint"] == "#0a7bc2"
    for query, reason in (
        ({"filter[tint][eq]": ["blue"]}, "is not a valid color"),
        ({"filter[tint][contains]": ["0a"]}, "contains applies to text fields, not color"),
        ({"filter[tint][gt]": ["#000000"]}, "gt does not apply to color"),
    ):
        with pytest.raises(InvalidInput) as bad_query:
            parse_query(query, bound.resource)
        assert reason in str(bad_query.value.details)

    tint = bound.resource.field("tint")
    assert value_schema(tint, writing=True) == {"type": "string", "pattern": COLOR}
    assert field_entry(tint)["type"] == "color"
    assert isinstance(bound.serializer("create")().fields["tint"], serializers.RegexField)


@pytest.mark.parametrize("text", ["\u00b2", "-\u00b2", "1\u00b9", "--5", "-"])
def test_an_integer_default_read_back_from_a_database_is_ascii_digits_or_nothing(text):
    assert field_type("int").literal_default(text) is None
    assert field_type("int").literal_default("-42") == -42
