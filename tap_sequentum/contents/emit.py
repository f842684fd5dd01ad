"""Pass 2 of a content file: rows after the resume point, converted and written one of three ways.

`resume_slices` owns resume logic (a file interrupted after row n continues at n + 1); the three
emitters own output: Parquet BATCH files straight from Arrow, the fast RECORD writer, or plain records
handed to singer-sdk when a stream map needs them. Each sets `progress["rows"]` to the last row it
has written, which is what the state records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from tap_sequentum.contents.batches import ParquetBatchWriter, typed_column
from tap_sequentum.contents.fetch import RunFile
from tap_sequentum.contents.infer import Kind
from tap_sequentum.contents.records import RecordWriter, column_values
from tap_sequentum.contents.schema import METADATA

META_NAMES = list(METADATA)
ROW_NUMBER = "_sdc_row_number"
Slices = Iterator[tuple[pa.RecordBatch, int]]


@dataclass(frozen=True)
class Manifest:
    """Parquet files written for one data file, handed from `get_records` to `get_batches`."""

    urls: list[str]


def resume_slices(batches: Iterable[pa.RecordBatch], skip: int) -> Slices:
    """The batches of a file after its first `skip` rows, each with the 1-based number of its first row.

    Resume logic in one place: a sync interrupted after row `skip` of a file continues at `skip + 1`.
    """
    row = 0
    for batch in batches:
        first = row + 1
        row += batch.num_rows
        if row <= skip or batch.num_rows == 0:
            continue
        if first <= skip:
            batch = batch.slice(skip - first + 1)
            first = skip + 1
        yield batch, first


def _meta_constants(item: RunFile) -> dict[str, Any]:
    """The metadata columns that are the same for every row of a file (all but the row number)."""
    return {
        "_sdc_agent_id": item.agent_id,
        "_sdc_run_id": item.run_id,
        "_sdc_run_created": item.run_created,
        "_sdc_file_id": item.file_id,
        "_sdc_file_name": item.name,
    }


def _meta_arrays(item: RunFile, first: int, count: int) -> list[pa.Array]:
    constants = _meta_constants(item)
    types = [pa.int64(), pa.int64(), pa.string(), pa.int64(), pa.string()]
    arrays = [
        pa.array([value] * count, type=kind) for value, kind in zip(constants.values(), types, strict=True)
    ]
    return [*arrays, pa.array(range(first, first + count), type=pa.int64())]


def _typed(batch: pa.RecordBatch, names: list[str], kinds: list[Kind]) -> list[pa.Array]:
    present = set(batch.schema.names)
    return [
        typed_column(batch.column(name) if name in present else None, kind, batch.num_rows)
        for name, kind in zip(names, kinds, strict=True)
    ]


def _columns(batch: pa.RecordBatch, names: list[str], kinds: list[Kind]) -> list[list[Any]]:
    present = set(batch.schema.names)
    count = batch.num_rows
    return [
        column_values(batch.column(name) if name in present else None, kind, count)
        for name, kind in zip(names, kinds, strict=True)
    ]


@dataclass(frozen=True)
class FileRows:
    """What every emitter takes: a file's rows after its resume point, its columns and which are selected,
    and the progress the state records (`progress["rows"]`: the last row written)."""

    item: RunFile
    slices: Slices
    columns: dict[str, Kind]
    selected: Callable[[str], bool]
    progress: dict

    def selection(self) -> tuple[list[str], list[Kind], list[str]]:
        """The selected columns, their kinds, and the selected metadata columns."""
        names = [n for n in self.columns if self.selected(n)]
        return names, [self.columns[n] for n in names], [n for n in META_NAMES if self.selected(n)]


def emit_parquet(
    parquet: ParquetBatchWriter, file: FileRows, count: Callable[[int], None]
) -> Iterator[Manifest]:
    """Typed Arrow columns into Parquet BATCH files; yields the manifest once the file is done."""
    names, kinds, meta_names = file.selection()
    rows = 0
    for batch, first in file.slices:
        meta = dict(zip(META_NAMES, _meta_arrays(file.item, first, batch.num_rows), strict=True))
        parquet.write(meta_names + names, [meta[n] for n in meta_names] + _typed(batch, names, kinds))
        count(batch.num_rows)
        rows += batch.num_rows
        file.progress["rows"] = first + batch.num_rows - 1
    manifest = parquet.take_manifest()
    if manifest:
        yield Manifest(manifest)  # the SDK writes the BATCH message, then the state
    return rows


def emit_fast(writer: RecordWriter, file: FileRows, after_batch: Callable[[int], None]) -> int:
    """RECORD lines encoded in batches straight to stdout; `after_batch(rows)` follows every batch."""
    names, kinds, meta_names = file.selection()
    constants = {k: v for k, v in _meta_constants(file.item).items() if k in meta_names}
    row_numbers = [n for n in meta_names if n == ROW_NUMBER]
    extracted = dt.datetime.now(dt.UTC).isoformat()
    rows = 0
    for batch, first in file.slices:
        numbers = [range(first, first + batch.num_rows)] if row_numbers else []
        writer.write(constants, row_numbers + names, numbers + _columns(batch, names, kinds), extracted)
        rows += batch.num_rows
        file.progress["rows"] = first + batch.num_rows - 1
        after_batch(batch.num_rows)
    return rows


def emit_records(file: FileRows, pending: Callable[[int | None], None]) -> Iterator[dict]:
    """One dict per row, every column (singer-sdk applies the selection); `pending(n)` names the row being
    handed over (None after)."""
    names = list(file.columns)
    kinds = [file.columns[n] for n in names]
    constants = _meta_constants(file.item)
    keys = [*constants, ROW_NUMBER, *names]
    rows = 0
    for batch, first in file.slices:
        for number, values in enumerate(zip(*_columns(batch, names, kinds), strict=True), start=first):
            pending(number)  # counted once singer-sdk wrote it (ContentStream.record_written)
            yield dict(zip(keys, (*constants.values(), number, *values), strict=True))
        pending(None)
        rows += batch.num_rows
    return rows
