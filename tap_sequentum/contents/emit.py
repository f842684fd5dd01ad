"""Pass 2 of a content file: its kept rows after the resume point, converted and written one of three ways.

The way is chosen once per stream and sync (`choose`): Parquet BATCH files straight from Arrow when the
sync writes Parquet BATCH messages and no stream map applies; the fast RECORD writer when no stream map
applies; else plain records handed to singer-sdk, which applies the maps. Each emitter calls
`FileRows.out(n)` once row `n` and every row before it are out, which is what the STATE records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from tap_sequentum.contents.batches import ParquetBatchWriter
from tap_sequentum.contents.convert import arrow_values, json_values, python_values
from tap_sequentum.contents.fetch import RunFile
from tap_sequentum.contents.infer import Kind
from tap_sequentum.contents.records import RecordWriter
from tap_sequentum.contents.schema import METADATA

if TYPE_CHECKING:
    from tap_sequentum.sdk import BatchConfig

META_NAMES = list(METADATA)
ROW_NUMBER = "_sdc_row_number"


@dataclass(frozen=True)
class Manifest:
    """Parquet files written for one data file, handed from `get_records` to `get_batches`."""

    urls: list[str]


@dataclass(frozen=True)
class FileRows:
    """What every emitter takes: a file's rows after its resume point (batches with the number of their
    first row), its columns, which columns are selected, and `out(n)`: rows up to `n` are out."""

    item: RunFile
    slices: Iterable[tuple[pa.RecordBatch, int]]
    columns: dict[str, Kind]
    selected: Callable[[str], bool]
    out: Callable[[int], None]

    def selection(self) -> tuple[list[str], list[Kind], list[str]]:
        """The selected columns, their kinds, and the selected metadata columns."""
        names = [n for n in self.columns if self.selected(n)]
        return names, [self.columns[n] for n in names], [n for n in META_NAMES if self.selected(n)]

    def constants(self) -> dict[str, Any]:
        """The metadata values that are the same for every row of the file (all but the row number)."""
        item = self.item
        return {
            "_sdc_agent_id": item.agent_id,
            "_sdc_run_id": item.run_id,
            "_sdc_run_created": item.run_created,
            "_sdc_file_id": item.file_id,
        }


class Emitter(Protocol):
    def emit(self, file: FileRows) -> Iterator[Any]:
        """Write the file's rows; yields what `get_records` hands singer-sdk; returns the rows written."""
        ...


def choose(
    *,
    plain: bool,
    batch_config: BatchConfig | None,
    fast_path: bool,
    parquet: Callable[[BatchConfig], ParquetBatchWriter],
    writer: Callable[[], RecordWriter],
    after_batch: Callable[[int], None],
    count: Callable[[int], None],
) -> Emitter:
    """The emitter for a stream: `plain` when no stream map applies to it; Parquet only for Parquet
    BATCH messages; the fast writer unless `content_fast_path` is off; else singer-sdk's records."""
    if batch_config is not None:
        encoding = str(getattr(batch_config.encoding.format, "value", batch_config.encoding.format))
        if plain and encoding == "parquet":
            return ParquetEmitter(parquet(batch_config), count)
        return SdkEmitter(after_batch)
    if plain and fast_path:
        return RecordEmitter(writer(), after_batch)
    return SdkEmitter(after_batch)


def _columns(batch: pa.RecordBatch, names: list[str], kinds: list[Kind], convert: Callable) -> list:
    present = set(batch.schema.names)
    count = batch.num_rows
    return [
        convert(batch.column(name) if name in present else None, kind, count)
        for name, kind in zip(names, kinds, strict=True)
    ]


@dataclass
class RecordEmitter:
    """RECORD lines encoded in batches straight to stdout; `after_batch(rows)` follows every batch."""

    writer: RecordWriter
    after_batch: Callable[[int], None]

    def emit(self, file: FileRows) -> Iterator[Any]:
        yield from ()  # the rows go to stdout: nothing for singer-sdk
        names, kinds, meta_names = file.selection()
        constants = {k: v for k, v in file.constants().items() if k in meta_names}
        numbered = ROW_NUMBER in meta_names
        extracted = dt.datetime.now(dt.UTC).isoformat()
        rows = 0
        for batch, first in file.slices:
            numbers = [range(first, first + batch.num_rows)] if numbered else []
            columns = numbers + _columns(batch, names, kinds, json_values)
            self.writer.write(constants, [ROW_NUMBER] * numbered + names, columns, extracted)
            rows += batch.num_rows
            file.out(first + batch.num_rows - 1)
            self.after_batch(batch.num_rows)
        return rows


@dataclass
class SdkEmitter:
    """One dict per row, every column (singer-sdk applies the selection and the stream maps). A row is out
    once singer-sdk asks for the next: it writes each record before that. `after_batch(0)` follows every
    batch (the SDK counts its records itself)."""

    after_batch: Callable[[int], None]

    def emit(self, file: FileRows) -> Iterator[dict]:
        names = list(file.columns)
        kinds = [file.columns[n] for n in names]
        constants = file.constants()
        keys = [*constants, ROW_NUMBER, *names]
        rows = 0
        for batch, first in file.slices:
            values = _columns(batch, names, kinds, python_values)
            for number, row in enumerate(zip(*values, strict=True), start=first):
                yield dict(zip(keys, (*constants.values(), number, *row), strict=True))
                file.out(number)
            rows += batch.num_rows
            self.after_batch(0)
        return rows


@dataclass
class ParquetEmitter:
    """Typed Arrow columns into Parquet BATCH files; yields the manifest once the file is done. No STATE
    goes out before the BATCH message (singer-sdk writes it after)."""

    parquet: ParquetBatchWriter
    count: Callable[[int], None]

    def emit(self, file: FileRows) -> Iterator[Manifest]:
        names, kinds, meta_names = file.selection()
        constants = file.constants()
        rows = 0
        for batch, first in file.slices:
            count = batch.num_rows
            meta = {
                name: pa.array([value] * count, type=_META_TYPES[name]) for name, value in constants.items()
            }
            meta[ROW_NUMBER] = pa.array(range(first, first + count), type=pa.int64())
            typed = _columns(batch, names, kinds, arrow_values)
            self.parquet.write(meta_names + names, [meta[n] for n in meta_names] + typed)
            self.count(count)
            rows += count
            file.out(first + count - 1)
        manifest = self.parquet.take_manifest()
        if manifest:
            yield Manifest(manifest)  # the SDK writes the BATCH message, then the state
        return rows


_META_TYPES = {
    name: pa.string() if schema["type"][0] == "string" else pa.int64() for name, schema in METADATA.items()
}
