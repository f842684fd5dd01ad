"""A text column of an inferred kind as the values each way of emitting needs: one home for conversion.

Conversion is per column (Arrow kernels, then one `to_pylist`), never per cell with a branch on the
kind. The caller guarantees every cell fits the kind (the file was inferred before it is emitted), so:

- integers are Arrow's int64 cast of the text (inference kept them in range);
- booleans are `true`/`false` in any letter case, so the first letter decides;
- numbers keep their exact digits: `Decimal` for singer-sdk's writer, the text itself as a JSON number
  (`msgspec.Raw`; inference only admits JSON's number grammar) for the fast writer, exact decimals for
  Parquet;
- dates, date-times and text stay the text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from tap_sequentum.contents.infer import Kind

_ARROW_TYPES = {Kind.INTEGER: pa.int64(), Kind.BOOLEAN: pa.bool_(), Kind.NUMBER: pa.decimal128(38, 0)}
_EXPONENT = r"[eE]"


def booleans(array: pa.Array) -> pa.BooleanArray:
    """`true`/`false` text, any letter case, as booleans (null stays null)."""
    return pc.starts_with(array, pattern="t", ignore_case=True)


def python_values(array: pa.Array | None, kind: Kind, length: int) -> list[Any]:
    """Record values for singer-sdk's writer: int, exact `Decimal`, bool or text (None when empty)."""
    if array is None:
        return [None] * length
    if kind is Kind.INTEGER:
        return pc.cast(array, pa.int64()).to_pylist()
    if kind is Kind.BOOLEAN:
        return booleans(array).to_pylist()
    if kind is Kind.NUMBER:
        return [None if text is None else Decimal(text) for text in array.to_pylist()]
    return array.to_pylist()


_NULL = msgspec.Raw(b"null")


def json_values(array: pa.Array | None, kind: Kind, length: int) -> list[Any]:
    """Record values for msgspec: like `python_values`, but a number is its own text as a JSON number
    (`Raw`), three times cheaper than a `Decimal` and byte-exact (`12.50` stays `12.50`)."""
    if array is not None and kind is Kind.NUMBER:
        texts = pc.cast(pc.fill_null(array, "null"), pa.binary()).to_pylist()
        return list(map(msgspec.Raw, texts))
    if array is None and kind is Kind.NUMBER:
        return [_NULL] * length
    return python_values(array, kind, length)


def arrow_values(array: pa.Array | None, kind: Kind, length: int) -> pa.Array:
    """The column as the Arrow type of its kind, for Parquet BATCH files."""
    if array is None:
        return pa.nulls(length, _ARROW_TYPES.get(kind, pa.string()))
    if kind is Kind.INTEGER:
        return pc.cast(array, pa.int64())
    if kind is Kind.BOOLEAN:
        return booleans(array)
    if kind is Kind.NUMBER:
        return decimals(array)
    return array.cast(pa.string())


def decimals(array: pa.Array) -> pa.Array:
    """Exact decimals: scale is the longest fraction, precision the widest whole part plus that.

    Beyond 76 digits (decimal256's limit, e.g. `1e9999`) the column stays text, which is exact too.
    """
    if pc.any(pc.match_substring_regex(array, _EXPONENT)).as_py():
        values = [None if text is None else Decimal(text) for text in array.to_pylist()]
        shapes = [v.as_tuple() for v in values if v is not None]
        scale = max((max(0, -int(t.exponent)) for t in shapes), default=0)
        whole = max((max(1, len(t.digits) + int(t.exponent)) for t in shapes), default=1)
        if whole + scale > 76:
            return array.cast(pa.string())
        return pa.array(values, type=decimal_type(whole + scale, scale))
    fraction = pc.utf8_length(pc.replace_substring_regex(array, r"^[^.]*\.?", ""))
    integer = pc.utf8_length(pc.replace_substring_regex(array, r"^-|\..*$", ""))
    scale = pc.max(fraction).as_py() or 0
    precision = (pc.max(integer).as_py() or 1) + scale
    if precision > 76:
        return array.cast(pa.string())
    return pc.cast(array, decimal_type(precision, scale))


def decimal_type(precision: int, scale: int) -> pa.DataType:
    if precision <= 38:
        return pa.decimal128(max(precision, 1), scale)
    return pa.decimal256(precision, scale)
