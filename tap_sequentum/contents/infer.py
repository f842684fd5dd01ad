"""Lossless type inference for scraped cells: a column only gets a type if every cell survives it.

Each cell's raw text is classified into a `Kind`; a column's kind is the `widen` fold of its cells.
A kind is only chosen when `convert` then `render` gives the cell back: no lost leading zeros, no
IDs turned into floats, no re-formatted timestamps.

Decisions on edge cases (each keeps the text recoverable from the record value):

- ``"-0"`` is STRING: ``int("-0")`` renders as ``"0"``, so the sign would be lost.
- ``"-0.0"`` is NUMBER: ``Decimal("-0.0")`` keeps its sign and renders as ``"-0.0"``.
- Exponents have at most 4 digits (``1e9999``): ``Decimal`` rejects exponents near 10**18 and
  no target stores them; longer ones stay STRING.
- Date-times need the ``T`` separator (``"2025-11-03 08:00:12"`` is STRING) so every DATETIME
  value is RFC 3339 shaped; naive date-times (no zone) are accepted.
- Years start at 0001 (``"0000-01-01"`` is STRING): Python's ``datetime`` cannot represent year 0.
- Leap seconds (``:60``) are STRING for the same reason.
- Booleans are ``true``/``false`` in any ASCII letter case; they round-trip by value, not case.
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "Kind",
    "classify",
    "convert",
    "converter",
    "infer_arrow",
    "infer_batch",
    "infer_values",
    "json_schema",
    "kind_from_json_schema",
    "render",
    "text_kind",
    "widen",
]


class Kind(enum.Enum):
    """What every non-empty cell of a column is; values are the JSON Schema names."""

    NULL = "null"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "date-time"
    STRING = "string"


# One source of truth for the shapes, shared by the Python (re) and Arrow (RE2) paths.
# Only ASCII classes: `\d` and case-insensitive matching accept non-ASCII look-alikes
# (Arabic digits; the long s U+017F, which folds to "s" in "false").
_INTEGER = r"0|-?[1-9][0-9]{0,18}"  # no "-0", no leading zeros, at most 19 digits
_EXPONENT = r"[eE][+-]?[0-9]{1,4}"
_NUMBER = rf"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:{_EXPONENT})?|{_EXPONENT})"
_BOOLEAN = r"[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]"
_DATE = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
_ZONE = r"[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]"
_DATETIME = rf"{_DATE}T{_TIME}(?:{_ZONE})?"

_SHAPES = {
    Kind.INTEGER: _INTEGER,
    Kind.NUMBER: _NUMBER,
    Kind.BOOLEAN: _BOOLEAN,
    Kind.DATE: _DATE,
    Kind.DATETIME: _DATETIME,
}
_CELL = re.compile("|".join(f"(?P<{kind.name}>{shape})" for kind, shape in _SHAPES.items()))
_ARROW = {kind: f"^(?:{shape})$" for kind, shape in _SHAPES.items()}  # RE2: `$` is end of text

_NUMERIC = frozenset({Kind.INTEGER, Kind.NUMBER})
_INT64_MAX = "9223372036854775807"
_INT64_MIN = "-9223372036854775808"
_INT64_RANGE = (int(_INT64_MIN), int(_INT64_MAX))


def classify(text: str) -> Kind:
    """The narrowest kind that keeps this one cell's text recoverable; "" is a missing value."""
    if not text:
        return Kind.NULL
    match = _CELL.fullmatch(text)
    if match is None:
        return Kind.STRING
    kind = Kind[str(match.lastgroup)]  # every alternative is a named group
    if kind is Kind.INTEGER:
        return kind if len(text) < 19 or _in_int64(text) else Kind.STRING
    if kind is Kind.DATE or kind is Kind.DATETIME:
        return kind if _is_calendar_date(text) else Kind.STRING
    return kind


def _in_int64(text: str) -> bool:
    """Whether integer text fits int64, which most targets use for an integer column."""
    return _INT64_RANGE[0] <= int(text) <= _INT64_RANGE[1]


def _is_calendar_date(text: str) -> bool:
    """Whether the leading YYYY-MM-DD exists (no Feb 30, no year 0)."""
    try:
        datetime.date(int(text[0:4]), int(text[5:7]), int(text[8:10]))
    except ValueError:
        return False
    return True


def widen(a: Kind, b: Kind) -> Kind:
    """The narrowest kind holding both: NULL adds nothing, integers fit numbers, else STRING."""
    if a is b or b is Kind.NULL:
        return a
    if a is Kind.NULL:
        return b
    if a in _NUMERIC and b in _NUMERIC:
        return Kind.NUMBER
    return Kind.STRING


def infer_values(values: Iterable[str | None]) -> Kind:
    """A column's kind from its cells (None is missing); stops reading once it is STRING."""
    kind = Kind.NULL
    for value in values:
        if value:
            kind = widen(kind, classify(value))
            if kind is Kind.STRING:
                break
    return kind


def infer_arrow(array: pa.Array | pa.ChunkedArray) -> Kind:
    """`infer_values(array.to_pylist())` for an Arrow text column, vectorized chunk by chunk."""
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    kind = Kind.NULL
    for chunk in chunks:
        kind = widen(kind, _infer_chunk(_as_text(chunk)))
        if kind is Kind.STRING:
            break
    return kind


def infer_batch(
    batch: pa.RecordBatch,
    kinds: dict[str, Kind],
    *,
    infer_types: bool = True,
    known: Mapping[str, Kind] | None = None,
) -> None:
    """Widen `kinds` in place with what one batch of text columns holds.

    A column already a string (in `kinds`, or in `known`: what the stream declares) is not read again:
    nothing can make it narrower. With `infer_types` off every column with a value is a string.
    """
    known = known or {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if kinds.get(name) is Kind.STRING or known.get(name) is Kind.STRING:
            kinds[name] = Kind.STRING
            continue
        kind = infer_arrow(column) if infer_types else text_kind(column)
        kinds[name] = widen(kinds.get(name, Kind.NULL), kind)


def text_kind(array: pa.Array | pa.ChunkedArray) -> Kind:
    """The kind when inference is off (`infer_types: false`): NULL if every cell is empty, else STRING."""
    return Kind.NULL if array.null_count == len(array) else Kind.STRING


def _as_text(chunk: pa.Array) -> pa.Array:
    """The chunk as plain text; typed columns are refused because inference is defined on text."""
    typ = chunk.type
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_null(typ):
        return chunk
    if pa.types.is_string_view(typ) or (
        pa.types.is_dictionary(typ)
        and (pa.types.is_string(typ.value_type) or pa.types.is_large_string(typ.value_type))
    ):
        return chunk.cast(pa.large_string())
    msg = f"infer_arrow reads text columns; got Arrow type {typ}. Read the file as strings."
    raise TypeError(msg)


def _infer_chunk(chunk: pa.Array) -> Kind:
    """The chunk's kind: its first cell names the only family that can fit, then all must fit it."""
    if pa.types.is_null(chunk.type):
        return Kind.NULL
    cells = chunk.filter(pc.greater(pc.binary_length(chunk), 0))  # drops nulls and ""
    if len(cells) == 0:
        return Kind.NULL
    first = classify(cells[0].as_py())
    if first in _NUMERIC:
        return _numeric_kind(cells, first)
    if first is Kind.BOOLEAN:
        return first if _all(_matches(cells, first)) else Kind.STRING
    if first is Kind.DATE or first is Kind.DATETIME:
        return first if _all_dates(cells, first) else Kind.STRING
    return Kind.STRING


def _numeric_kind(cells: pa.Array, first: Kind) -> Kind:
    """INTEGER if every cell is an int64, NUMBER if the rest are decimals, else STRING.

    The first cell's kind is checked first: most columns are all one or all the other.
    """
    other = Kind.NUMBER if first is Kind.INTEGER else Kind.INTEGER
    fits = _numeric_mask(cells, first)
    if _all(fits):
        return first
    rest = cells.filter(pc.invert(fits))
    return Kind.NUMBER if _all(_numeric_mask(rest, other)) else Kind.STRING


def _numeric_mask(cells: pa.Array, kind: Kind) -> pa.Array:
    if kind is Kind.NUMBER:
        return _matches(cells, kind)
    return pc.and_(_matches(cells, kind), pc.invert(_beyond_int64(cells)))


def _beyond_int64(cells: pa.Array) -> pa.Array:
    """For integer-shaped cells: beyond int64, by comparing equal-length digit strings."""
    length = pc.binary_length(cells)
    too_big = pc.and_(pc.equal(length, len(_INT64_MAX)), pc.greater(cells, _INT64_MAX))
    too_small = pc.and_(pc.equal(length, len(_INT64_MIN)), pc.greater(cells, _INT64_MIN))
    return pc.or_(too_big, too_small)


def _all_dates(cells: pa.Array, kind: Kind) -> bool:
    """Whether every cell has the shape and a real calendar date; Arrow's ISO cast checks days."""
    if not _all(_matches(cells, kind)) or pc.any(pc.starts_with(cells, "0000")).as_py():
        return False
    try:
        pc.cast(pc.utf8_slice_codeunits(cells, 0, 10), pa.date32())
    except pa.ArrowInvalid:
        return False
    return True


def _matches(cells: pa.Array, kind: Kind) -> pa.Array:
    return pc.match_substring_regex(cells, _ARROW[kind])


def _all(mask: pa.Array) -> bool:
    return pc.all(mask, min_count=0).as_py() is True


def _text(text: str | None) -> str | None:
    return text or None


def _integer(text: str | None) -> int | None:
    return int(text) if text else None


def _number(text: str | None) -> Decimal | None:
    return Decimal(text) if text else None


def _boolean(text: str | None) -> bool | None:
    return text[0] in "Tt" if text else None


_CONVERTERS: dict[Kind, Callable[[str | None], object]] = {
    Kind.NULL: _text,
    Kind.BOOLEAN: _boolean,
    Kind.INTEGER: _integer,
    Kind.NUMBER: _number,
    Kind.DATE: _text,
    Kind.DATETIME: _text,
    Kind.STRING: _text,
}


def converter(kind: Kind) -> Callable[[str | None], object]:
    """The per-cell converter for a column of this kind, so hot loops do not branch per cell.

    It trusts that the column was inferred (or widened) to `kind`: `int` would accept " 12".
    """
    return _CONVERTERS[kind]


def convert(text: str | None, kind: Kind) -> object:
    """The record value of one cell of a `kind` column: None for "", exact int/Decimal/bool, or text.

    Dates and date-times stay the original text: re-formatting could drop precision or the zone.
    """
    return _CONVERTERS[kind](text)


def render(value: object, kind: Kind) -> str | None:
    """The cell text back from a `convert`ed value: equal text, equal Decimal, or equal boolean."""
    if value is None:
        return None
    if kind is Kind.BOOLEAN:
        return "true" if value else "false"
    return str(value)


_FORMATS = {Kind.DATE: "date", Kind.DATETIME: "date-time"}
_JSON_TYPES = {Kind.BOOLEAN: "boolean", Kind.INTEGER: "integer", Kind.NUMBER: "number"}


def json_schema(kind: Kind) -> dict:
    """The nullable JSON Schema of a `kind` column (a fresh dict, safe to mutate)."""
    schema: dict = {"type": [_JSON_TYPES.get(kind, "string"), "null"]}
    if kind in _FORMATS:
        schema["format"] = _FORMATS[kind]
    return schema


def kind_from_json_schema(schema: dict) -> Kind:
    """The kind a catalog schema declares, to seed widening; shapes we never emit are STRING."""
    types = schema.get("type")
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list) or not all(isinstance(name, str) for name in types):
        return Kind.STRING
    names = set(types) - {"null"}
    if not names:
        return Kind.NULL
    if names == {"string"}:
        return {"date": Kind.DATE, "date-time": Kind.DATETIME}.get(schema.get("format"), Kind.STRING)
    if names == {"integer"}:
        return Kind.INTEGER
    if names <= {"integer", "number"}:
        return Kind.NUMBER
    if names == {"boolean"}:
        return Kind.BOOLEAN
    return Kind.STRING
