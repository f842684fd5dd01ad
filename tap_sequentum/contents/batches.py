"""BATCH output: content rows written as Parquet straight from Arrow, typed, without per-row objects.

Integers become int64, booleans bool, numbers exact decimals (decimal128, or decimal256 when 38
digits are not enough), dates, date-times and text stay strings, as the JSON schema declares them.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tap_sequentum.contents.infer import Kind

_EXPONENT = r"[eE]"


def typed_column(array: pa.Array | None, kind: Kind, length: int) -> pa.Array:
    """One text column as the Arrow type of its kind (the caller guarantees every cell fits)."""
    if array is None:
        return pa.nulls(length, _ARROW_TYPES.get(kind, pa.string()))
    if kind is Kind.INTEGER:
        return pc.cast(array, pa.int64())
    if kind is Kind.BOOLEAN:
        return pc.equal(pc.utf8_lower(array), "true")
    if kind is Kind.NUMBER:
        return decimal_column(array)
    return array.cast(pa.string())


def decimal_column(array: pa.Array) -> pa.Array:
    """Exact decimals: the scale is the longest fraction, so no value is rounded."""
    if pc.any(pc.match_substring_regex(array, _EXPONENT)).as_py():
        values = [None if text is None else Decimal(text) for text in array.to_pylist()]
        scale = max((max(0, -int(v.as_tuple().exponent)) for v in values if v is not None), default=0)
        digits = max((len(v.as_tuple().digits) for v in values if v is not None), default=1)
        return pa.array(values, type=_decimal_type(digits + scale, scale))
    fraction = pc.utf8_length(pc.replace_substring_regex(array, r"^[^.]*\.?", ""))
    whole = pc.utf8_length(pc.replace_substring_regex(array, r"^-|\..*$", ""))
    scale = pc.max(fraction).as_py() or 0
    precision = (pc.max(whole).as_py() or 1) + scale
    return pc.cast(array, _decimal_type(precision, scale))


def _decimal_type(precision: int, scale: int) -> pa.DataType:
    if precision <= 38:
        return pa.decimal128(max(precision, 1), scale)
    return pa.decimal256(min(max(precision, 1), 76), scale)


_ARROW_TYPES = {Kind.INTEGER: pa.int64(), Kind.BOOLEAN: pa.bool_(), Kind.NUMBER: pa.decimal128(38, 0)}


class ParquetBatchWriter:
    """Writes one Parquet file per Arrow batch into the BATCH storage and collects their URLs."""

    def __init__(self, batch_config: Any, tap_name: str, stream_name: str) -> None:
        self._config = batch_config
        self._prefix = f"{batch_config.storage.prefix or ''}{tap_name}--{stream_name}-{uuid4()}"
        self._count = 0
        self.manifest: list[str] = []

    def write(self, names: Sequence[str], columns: Sequence[pa.Array]) -> None:
        self._count += 1
        filename = f"{self._prefix}={self._count}.parquet"
        compression = "gzip" if self._config.encoding.compression == "gzip" else "snappy"
        if compression == "gzip":
            filename += ".gz"
        table = pa.Table.from_arrays(list(columns), names=list(names))
        storage = self._config.storage
        with storage.open(filename, "wb") as handle:
            pq.write_table(table, handle, compression=compression)
        self.manifest.append(storage.get_url(filename))

    def take_manifest(self) -> list[str]:
        manifest, self.manifest = self.manifest, []
        return manifest
