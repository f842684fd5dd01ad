"""Lossless type inference: every trap as a table, every promise as a hypothesis property.

`reference_infer.py` restates the rules in plain Python (int, Decimal, datetime); the properties hold the
module's regular expressions, in Python (`classify`) and in Arrow (`infer_arrow`), to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_infer import convert, converter, infer_values, reference_kind, render
from singer_sdk.singerlib.json import serialize_json

from tap_sequentum.contents.infer import (
    Kind,
    classify,
    infer_arrow,
    json_schema,
    kind_from_json_schema,
    widen,
)

NUL, BOOL, INT, NUM, DATE, DTIME, STR = (
    Kind.NULL,
    Kind.BOOLEAN,
    Kind.INTEGER,
    Kind.NUMBER,
    Kind.DATE,
    Kind.DATETIME,
    Kind.STRING,
)

CELLS = [
    # empty is missing; whitespace is data
    ("", NUL),
    (" ", STR),
    ("\n", STR),
    ("\t", STR),
    # leading zeros, phone numbers, ZIP codes: never numbers
    ("007123", STR),
    ("0045", STR),
    ("02134", STR),
    ("+1 617-555-0100", STR),
    ("0612345678", STR),
    ("00", STR),
    # integers, bounded by int64
    ("0", INT),
    ("1", INT),
    ("-1", INT),
    ("42", INT),
    ("9223372036854775807", INT),
    ("9223372036854775808", STR),
    ("-9223372036854775808", INT),
    ("-9223372036854775809", STR),
    ("98765432109876543210", STR),
    ("999999999999999999", INT),
    ("1000000000000000000", INT),
    ("-0", STR),  # int("-0") renders "0": the sign would be lost
    ("+5", STR),
    ("1_000", STR),
    (" 12", STR),
    ("12 ", STR),
    ("12\n", STR),
    ("\n12", STR),
    ("\u0661\u0662", STR),  # Arabic-Indic digits: int() accepts them, we do not
    ("\uff11\uff12", STR),  # fullwidth digits
    ("0x1F", STR),
    # decimals: JSON number text with a fraction or an exponent
    ("19.99", NUM),
    ("0.00", NUM),
    ("1e10", NUM),
    ("1E-7", NUM),
    ("1e+5", NUM),
    ("-0.5", NUM),
    ("-0.0", NUM),  # Decimal keeps the sign
    ("0e0", NUM),
    ("1.5e-3", NUM),
    ("12345678901234567.891", NUM),
    ("98765432109876543210.5", NUM),
    ("1e9999", NUM),
    ("1e10000", STR),  # exponents beyond 4 digits: Decimal cannot hold 1e(10**18)
    ("00.5", STR),
    (".5", STR),
    ("5.", STR),
    ("1.e5", STR),
    ("1e", STR),
    ("e5", STR),
    ("+1.0", STR),
    ("1,5", STR),
    ("1,000.00", STR),
    ("NaN", STR),
    ("nan", STR),
    ("Infinity", STR),
    ("inf", STR),
    ("-inf", STR),
    ("1.5 ", STR),
    # booleans: true/false in any ASCII case only
    ("TRUE", BOOL),
    ("false", BOOL),
    ("True", BOOL),
    ("tRuE", BOOL),
    ("FALSE", BOOL),
    ("yes", STR),
    ("no", STR),
    ("t", STR),
    ("f", STR),
    ("Y", STR),
    ("true ", STR),
    ("falſe", STR),
    # dates: ISO 8601 calendar dates that exist
    ("2025-10-31", DATE),
    ("2024-02-29", DATE),
    ("2000-02-29", DATE),
    ("0001-01-01", DATE),
    ("9999-12-31", DATE),
    ("2025-02-30", STR),
    ("2025-02-29", STR),
    ("1900-02-29", STR),
    ("2025-04-31", STR),
    ("2025-13-01", STR),
    ("2025-00-10", STR),
    ("0000-01-01", STR),  # Python's datetime has no year 0
    ("2400-02-29", DATE),  # centuries divisible by 400 are leap years
    ("2100-02-29", STR),
    ("0400-02-29", DATE),
    ("0100-02-29", STR),
    ("0004-02-29", DATE),
    ("1996-02-29", DATE),
    ("1997-02-28", DATE),
    ("2023-06-31", STR),
    ("2023-09-30", DATE),
    ("2023-11-31", STR),
    ("2023-12-31", DATE),
    ("1000-01-01", DATE),
    ("0010-01-01", DATE),
    ("0100-01-01", DATE),
    ("2025-1-1", STR),
    ("20251031", INT),  # basic-format dates are integers, which keeps them intact
    ("2025-W44-5", STR),
    ("+2025-10-31", STR),
    ("31/10/2025", STR),
    ("2025-10-31 ", STR),
    # date-times: RFC 3339 shape with a T, zone optional
    ("2025-11-03T08:00:12.345678Z", DTIME),
    ("2025-11-03T08:00:12+02:00", DTIME),
    ("2025-11-03T08:00:12", DTIME),
    ("2025-11-03T08:00:12z", DTIME),
    ("2025-11-03T08:00:12-00:00", DTIME),
    ("2025-11-03T23:59:59.123456789-11:30", DTIME),
    ("2024-02-29T00:00:00Z", DTIME),
    ("2025-11-03 08:00:12", STR),  # a space is not RFC 3339
    ("2025-11-03t08:00:12", STR),
    ("2025-11-03T08:00", STR),
    ("2025-11-03T24:00:00", STR),
    ("2025-11-03T08:60:00", STR),
    ("2025-11-03T08:00:60", STR),  # leap seconds: Python's datetime rejects them
    ("2025-11-03T08:00:12.1234567890Z", STR),
    ("2025-11-03T08:00:12.Z", STR),
    ("2025-11-03T08:00:12+2:00", STR),
    ("2025-11-03T08:00:12+0200", STR),
    ("2025-11-03T08:00:12+24:00", STR),
    ("2025-11-03T08:00:12 Z", STR),
    ("2025-02-30T08:00:12Z", STR),
    ("0000-01-01T00:00:00Z", STR),
    # everything else
    ("hello", STR),
    ("null", STR),
    ("None", STR),
    ("N/A", STR),
    ("\x00", STR),
]


@pytest.mark.parametrize(("text", "kind"), CELLS)
def test_classify(text: str, kind: Kind) -> None:
    assert classify(text) is kind


@pytest.mark.parametrize(("text", "kind"), CELLS)
def test_the_reference_follows_the_same_table(text: str, kind: Kind) -> None:
    assert reference_kind(text) is kind


@pytest.mark.parametrize(("text", "kind"), CELLS)
def test_infer_arrow_one_cell(text: str, kind: Kind) -> None:
    assert infer_arrow(pa.array([text])) is kind
    assert infer_arrow(pa.array([None, text, ""], pa.large_string())) is kind


WIDEN = [
    (NUL, NUL, NUL),
    (NUL, INT, INT),
    (INT, NUL, INT),
    (INT, INT, INT),
    (INT, NUM, NUM),
    (NUM, INT, NUM),
    (NUM, NUM, NUM),
    (BOOL, BOOL, BOOL),
    (BOOL, INT, STR),
    (BOOL, NUM, STR),
    (DATE, DATE, DATE),
    (DATE, DTIME, STR),
    (DTIME, DTIME, DTIME),
    (DATE, INT, STR),
    (DTIME, NUM, STR),
    (STR, NUL, STR),
    (STR, INT, STR),
    (STR, STR, STR),
]


@pytest.mark.parametrize(("a", "b", "expected"), WIDEN)
def test_widen(a: Kind, b: Kind, expected: Kind) -> None:
    assert widen(a, b) is expected


kinds = st.sampled_from(Kind)


def below(a: Kind, b: Kind) -> bool:
    return widen(a, b) is b


@given(kinds, kinds, kinds)
def test_widen_is_a_join(a: Kind, b: Kind, c: Kind) -> None:
    assert widen(a, b) is widen(b, a)
    assert widen(a, widen(b, c)) is widen(widen(a, b), c)
    assert widen(a, a) is a
    assert widen(NUL, a) is a
    assert widen(a, STR) is STR
    assert below(a, widen(a, b))
    assert below(b, widen(a, b))
    if below(a, b):  # monotone: a wider input never gives a narrower result
        assert below(widen(a, c), widen(b, c))


COLUMNS = [
    ([], NUL),
    ([None, "", None], NUL),
    (["1", "2", None, ""], INT),
    (["1", "2.5"], NUM),
    (["2.5", "1"], NUM),
    (["1", "02134"], STR),
    (["1", "true"], STR),
    (["true", "FALSE", None], BOOL),
    (["2025-10-31", "2025-11-03T08:00:12Z"], STR),
    (["2025-10-31", "", "2024-02-29"], DATE),
    (["9223372036854775807", "9223372036854775808"], STR),
    (["1.5", "9223372036854775808"], STR),
    (["1", "-0"], STR),
    (["2025-10-31", "2025-02-30"], STR),
    # missing cells first, as null or as "" (JSON, XLSX): the first real cell decides the family
    ([None, "", "", "12"], INT),
    (["", None, "true", ""], BOOL),
    (["", "2025-10-31T08:00:00Z", None], DTIME),
    # integers of 19+ characters need the int64 range check, also after short ones
    (["1", "", "9223372036854775807", "-9223372036854775808"], INT),
    (["1", "9223372036854775808"], STR),
    (["1", "-9223372036854775809"], STR),
    (["1", "1234567890123456789.5"], NUM),
    (["1", "12345678901234567890"], STR),
    (["2.5", "", "-9223372036854775808"], NUM),
    (["2.5", "9223372036854775808"], STR),
    (["1", "2.5", "x"], STR),
    (["true", "1"], STR),
    (["2024-02-29", "2023-02-29"], STR),
    (["2024-02-29T00:00:00", "2024-02-29"], STR),
]


@pytest.mark.parametrize(("values", "kind"), COLUMNS)
def test_infer_column(values: list[str | None], kind: Kind) -> None:
    assert infer_values(values) is kind
    assert infer_arrow(pa.array(values, pa.string())) is kind
    halves = [values[: len(values) // 2], values[len(values) // 2 :]]
    assert infer_arrow(pa.chunked_array(halves, pa.large_string())) is kind


def test_infer_values_stops_reading_at_string() -> None:
    def cells() -> Iterator[str]:
        yield "1"
        yield "n/a"
        raise AssertionError("read past the first STRING cell")

    assert infer_values(cells()) is STR


def test_infer_arrow_text_like_types() -> None:
    assert infer_arrow(pa.array([None, None])) is NUL
    assert infer_arrow(pa.chunked_array([], pa.string())) is NUL
    assert infer_arrow(pa.array(["1", "2", "1"]).dictionary_encode()) is INT
    assert infer_arrow(pa.array(["1", "x"]).cast(pa.string_view())) is STR


def test_infer_arrow_rejects_typed_columns() -> None:
    with pytest.raises(TypeError, match="int64"):
        infer_arrow(pa.array([1, 2]))


# Cells worth generating: free text plus everything that looks like one of the kinds.
TRAPS = [text for text, _ in CELLS]
utf8_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
int_text = st.integers(-(2**70), 2**70).map(str)
decimal_text = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.tuples(int_text, st.integers(0, 10**9)).map(lambda p: f"{p[0]}.{p[1]}"),
)
bool_text = st.sampled_from(["true", "false", "TRUE", "False", "tRUE", "fAlSe"])
date_text = st.dates().map(lambda d: d.isoformat())
datetime_text = st.datetimes(timezones=st.none() | st.timezones()).map(
    lambda d: d.isoformat(timespec="microseconds")
)
missing = st.sampled_from([None, ""])
any_cell = st.one_of(
    utf8_text, st.sampled_from(TRAPS), int_text, decimal_text, bool_text, date_text, datetime_text
)
columns = st.one_of(
    st.lists(st.one_of(any_cell, missing), max_size=8),
    *(
        st.lists(st.one_of(family, missing), max_size=8)
        for family in (int_text, decimal_text, int_text | decimal_text, bool_text)
    ),
    *(st.lists(st.one_of(family, missing), max_size=8) for family in (date_text, datetime_text)),
)


@settings(max_examples=300, deadline=None)
@given(columns)
def test_round_trip_is_lossless(values: list[str | None]) -> None:
    kind = infer_values(values)
    to_value = converter(kind)
    for text in values:
        value = convert(text, kind)
        assert to_value(text) == value
        back = render(value, kind)
        if not text:
            assert value is None
            assert back is None
        elif kind is NUM:
            assert isinstance(value, Decimal)
            assert Decimal(back) == Decimal(text)
        elif kind is BOOL:
            assert isinstance(value, bool)
            assert back == text.lower()
        else:
            assert type(value) is (int if kind is INT else str)
            assert back == text


@settings(max_examples=300, deadline=None)
@given(columns, st.data())
def test_infer_arrow_agrees_with_the_reference(values: list[str | None], data: st.DataObject) -> None:
    expected = infer_values(values)
    assert infer_arrow(pa.array(values, pa.string())) is expected
    cut = data.draw(st.integers(0, len(values)))
    assert infer_arrow(pa.chunked_array([values[:cut], values[cut:]], pa.large_string())) is expected


@settings(max_examples=150, deadline=None)
@given(columns, columns)
def test_inference_only_widens(left: list[str | None], right: list[str | None]) -> None:
    assert infer_values(left + right) is widen(infer_values(left), infer_values(right))


@settings(max_examples=500)
@given(any_cell)
def test_classify_agrees_with_the_reference(text: str) -> None:
    assert classify(text) is reference_kind(text)
    assert infer_values([text]) is classify(text)


calendar_text = st.tuples(st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32)).map(
    lambda ymd: "{:04d}-{:02d}-{:02d}".format(*ymd)
)


@settings(max_examples=500, deadline=None)
@given(calendar_text, st.sampled_from(["", "T00:00:00", "T23:59:59.5+02:00"]))
def test_calendar_dates_agree_with_python(date: str, time: str) -> None:
    text = date + time
    expected = reference_kind(text)
    assert classify(text) is expected
    assert infer_arrow(pa.array(["", text])) is expected


RECORD_VALUES = [
    ("9223372036854775807", INT),
    ("-9223372036854775808", INT),
    ("12345678901234567.891", NUM),
    ("0.1", NUM),
    ("1e10", NUM),
    ("1E-7", NUM),
    ("-0.0", NUM),
    ("1e9999", NUM),
    ("TRUE", BOOL),
    ("false", BOOL),
    ("2025-10-31", DATE),
    ("2025-11-03T08:00:12.123456789+02:00", DTIME),
    ("007123", STR),
    (" ", STR),
    ('quote " backslash \\ newline \n', STR),
    ("", STR),
    (None, NUL),
]


def json_round_trip(value: object) -> object:
    return json.loads(serialize_json({"cell": value}), parse_float=Decimal)["cell"]


@pytest.mark.parametrize(("text", "kind"), RECORD_VALUES)
def test_json_round_trip_keeps_the_value(text: str | None, kind: Kind) -> None:
    value = convert(text, kind)
    parsed = json_round_trip(value)
    assert parsed == value
    assert type(parsed) is type(value)


def test_json_keeps_every_decimal_digit() -> None:
    line = serialize_json({"cell": convert("12345678901234567.891", NUM)})
    assert line == '{"cell":12345678901234567.891}'


@settings(max_examples=150, deadline=None)
@given(st.one_of(int_text, decimal_text))
def test_json_round_trip_of_generated_numbers(text: str) -> None:
    kind = widen(classify(text), NUM)
    if kind is NUM:
        assert json_round_trip(convert(text, kind)) == Decimal(text)


@pytest.mark.parametrize("kind", list(Kind))
def test_json_schema_is_nullable(kind: Kind) -> None:
    schema = json_schema(kind)
    assert "null" in schema["type"]
    expected = STR if kind is NUL else kind  # NULL columns are declared as nullable strings
    assert kind_from_json_schema(schema) is expected


def test_json_schema_shapes() -> None:
    assert json_schema(INT) == {"type": ["integer", "null"]}
    assert json_schema(NUM) == {"type": ["number", "null"]}
    assert json_schema(BOOL) == {"type": ["boolean", "null"]}
    assert json_schema(DATE) == {"type": ["string", "null"], "format": "date"}
    assert json_schema(DTIME) == {"type": ["string", "null"], "format": "date-time"}
    assert json_schema(STR) == json_schema(NUL) == {"type": ["string", "null"]}
    json_schema(INT)["type"].append("string")
    assert json_schema(INT) == {"type": ["integer", "null"]}


@pytest.mark.parametrize(
    ("schema", "kind"),
    [
        ({"type": "integer"}, INT),
        ({"type": ["null", "integer"]}, INT),
        ({"type": ["integer", "number", "null"]}, NUM),
        ({"type": "number"}, NUM),
        ({"type": "boolean"}, BOOL),
        ({"type": "string", "format": "date"}, DATE),
        ({"type": ["string", "null"], "format": "date-time"}, DTIME),
        ({"type": ["string", "null"], "format": "email"}, STR),
        ({"type": "null"}, NUL),
        ({"type": ["string", "integer"]}, STR),
        ({"type": "object"}, STR),
        ({"type": "array", "items": {"type": "integer"}}, STR),
        ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, STR),
        ({}, STR),
        ({"type": [{"weird": True}]}, STR),
    ],
)
def test_kind_from_json_schema(schema: dict, kind: Kind) -> None:
    assert kind_from_json_schema(schema) is kind
