"""ContentStream: every row of one agent's delivered data files, typed, exactly once.

Per file: download whole (retried whole), infer every column over the whole file (pass 1), widen the
stream schema and emit SCHEMA if it changed, then convert and emit rows (pass 2). State moves past a
run only after all its files were emitted; inside a file it records the rows written, so an
interrupted sync resumes after the last row it wrote.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from singer_sdk import metrics
from singer_sdk.mapper import SameRecordTransform

from tap_sequentum import errors
from tap_sequentum.contents.batches import ParquetBatchWriter, typed_column
from tap_sequentum.contents.discovery import data_files
from tap_sequentum.contents.fetch import RunFile, fetched
from tap_sequentum.contents.formats import ReadOptions, format_of, read_batches
from tap_sequentum.contents.infer import Kind, infer_arrow, text_kind, widen
from tap_sequentum.contents.records import RecordWriter, column_values
from tap_sequentum.contents.schema import (
    METADATA,
    PRIMARY_KEYS,
    REPLICATION_KEY,
    build_schema,
    declared,
    merge_columns,
)
from tap_sequentum.domain import is_finished, parse_timestamp
from tap_sequentum.streams import SequentumStream, plan_agent_runs, save_plan

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record

    from tap_sequentum.sdk import BatchConfig


_META_NAMES = list(METADATA)
ROW_NUMBER = "_sdc_row_number"


class ContentStream(SequentumStream):
    """Rows of the data files an agent delivered, with `_sdc_` columns naming their origin."""

    primary_keys = PRIMARY_KEYS
    replication_key = REPLICATION_KEY
    is_sorted = False

    def __init__(self, tap: Tap, *, name: str, agent_id: int, columns: dict[str, Kind]) -> None:
        self.agent_id = agent_id
        self.columns = {column: declared(kind) for column, kind in columns.items()}
        super().__init__(tap=tap, name=name, schema=build_schema(self.columns))
        self._parquet: ParquetBatchWriter | None = None
        self._record_counter: metrics.Counter | None = None
        self._pending: tuple[dict, int] | None = None

    @property
    def read_options(self) -> ReadOptions:
        return ReadOptions(encoding=self.config.get("csv_encoding") or "utf-8")

    def get_record_counter(self, **kwargs: Any) -> metrics.Counter:
        """Keep the SDK's counter: records the fast path writes itself are counted on it too."""
        self._record_counter = super().get_record_counter(**kwargs)
        return self._record_counter

    def record_written(self, record: Record, context: Context | None) -> None:
        """Called right after singer-sdk wrote a record: that row now counts as emitted.

        There are no per-record bookmarks; `get_records` writes the run bookkeeping itself.
        """
        if self._pending is not None:
            progress, number = self._pending
            progress["rows"] = number

    # -- runs ---------------------------------------------------------------------------------------

    def get_records(self, context: Context | None) -> Iterable[dict]:
        state = self.stream_state
        plan = plan_agent_runs(self, self.agent_id, state, "done_run_ids")
        # A run interrupted mid-way comes first, so its progress is used before anything replaces it;
        # then oldest first, so an interrupted sync has emitted a prefix of history.
        interrupted = (state.get("current") or {}).get("run_id")
        todo = sorted(
            (run for run in plan.emit if is_finished(run.get("status"))),
            key=lambda run: (
                int(run["id"]) != interrupted,
                parse_timestamp(run.get("created")),
                int(run["id"]),
            ),
        )
        for run in todo:
            yield from self._sync_run(run, state)
            state.setdefault("done_run_ids", []).append(int(run["id"]))
            state.pop("current", None)
            self._flush_state()
        save_plan(state, plan, REPLICATION_KEY, "done_run_ids")

    def _sync_run(self, run: dict, state: dict) -> Iterator[dict]:
        run_id = int(run["id"])
        current = state.get("current") if (state.get("current") or {}).get("run_id") == run_id else None
        files_done = set(current.get("files_done", [])) if current else set()
        for item in data_files(self.client, self.agent_id, run):
            if item.file_id in files_done:
                continue
            fmt = format_of(item.name)
            if fmt is None:
                self.logger.warning("Skipping %s: not a data format this tap reads.", item.describe())
                continue
            resume = current["rows"] if current and current.get("file_id") == item.file_id else 0
            yield from self._sync_file(item, fmt, resume, state, files_done)
            files_done.add(item.file_id)
            state["current"] = {"run_id": run_id, "files_done": sorted(files_done)}

    # -- files --------------------------------------------------------------------------------------

    def _sync_file(
        self, item: RunFile, fmt: str, resume: int, state: dict, files_done: set[int]
    ) -> Iterator[dict]:
        started = time.monotonic()
        temp_dir = self.config.get("temp_dir") or None
        with fetched(self.client, item, temp_dir=temp_dir) as (path, download):
            try:
                self._widen(self._infer_file(path, fmt), item)
            except errors.MalformedFileError as exc:
                raise errors.ContentError(
                    f"{item.describe()} is not valid {fmt.upper()} ({exc}); nothing from it was "
                    f"emitted and the state stays before this run: fix the file, set csv_encoding if "
                    f"it is not UTF-8, or deselect stream '{self.name}'."
                ) from None
            progress = {
                "run_id": item.run_id,
                "files_done": sorted(files_done),
                "file_id": item.file_id,
                "rows": resume,
            }
            state["current"] = progress
            rows = yield from self._emit_file(path, fmt, item, progress)
        self.logger.info(
            "Downloaded %s: %d bytes, %d rows emitted in %.2f s",
            item.describe(),
            download.size,
            rows,
            time.monotonic() - started,
        )

    def _infer_file(self, path: Path, fmt: str) -> dict[str, Kind]:
        """Pass 1: the kind of every column over the whole file (columns already text stay text)."""
        infer_types = self.config.get("infer_types", True)
        seen: dict[str, Kind] = {}
        for batch in read_batches(path, fmt, self.read_options):
            for name, column in zip(batch.schema.names, batch.columns, strict=True):
                if seen.get(name) is Kind.STRING or self.columns.get(name) is Kind.STRING:
                    seen[name] = Kind.STRING
                    continue
                kind = infer_arrow(column) if infer_types else text_kind(column)
                seen[name] = widen(seen.get(name, Kind.NULL), kind)
        return seen

    def _widen(self, seen: dict[str, Kind], item: RunFile) -> None:
        """Widen the schema for what a file holds and announce it before any of its records."""
        merged = merge_columns(self.columns, seen)
        if merged == self.columns:
            return
        changes = [
            f"{name}: {self.columns[name].value} -> {kind.value}"
            if name in self.columns
            else f"{name}: new ({kind.value})"
            for name, kind in merged.items()
            if self.columns.get(name) is not kind
        ]
        self.logger.info("Stream %s widened for %s: %s", self.name, item.describe(), "; ".join(changes))
        self.columns = merged
        self.replace_schema(build_schema(merged))

    def _emit_file(self, path: Path, fmt: str, item: RunFile, progress: dict) -> Iterator[Any]:
        """Pass 2: convert and emit every row after `progress["rows"]`; returns the rows emitted.

        One of three emitters: Parquet BATCH files (typed Arrow, no row objects), the fast RECORD
        writer, or records yielded to singer-sdk when a stream map needs them.
        """
        slices = resume_slices(read_batches(path, fmt, self.read_options), progress["rows"])
        if self._parquet is not None:
            return (yield from self._emit_parquet(self._parquet, slices, item, progress))
        if self._fast_path():
            return self._emit_fast(slices, item, progress)
        return (yield from self._emit_records(slices, item, progress))

    def _selected(self, names: Iterable[str]) -> list[str]:
        return [name for name in names if self.mask[("properties", name)]]

    def _emit_parquet(
        self,
        parquet: ParquetBatchWriter,
        slices: Iterator[tuple[pa.RecordBatch, int]],
        item: RunFile,
        progress: dict,
    ) -> Iterator[Manifest]:
        names, meta_names = self._selected(self.columns), self._selected(_META_NAMES)
        kinds = [self.columns[n] for n in names]
        rows = 0
        for batch, first in slices:
            meta = dict(zip(_META_NAMES, _meta_arrays(item, first, batch.num_rows), strict=True))
            parquet.write(meta_names + names, [meta[n] for n in meta_names] + _typed(batch, names, kinds))
            self._count(batch.num_rows)
            rows += batch.num_rows
            progress["rows"] = first + batch.num_rows - 1
        manifest = parquet.take_manifest()
        if manifest:
            yield Manifest(manifest)  # the SDK writes the BATCH message, then the state
        return rows

    def _emit_fast(self, slices: Iterator[tuple[pa.RecordBatch, int]], item: RunFile, progress: dict) -> int:
        writer = RecordWriter(self.name, meter=self.tap.output_meter)
        names, meta_names = self._selected(self.columns), self._selected(_META_NAMES)
        kinds = [self.columns[n] for n in names]
        constants = {k: v for k, v in _meta_constants(item).items() if k in meta_names}
        row_numbers = [n for n in meta_names if n == ROW_NUMBER]
        extracted = dt.datetime.now(dt.UTC).isoformat()
        rows = 0
        for batch, first in slices:
            numbers = [range(first, first + batch.num_rows)] if row_numbers else []
            writer.write(constants, row_numbers + names, numbers + _columns(batch, names, kinds), extracted)
            self._count(batch.num_rows)
            rows += batch.num_rows
            progress["rows"] = first + batch.num_rows - 1
            self.offer_state()
            self.services.check_stop()
        return rows

    def _emit_records(
        self, slices: Iterator[tuple[pa.RecordBatch, int]], item: RunFile, progress: dict
    ) -> Iterator[dict]:
        names = list(self.columns)
        kinds = [self.columns[n] for n in names]
        constants = _meta_constants(item)
        rows = 0
        for batch, first in slices:
            keys = [*constants, ROW_NUMBER, *names]
            for number, values in enumerate(zip(*_columns(batch, names, kinds), strict=True), start=first):
                self._pending = (progress, number)  # counted once written (record_written)
                yield dict(zip(keys, (*constants.values(), number, *values), strict=True))
            self._pending = None
            rows += batch.num_rows
        return rows

    def get_batches(self, batch_config: BatchConfig, context: Context | None = None) -> Iterable[Any]:
        """Parquet BATCH files straight from Arrow when no stream map applies; else the SDK's way."""
        maps = self.stream_maps
        parquet = str(getattr(batch_config.encoding.format, "value", batch_config.encoding.format))
        if parquet != "parquet" or len(maps) != 1 or type(maps[0]) is not SameRecordTransform:
            yield from super().get_batches(batch_config, context)
            return
        self._parquet = ParquetBatchWriter(batch_config, self.tap_name, self.name)
        try:
            for item in self.get_records(context):
                if isinstance(item, Manifest):
                    yield batch_config.encoding, item.urls
        finally:
            self._parquet = None

    # -- plumbing -----------------------------------------------------------------------------------

    def _fast_path(self) -> bool:
        """True when records need no stream map: they can be encoded straight to stdout.

        Flattening needs no care: content records are flat already.
        """
        maps = self.stream_maps
        return (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and not self.get_batch_config(self.config)
            and self.config.get("content_fast_path", True)
        )

    def _count(self, records: int) -> None:
        if self._record_counter is not None:
            self._record_counter.increment(records)

    def _flush_state(self) -> None:
        """Write STATE now, unless singer-sdk's batcher still holds records: it writes STATE itself
        right after each BATCH, when the state matches what was sent."""
        if self._parquet is None and self.get_batch_config(self.config):
            return
        self.offer_state()


@dataclass(frozen=True)
class Manifest:
    """Parquet files written for one data file, handed from `get_records` to `get_batches`."""

    urls: list[str]


def resume_slices(batches: Iterable[pa.RecordBatch], skip: int) -> Iterator[tuple[pa.RecordBatch, int]]:
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
