"""The list query language, unit by unit: `crud.params.parse_query`, cursors and `coerce`.

No request and no database: a QueryDict goes in, a QuerySpec or one VALIDATION_ERROR
comes out. The property tests feed arbitrary text and check that nothing but a checked
spec or an InvalidInput ever leaves the parser.
"""

from __future__ import annotations

import string
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache

import pytest
from django.http import QueryDict
from hypothesis import given, settings
from hypothesis import strategies as st

from crud.params import (
    FILTER_OPERATORS,
    QuerySpec,
    _Errors,
    coerce,
    decode_cursor,
    encode_cursor,
    is_invalid,
    parse_query,
)
from crud.resource import FieldSpec
from crud.runtime import bound_resource
from sogoms_site.api.errors import translate
from sogoms_site.api.paging import DEFAULT_PER_PAGE, MAX_PER_PAGE
from sogoms_site.errors import InvalidInput
from tenants.registry import registry


@cache
def bound(name: str):
    return bound_resource(registry().get("alpha"), name)


def tasks():
    return bound("tasks").resource


def includable(name: str = "tasks") -> tuple[str, ...]:
    return tuple(bound(name).includes)


def query(*pairs: tuple[str, str]) -> QueryDict:
    params = QueryDict(mutable=True)
    for key, value in pairs:
        params.appendlist(key, value)
    return params


def parse(*pairs, resource=None, **options) -> QuerySpec:
    return parse_query(query(*pairs), resource or tasks(), includable=includable(), **options)


def refusal(*pairs, resource=None, **options) -> dict:
    with pytest.raises(InvalidInput) as caught:
        parse(*pairs, resource=resource, **options)
    contract = translate(caught.value)
    assert contract.code == "VALIDATION_ERROR"
    assert contract.status_code == 400
    return caught.value.details


# --- parse_query: what it accepts ---------------------------------------------------------


def test_no_parameters_give_the_defaults():
    spec = parse()

    assert spec == QuerySpec()
    assert (spec.page, spec.per_page, spec.cursor, spec.fields) == (1, DEFAULT_PER_PAGE, None, None)


def test_a_filter_without_an_operator_is_an_equality_of_the_fields_type():
    spec = parse(("filter[position]", "3"), ("filter[title]", "Inbox"), ("filter[done]", "true"))

    assert spec.filters == [("position", "eq", 3), ("title", "eq", "Inbox"), ("done", "eq", True)]


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("filter[position][ne]", "2", ("position", "ne", 2)),
        ("filter[position][lt]", "-4", ("position", "lt", -4)),
        ("filter[estimate_hours][gte]", "1.50", ("estimate_hours", "gte", Decimal("1.50"))),
        ("filter[due_date][lte]", "2024-02-29", ("due_date", "lte", date(2024, 2, 29))),
        (
            "filter[created_at][gt]",
            "2024-01-01T10:00:00Z",
            ("created_at", "gt", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        ),
        ("filter[priority][in]", "low, high,", ("priority", "in", ["low", "high"])),
        ("filter[id][in]", "1,2,3", ("id", "in", [1, 2, 3])),
        ("filter[title][contains]", " 1 ", ("title", "contains", " 1 ")),
        ("filter[title][icontains]", "ABC", ("title", "icontains", "ABC")),
        ("filter[title][startswith]", "Re", ("title", "startswith", "Re")),
        ("filter[due_date][isnull]", "TRUE", ("due_date", "isnull", True)),
        ("filter[meta][isnull]", "0", ("meta", "isnull", False)),
    ],
)
def test_a_filter_is_converted_to_the_fields_type(key, raw, expected):
    assert parse((key, raw)).filters == [expected]


def test_sort_reads_fields_in_order_with_minus_for_descending():
    assert parse(("sort", "-position, title,id")).sort == [
        ("position", True),
        ("title", False),
        ("id", False),
    ]


def test_named_filters_fields_include_and_q_are_read():
    spec = parse(
        ("filter", "open,due_today"),
        ("fields", "id, title"),
        ("include", "project,tags"),
        ("q", "  report "),
        ("page", "3"),
        ("per_page", str(MAX_PER_PAGE)),
    )

    assert spec.named_filters == ["open", "due_today"]
    assert spec.fields == ["id", "title"]
    assert spec.include == ["project", "tags"]
    assert spec.q == "report"
    assert (spec.page, spec.per_page) == (3, MAX_PER_PAGE)


def test_an_empty_cursor_starts_keyset_pages_and_a_given_one_is_decoded():
    assert parse(("cursor", "")).cursor == []
    assert parse(("cursor", encode_cursor([3, 17]))).cursor == [3, 17]


def test_a_cursor_may_follow_a_sort_on_fields_that_cannot_be_null():
    spec = parse(("sort", "-title,id"), ("cursor", ""))

    assert spec.sort == [("title", True), ("id", False)]


def test_extra_parameters_are_left_to_the_caller():
    assert parse(("project_id", "4"), extra=("project_id",)) == QuerySpec()


# --- parse_query: what it refuses, by parameter name -----------------------------------------


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("filter[nope]", "1"),
        ("filter[title][like]", "x"),
        ("filter[title][]", "x"),
        ("filter[position][eq]", "1.5"),
        ("filter[position][eq]", "1 OR 1=1"),
        ("filter[position][in]", "1,two"),
        ("filter[position][in]", ","),
        ("filter[position][in]", ",".join(["1"] * 101)),
        ("filter[position][contains]", "1"),
        ("filter[done][lt]", "true"),
        ("filter[done][eq]", "yes"),
        ("filter[due_date][isnull]", "maybe"),
        ("filter[due_date][eq]", "2024-02-30"),
        ("filter[created_at][gt]", "today"),
        ("filter[estimate_hours][eq]", "NaN"),
        ("filter[meta][eq]", "{}"),
        ("sort", "position;DROP TABLE tasks"),
        ("sort", "meta"),
        ("sort", "nope"),
        ("page", "0"),
        ("page", "-2"),
        ("page", "1.0"),
        ("page", "\u00b2"),
        ("page", "\u0661"),
        ("per_page", "1\u0660"),
        ("per_page", str(MAX_PER_PAGE + 1)),
        ("per_page", ""),
        ("fields", "id,nope"),
        ("fields", ","),
        ("include", "project.tasks"),
        ("include", "user"),
        ("filter", "overdue"),
        ("q", "x" * 201),
        ("cursor", "not a cursor"),
        ("cursor", encode_cursor({"a": 1})),
        ("cursor", encode_cursor([])),
        ("limit", "5"),
        ("Sort", "title"),
        ("filter[title][eq][x]", "a"),
    ],
)
def test_a_bad_parameter_is_refused_and_named(key, raw):
    details = refusal((key, raw))

    assert list(details) == [key]
    assert all(isinstance(message, str) and message for message in details[key])


def test_every_bad_parameter_of_a_query_is_reported_at_once():
    details = refusal(
        ("filter[nope]", "1"), ("sort", "meta"), ("per_page", "1000"), ("fields", "x"), ("bogus", "1")
    )

    assert set(details) == {"filter[nope]", "sort", "per_page", "fields", "bogus"}


def test_a_cursor_with_a_sort_on_a_nullable_field_is_refused():
    assert list(refusal(("sort", "due_date"), ("cursor", ""))) == ["cursor"]


def test_a_hidden_field_is_not_a_field_for_the_query_language():
    specimens = bound("specimens").resource
    for pairs in ([("filter[secret_note]", "x")], [("sort", "secret_note")], [("fields", "secret_note")]):
        with pytest.raises(InvalidInput) as caught:
            parse_query(query(*pairs), specimens)
        assert list(caught.value.details) == [pairs[0][0]]


def test_q_on_a_table_without_search_fields_is_refused():
    statuses = bound("statuses").resource

    with pytest.raises(InvalidInput) as caught:
        parse_query(query(("q", "x")), statuses)

    assert list(caught.value.details) == ["q"]


def test_a_plain_mapping_of_lists_is_read_like_a_query_dict():
    spec = parse_query({"sort": ["title", "-position"], "filter[id]": ["7"]}, tasks())

    assert spec.sort == [("position", True)]  # the last value of a repeated key wins
    assert spec.filters == [("id", "eq", 7)]


# --- property tests ----------------------------------------------------------------------------

FIELD_NAMES = ("id", "title", "position", "due_date", "done", "meta", "priority", "created_at", "nope")
KNOWN_KEYS = ("sort", "page", "per_page", "cursor", "fields", "include", "q", "filter")
SHAPED_VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["", "1", "-1", "0", "true", "2024-01-01", "1.5", "a,b", "-position,title", "NaN", "1e400"]
    ),
    st.text(alphabet=string.digits + ",-.", max_size=25),
    st.lists(st.sampled_from((*FIELD_NAMES, "-title", "-id")), max_size=4).map(",".join),
)
KEYS = st.one_of(
    st.text(max_size=25),
    st.sampled_from(KNOWN_KEYS),
    st.builds(
        lambda name, op: f"filter[{name}]" + (f"[{op}]" if op else ""),
        st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8)),
        st.one_of(st.none(), st.sampled_from(FILTER_OPERATORS), st.text(max_size=6)),
    ),
)
PARAMS = st.lists(st.tuples(KEYS, st.lists(SHAPED_VALUES, min_size=1, max_size=3)), max_size=6)


def check_spec(spec: QuerySpec, resource, include_names) -> None:
    visible = {f.name: f for f in resource.visible_fields}
    for name, op, _value in spec.filters:
        assert name in visible
        assert op in FILTER_OPERATORS
    for name, descending in spec.sort:
        assert name in visible
        assert visible[name].type != "json"
        assert isinstance(descending, bool)
    assert set(spec.fields or ()) <= set(visible)
    assert set(spec.include) <= set(include_names)
    assert set(spec.named_filters) <= set(resource.named_filters)
    assert 1 <= spec.per_page <= MAX_PER_PAGE
    assert spec.page >= 1
    assert spec.cursor is None or isinstance(spec.cursor, list)


@settings(max_examples=300, deadline=None)
@given(PARAMS)
def test_any_query_gives_a_checked_spec_or_a_validation_error(pairs):
    params = QueryDict(mutable=True)
    for key, values in pairs:
        params.setlist(key, values)
    resource = tasks()

    try:
        spec = parse_query(params, resource, includable=includable())
    except InvalidInput as exc:
        assert exc.details
        assert all(isinstance(key, str) for key in exc.details)
        return
    check_spec(spec, resource, includable())


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=5))
def test_arbitrary_text_keys_and_values_never_raise_anything_else(mapping):
    params = QueryDict(mutable=True)
    for key, value in mapping.items():
        params[key] = value
    specimens = bound("specimens").resource

    try:
        spec = parse_query(params, specimens, includable=())
    except InvalidInput:
        return
    check_spec(spec, specimens, ())
    assert all(name != "secret_note" for name, _op, _value in spec.filters)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(FIELD_NAMES[:-1]), st.sampled_from(FILTER_OPERATORS), st.text(max_size=30))
def test_a_filter_on_a_visible_field_is_typed_or_refused(name, op, raw):
    resource = tasks()

    try:
        spec = parse_query(query((f"filter[{name}][{op}]", raw)), resource)
    except InvalidInput as exc:
        assert list(exc.details) == [f"filter[{name}][{op}]"]
        return
    ((field_name, field_op, value),) = spec.filters
    assert (field_name, field_op) == (name, op)
    kind = resource.field(name).type
    if op == "in":
        assert isinstance(value, list)
        assert value
        assert all(isinstance(item, bool) for item in value) or kind != "bool"
    elif op == "isnull" or kind == "bool":
        assert isinstance(value, bool)
    elif kind in ("int", "bigint") and op not in ("contains", "icontains", "startswith"):
        assert isinstance(value, int)


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)


@given(st.lists(JSON_SCALARS, min_size=1, max_size=6))
def test_a_cursor_decodes_to_the_values_it_was_made_from(values):
    errors = _Errors()

    token = encode_cursor(values)

    assert decode_cursor(token, errors) == values
    assert not errors
    assert set(token) <= set(string.ascii_letters + string.digits + "-_")


@given(st.text(max_size=60))
def test_any_text_decodes_to_a_cursor_or_one_error(raw):
    errors = _Errors()

    values = decode_cursor(raw, errors)

    if values is None:
        assert list(errors) == ["cursor"]
    else:
        assert not errors
        assert isinstance(values, list)
        assert values or raw == ""


def test_an_empty_cursor_is_the_start():
    errors = _Errors()

    assert decode_cursor("", errors) == []
    assert not errors


def test_a_cursor_date_and_decimal_values_travel_as_text():
    errors = _Errors()

    decoded = decode_cursor(encode_cursor([date(2024, 1, 2), Decimal("1.50")]), errors)

    assert decoded == ["2024-01-02", "1.50"]


# --- coerce ------------------------------------------------------------------------------------


def spec_of(kind: str) -> FieldSpec:
    return FieldSpec(name="f", type=kind)


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("int", "12", 12),
        ("int", "-3", -3),
        ("int", "007", 7),
        ("bigint", "9223372036854775807", 2**63 - 1),
        ("float", "1e3", 1000.0),
        ("float", "-0.25", -0.25),
        ("decimal", "1.50", Decimal("1.50")),
        ("decimal", "-2", Decimal("-2")),
        ("bool", "true", True),
        ("bool", "1", True),
        ("bool", "FALSE", False),
        ("bool", " 0 ", False),
        ("date", "2024-02-29", date(2024, 2, 29)),
        ("datetime", "2024-01-01T10:00:00Z", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        ("datetime", "2024-01-01T12:00:00+02:00", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        ("string", "' OR 1=1 --", "' OR 1=1 --"),
        ("text", "", ""),
        ("email", "a@b.c", "a@b.c"),
        ("url", "http://x", "http://x"),
    ],
)
def test_coerce_gives_the_python_value_of_the_fields_type(kind, raw, expected):
    value = coerce(spec_of(kind), raw)

    assert not is_invalid(value)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("int", "1.5"),
        ("int", ""),
        ("int", "1e3"),
        ("int", " 1"),
        ("int", "0x10"),
        ("int", "1" * 20),
        ("bigint", "--1"),
        ("float", "nan"),
        ("float", "inf"),
        ("float", "-Infinity"),
        ("float", "one"),
        ("decimal", "abc"),
        ("decimal", "NaN"),
        ("decimal", "Infinity"),
        ("decimal", ""),
        ("bool", "yes"),
        ("bool", ""),
        ("date", "2024-02-30"),
        ("date", "tomorrow"),
        ("datetime", "2024-01-01T25:00:00"),
        ("datetime", "now"),
    ],
)
def test_coerce_marks_a_value_that_is_not_of_the_fields_type(kind, raw):
    assert is_invalid(coerce(spec_of(kind), raw))


@given(
    st.sampled_from(["int", "bigint", "float", "decimal", "bool", "date", "datetime", "string"]), st.text()
)
def test_coerce_never_raises(kind, raw):
    value = coerce(spec_of(kind), raw)

    if not is_invalid(value) and kind in ("int", "bigint"):
        assert isinstance(value, int)


@pytest.mark.parametrize("kind", ["int", "bigint"])
def test_coerce_refuses_an_integer_no_database_column_can_hold(kind):
    # 19 digits pass the length check, but 2**63 and up fit no SQL integer column
    assert is_invalid(coerce(spec_of(kind), "9999999999999999999"))
    assert is_invalid(coerce(spec_of(kind), str(2**63)))
    assert coerce(spec_of("bigint"), str(2**63 - 1)) == 2**63 - 1
