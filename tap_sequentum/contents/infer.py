"""Lossless type inference for scraped cells: a column only gets a type if every cell survives it.

Each cell's raw text is classified into a `Kind`; a column's kind is the `widen` fold of its cells.
A kind is only chosen when the record value it gives (int, Decimal, bool, or the text) renders back to
the cell: no lost leading zeros, no IDs turned into floats, no re-formatted timestamps. That round trip,
and a plain-Python restatement of the rules below, are the reference in `tests/reference_infer.py`.

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

import enum
import re
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "Kind",
    "classify",
    "infer_arrow",
    "infer_batch",
    "json_schema",
    "kind_from_json_schema",
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
# Calendar dates that exist, in the pattern itself, so one regex pass checks a whole column: years
# 0001-9999, day 29 of February only in leap years (divisible by 4, centuries by 400).
_YEAR = r"(?:[0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"
_BY_FOUR = r"(?:0[48]|[2468][048]|[13579][26])"  # 04 to 96: the two-digit multiples of 4 but 00
_LEAP_YEAR = rf"(?:[0-9]{{2}}{_BY_FOUR}|{_BY_FOUR}00)"
_MONTH_DAY = (
    r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"  # every month has 28 days
    r"|(?:0[13-9]|1[0-2])-(?:29|30)"  # all but February have 30
    r"|(?:0[13578]|1[02])-31)"
)
_DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
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
# Integers of at most 18 digits always fit int64: most integer columns need no range check.
_SHORT_INTEGER = r"0|-?[1-9][0-9]{0,17}"
# The Arrow (RE2) patterns also match "": a missing cell fits every kind, so columns are checked whole,
# without copying out the non-empty cells first. `$` is the end of the text.
_ARROW = {kind: f"^(?:{shape})?$" for kind, shape in _SHAPES.items()}
_ARROW_SHORT_INTEGER = f"^(?:{_SHORT_INTEGER})?$"

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
    if kind is Kind.INTEGER and len(text) >= 19 and not _in_int64(text):
        return Kind.STRING
    return kind


def _in_int64(text: str) -> bool:
    """Whether integer text fits int64, which most targets use for an integer column."""
    return _INT64_RANGE[0] <= int(text) <= _INT64_RANGE[1]


def widen(a: Kind, b: Kind) -> Kind:
    """The narrowest kind holding both: NULL adds nothing, integers fit numbers, else STRING."""
    if a is b or b is Kind.NULL:
        return a
    if a is Kind.NULL:
        return b
    if a in _NUMERIC and b in _NUMERIC:
        return Kind.NUMBER
    return Kind.STRING


def infer_arrow(array: pa.Array | pa.ChunkedArray) -> Kind:
    """The `widen` fold of `classify` over an Arrow text column's cells, vectorized chunk by chunk."""
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
    """The chunk's kind: its first cell names the only family that can fit, then all must fit it.

    Each check is one regex pass over the whole chunk (missing cells match, see `_ARROW`): no copy of
    the non-empty cells, no int64 range check unless a cell is long enough to need one.
    """
    first = _first_cell(chunk)
    if first is None:
        return Kind.NULL
    kind = classify(first)
    if kind in _NUMERIC:
        return _numeric_kind(chunk, kind)
    if kind is Kind.STRING or _all(_matches(chunk, _ARROW[kind])):
        return kind
    return Kind.STRING


def _first_cell(chunk: pa.Array) -> str | None:
    """The first non-empty cell's text, None if there is none."""
    if pa.types.is_null(chunk.type) or len(chunk) == 0:
        return None
    first = chunk[0].as_py()
    if first:
        return first
    index = pc.index(pc.greater(pc.binary_length(chunk), 0), True).as_py()
    return None if index < 0 else chunk[index].as_py()


def _numeric_kind(chunk: pa.Array, first: Kind) -> Kind:
    """INTEGER if every cell is an int64, NUMBER if the rest are decimals, else STRING.

    The first cell's kind is checked alone first: most columns are all one or all the other.
    """
    if first is Kind.INTEGER:
        if _all(_matches(chunk, _ARROW_SHORT_INTEGER)):
            return Kind.INTEGER
        integer = _int64_cells(chunk)
        if _all(integer):
            return Kind.INTEGER
        decimal = _matches(chunk, _ARROW[Kind.NUMBER])
    else:
        decimal = _matches(chunk, _ARROW[Kind.NUMBER])
        if _all(decimal):
            return Kind.NUMBER
        integer = _int64_cells(chunk)
    return Kind.NUMBER if _all(pc.or_(integer, decimal)) else Kind.STRING


def _int64_cells(chunk: pa.Array) -> pa.Array:
    """Which cells are integers that fit int64 (or missing); the range is checked only for long cells."""
    integer = _matches(chunk, _ARROW[Kind.INTEGER])
    if pc.max(pc.binary_length(chunk)).as_py() < len(_INT64_MAX):
        return integer
    return pc.and_(integer, pc.invert(_beyond_int64(chunk)))


def _beyond_int64(cells: pa.Array) -> pa.Array:
    """For integer-shaped cells: beyond int64, by comparing equal-length digit strings."""
    length = pc.binary_length(cells)
    too_big = pc.and_(pc.equal(length, len(_INT64_MAX)), pc.greater(cells, _INT64_MAX))
    too_small = pc.and_(pc.equal(length, len(_INT64_MIN)), pc.greater(cells, _INT64_MIN))
    return pc.or_(too_big, too_small)


def _matches(cells: pa.Array, pattern: str) -> pa.Array:
    return pc.match_substring_regex(cells, pattern)


def _all(mask: pa.Array) -> bool:
    return pc.all(mask, min_count=0).as_py() is True


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
