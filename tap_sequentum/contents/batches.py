"""BATCH output: content rows written as Parquet straight from Arrow, typed (`convert.arrow_values`),
without per-row objects: integers int64, booleans bool, numbers exact decimals (decimal128, or decimal256
when 38 digits are not enough), dates, date-times and text strings, as the JSON schema declares them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import uuid4

import pyarrow as pa
import pyarrow.parquet as pq

from tap_sequentum.contents.convert import decimal_type


def common_type(types: set[pa.DataType]) -> pa.DataType:
    """One Arrow type for batches that typed a column differently (decimal widths, text fallback)."""
    if len(types) == 1:
        return next(iter(types))
    if any(pa.types.is_string(t) for t in types):
        return pa.string()
    decimals = [t for t in types if pa.types.is_decimal(t)]
    if decimals:
        scale = max(t.scale for t in decimals)
        whole = max(t.precision - t.scale for t in decimals)
        return decimal_type(whole + scale, scale) if whole + scale <= 76 else pa.string()
    return next(iter(types))


class ParquetBatchWriter:
    """Collects typed Arrow batches into Parquet files of about `batch_size` rows in BATCH storage."""

    def __init__(self, batch_config: Any, tap_name: str, stream_name: str) -> None:
        self._config = batch_config
        self._prefix = f"{batch_config.storage.prefix or ''}{tap_name}--{stream_name}-{uuid4()}"
        self._rows_per_file = int(getattr(batch_config, "batch_size", 0) or 100_000)
        self._count = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self.manifest: list[str] = []

    def write(self, names: Sequence[str], columns: Sequence[pa.Array]) -> None:
        self._pending.append(pa.Table.from_arrays(list(columns), names=list(names)))
        self._pending_rows += len(columns[0]) if columns else 0
        if self._pending_rows >= self._rows_per_file:
            self._flush()

    def take_manifest(self) -> list[str]:
        """Write what is pending and hand over the files written since the last call."""
        self._flush()
        manifest, self.manifest = self.manifest, []
        return manifest

    def _flush(self) -> None:
        if not self._pending:
            return
        tables, self._pending, self._pending_rows = self._pending, [], 0
        names = tables[0].column_names
        target = [common_type({t.column(i).type for t in tables}) for i in range(len(names))]
        table = pa.concat_tables(
            [pa.table([t.column(i).cast(target[i]) for i in range(len(names))], names=names) for t in tables]
        )
        self._count += 1
        filename = f"{self._prefix}={self._count}.parquet"
        compression = "gzip" if self._config.encoding.compression == "gzip" else "snappy"
        if compression == "gzip":
            filename += ".gz"
        storage = self._config.storage
        with storage.open(filename, "wb") as handle:
            pq.write_table(table, handle, compression=compression)
        self.manifest.append(storage.get_url(filename))
