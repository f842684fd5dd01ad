"""The reference for `tap_sequentum.contents.infer`: the rules of its docstring restated in plain Python.

`reference_kind` classifies one cell with Python's own parsers (int, Decimal, datetime) instead of the
module's shared regular expressions, `infer_values` folds a column, and `convert`/`render` are the
round trip that makes a kind lossless. The hypothesis properties in `test_infer.py` hold the Arrow path
(`infer_arrow`) and `classify` to this.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable
from decimal import Decimal

from tap_sequentum.contents.infer import Kind, widen

_INT64 = (-(2**63), 2**63 - 1)
_DIGITS = re.compile(r"-?[0-9]+")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?P<fraction>\.[0-9]+)?(?:[eE][+-]?(?P<exponent>[0-9]+))?")
_TIME = re.compile(r"(?P<h>[0-9]{2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]+))?(?P<zone>.*)")
_ZONE = re.compile(r"[+-](?P<h>[0-9]{2}):(?P<m>[0-9]{2})")


def reference_kind(text: str) -> Kind:
    """The narrowest kind whose value renders back to `text`, by the rules of infer.py's docstring."""
    if not text:
        return Kind.NULL
    if not text.isascii():  # no Arabic or fullwidth digits, no long s (U+017F) in "false"
        return Kind.STRING
    for kind, test in ((Kind.INTEGER, _is_integer), (Kind.NUMBER, _is_number), (Kind.BOOLEAN, _is_boolean)):
        if test(text):
            return kind
    if _is_date(text):
        return Kind.DATE
    if _is_datetime(text):
        return Kind.DATETIME
    return Kind.STRING


def _is_integer(text: str) -> bool:
    # str(int(...)) gives the text back: no leading zeros, no "-0", no "+"; within int64.
    return bool(_DIGITS.fullmatch(text)) and str(int(text)) == text and _INT64[0] <= int(text) <= _INT64[1]


def _is_number(text: str) -> bool:
    # JSON number text with a fraction or an exponent (of at most 4 digits).
    match = _JSON_NUMBER.fullmatch(text)
    if match is None or not (match["fraction"] or match["exponent"]):
        return False
    return match["exponent"] is None or len(match["exponent"]) <= 4


def _is_boolean(text: str) -> bool:
    return text.lower() in ("true", "false")


def _is_date(text: str) -> bool:
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return False
    parts = (text[0:4], text[5:7], text[8:10])
    if not all(part.isdigit() for part in parts):
        return False
    try:
        datetime.date(*map(int, parts))  # years 1-9999, real days; Python has no year 0
    except ValueError:
        return False
    return True


def _is_datetime(text: str) -> bool:
    # RFC 3339 shape with a "T" (upper case), fraction of 1 to 9 digits, zone optional.
    if len(text) < 19 or text[10] != "T" or not _is_date(text[:10]):
        return False
    time = _TIME.fullmatch(text[11:])
    if time is None or (time["f"] is not None and not 1 <= len(time["f"]) <= 9):
        return False
    if not (int(time["h"]) <= 23 and int(time["m"]) <= 59 and int(time["s"]) <= 59):  # no leap seconds
        return False
    zone = time["zone"]
    if zone in ("", "Z", "z"):
        return True
    offset = _ZONE.fullmatch(zone)
    return offset is not None and int(offset["h"]) <= 23 and int(offset["m"]) <= 59


def infer_values(values: Iterable[str | None]) -> Kind:
    """A column's kind from its cells (None is missing); stops reading once it is STRING."""
    kind = Kind.NULL
    for value in values:
        if value:
            kind = widen(kind, reference_kind(value))
            if kind is Kind.STRING:
                break
    return kind


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
    """The per-cell converter for a column of this kind (it trusts that the column is of `kind`)."""
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
