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
from singer_sdk.helpers._catalog import get_selected_schema
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
    from singer_sdk.helpers._batch import BatchConfig
    from singer_sdk.helpers.types import Context, Record


_META_NAMES = list(METADATA)
#: The fast path writes a STATE message at least this often (and after every file).
STATE_EVERY_ROWS = 100_000


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

    def _increment_stream_state(self, latest_record: Record, *, context: Context | None = None) -> None:
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
        self._schema = build_schema(merged)
        if self._input_schema is not None:
            self._input_schema = self._schema
        if self._tap.mapper is not None:
            # As singer-sdk does for the catalog: the announced schema leaves out deselected columns.
            selected = get_selected_schema(self.name, self._schema, self.mask)
            self._tap.mapper.register_raw_stream_schema(self.name, selected, self.primary_keys)
            self._stream_maps = []
        self._write_schema_message()

    def _emit_file(self, path: Path, fmt: str, item: RunFile, progress: dict) -> Iterator[Any]:
        """Pass 2: convert and emit every row after `progress["rows"]`; returns the rows emitted.

        Three ways out: Parquet BATCH files (typed Arrow, no row objects), the fast RECORD writer,
        or records yielded to singer-sdk when a stream map needs them.
        """
        parquet = self._parquet
        writer = RecordWriter(self.name) if parquet is None and self._fast_path() else None
        direct = parquet is not None or writer is not None
        names = [n for n in self.columns if not direct or self.mask[("properties", n)]]
        meta_names = [n for n in _META_NAMES if not direct or self.mask[("properties", n)]]
        kinds = [self.columns[n] for n in names]
        extracted = dt.datetime.now(dt.UTC).isoformat()
        skip = progress["rows"]
        row = emitted = flushed = 0
        for batch in read_batches(path, fmt, self.read_options):
            first = row + 1
            row += batch.num_rows
            if row <= skip:
                continue
            if first <= skip:
                batch = batch.slice(skip - first + 1)
                first = skip + 1
            count = batch.num_rows
            meta = [
                [item.agent_id] * count,
                [item.run_id] * count,
                [item.run_created] * count,
                [item.file_id] * count,
                [item.name] * count,
                range(first, first + count),
            ]
            if parquet is not None:
                arrays = [a for k, a in zip(_META_NAMES, _meta_arrays(meta), strict=True) if k in meta_names]
                parquet.write(meta_names + names, arrays + _typed(batch, names, kinds))
                self._count(count)
            elif writer is not None:
                constants = {
                    k: m[0] for k, m in zip(_META_NAMES[:-1], meta[:-1], strict=True) if k in meta_names
                }
                writer.write(
                    constants, _META_NAMES[-1:] + names, meta[-1:] + _columns(batch, names, kinds), extracted
                )
                self._count(count)
                progress["rows"] = row
                if row - flushed >= STATE_EVERY_ROWS or self._tap._stop_signal is not None:  # type: ignore[attr-defined]
                    self._flush_state()
                    flushed = row
                self._tap.check_stop()  # type: ignore[attr-defined]
            else:
                values = _columns(batch, names, kinds)
                for number, record in enumerate(_records(names, meta, values), start=first):
                    self._pending = (progress, number)  # counted once written (_increment_stream_state)
                    yield record
                self._pending = None
            emitted += count
        if writer is not None and flushed != row:
            self._flush_state()
        if parquet is not None:
            progress["rows"] = row
            manifest = parquet.take_manifest()
            if manifest:
                yield Manifest(manifest)  # the SDK writes the BATCH message, then the state
        return emitted

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
        self.state_manager.is_flushed = False
        self._write_state_message()


@dataclass(frozen=True)
class Manifest:
    """Parquet files written for one data file, handed from `get_records` to `get_batches`."""

    urls: list[str]


def _meta_arrays(meta: list[Any]) -> list[pa.Array]:
    types = [pa.int64(), pa.int64(), pa.string(), pa.int64(), pa.string(), pa.int64()]
    return [pa.array(list(values), type=kind) for values, kind in zip(meta, types, strict=True)]


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


def _records(names: list[str], meta: list[Any], values: list[list[Any]]) -> Iterator[dict]:
    keys = _META_NAMES + names
    for row in zip(*meta, *values, strict=True):
        yield dict(zip(keys, row, strict=True))
