"""ContentStream: every row of one export table's delivered files (of one agent, or of several), exactly once.

Per file: download whole (retried whole), decide its encoding and delimiter, infer every column over the
whole file (pass 1), widen the stream schema and emit SCHEMA if it changed, then convert and emit rows
(pass 2, `emit.py`). Runs are handled as `incremental.py` plans them; inside a run the state records the
files done and, inside a file, the rows written, so an interrupted sync resumes after the last row it
wrote. A file that cannot be read is reported (`file_errors`) and skipped, or stops this stream at that
file (`on_bad_file: stop`) while every other stream goes on.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import metrics
from singer_sdk.mapper import SameRecordTransform

from tap_sequentum import errors
from tap_sequentum.contents.batches import ParquetBatchWriter
from tap_sequentum.contents.dialect import ReadOptions, redetect, resolve
from tap_sequentum.contents.emit import (
    FileRows,
    Manifest,
    emit_fast,
    emit_parquet,
    emit_records,
    resume_slices,
)
from tap_sequentum.contents.fetch import (
    IN_MEMORY_BYTES,
    RunFile,
    Transfer,
    TransferFailed,
    TransferRestarted,
    data_files,
    download_to_memory,
)
from tap_sequentum.contents.formats import format_of, read_batches
from tap_sequentum.contents.infer import Kind, infer_batch, widen
from tap_sequentum.contents.naming import Router
from tap_sequentum.contents.records import RecordWriter
from tap_sequentum.contents.schema import PRIMARY_KEYS, REPLICATION_KEY, build_schema, declared, merge_columns
from tap_sequentum.contents.source import FileSource, Source
from tap_sequentum.domain import parse_timestamp
from tap_sequentum.incremental import WATCHED, RunPlan, finality, mark_handled
from tap_sequentum.settings import SKIP, STOP
from tap_sequentum.streams import SequentumStream

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record

    from tap_sequentum.sdk import BatchConfig

AGENT_KEY = "_sdc_agent_id"
WATCHED_FILES = "watched_files"


@dataclass(frozen=True)
class FileProblem:
    """A delivered file that was not (or not yet) extracted, and why: what `file_errors` records."""

    item: RunFile
    stream: str
    reason: str
    action: str  # "skipped", "stopped", "no_stream", "unsupported"


@dataclass
class ContentSettings:
    """What every content stream of one tap run shares; built once by the tap."""

    router: Router
    options: ReadOptions = field(default_factory=ReadOptions)
    on_bad_file: str = SKIP
    infer_types: bool = True
    fast_path: bool = True
    temp_dir: str | None = None
    #: Every content stream of this run, and per agent the one that reports its files no stream takes.
    stream_names: set[str] = field(default_factory=set)
    reporters: dict[int, str] = field(default_factory=dict)
    report: Callable[[FileProblem], None] = lambda problem: None
    #: Streams stopped at a file this sync (their state stays before it): the tap fails at the end.
    stopped: list[str] = field(default_factory=list)


class StreamStopped(Exception):
    """This stream stops at this file; every other stream goes on."""


#: A group of runs is read (pass 1) before it is emitted while its files stay under these bounds.
GROUP_BYTES = 1 << 30
#: Of which at most this much is held in memory (small files); the rest waits in temp_dir.
GROUP_MEMORY = 128 << 20
GROUP_RUNS = 500
#: Formats read while they download.
STREAMABLE = frozenset({"csv", "tsv", "jsonl"})


@dataclass
class _RunFiles:
    """A run to handle, the files of it this stream takes, and those already done."""

    run: dict
    files: list[RunFile]
    done: set[int]


@dataclass
class _Prepared:
    """A file downloaded and read once (pass 1), ready to emit."""

    item: RunFile
    fmt: str
    source: Source
    options: ReadOptions
    size: int
    started: float


class ContentStream(SequentumStream):
    """Rows of delivered data files, with `_sdc_` columns naming their origin."""

    primary_keys = PRIMARY_KEYS
    replication_key = REPLICATION_KEY
    is_sorted = False
    state_partitioning_keys: ClassVar[list[str]] = []
    defer_schema = True  # SCHEMA goes out once the first files were read, with what they hold

    def __init__(
        self,
        tap: Tap,
        *,
        name: str,
        agent_ids: Iterable[int],
        columns: dict[str, Kind],
        settings: ContentSettings,
    ) -> None:
        self.agent_ids = sorted(agent_ids)
        self.settings = settings
        self.columns = {column: declared(kind) for column, kind in columns.items()}
        super().__init__(tap=tap, name=name, schema=build_schema(self.columns))
        if settings.router.merge:
            # One stream, several agents: each agent's bookkeeping is its own partition.
            self.state_partitioning_keys = [AGENT_KEY]
        self._parquet: ParquetBatchWriter | None = None
        self._record_counter: metrics.Counter | None = None
        self._pending: tuple[dict, int] | None = None
        self._in_memory = 0

    @property
    def partitions(self) -> list[dict]:
        return [{AGENT_KEY: agent_id} for agent_id in self.agent_ids]

    def get_record_counter(self, **kwargs: Any) -> metrics.Counter:
        """Keep the SDK's counter: records the fast path writes itself are counted on it too."""
        self._record_counter = super().get_record_counter(**kwargs)
        return self._record_counter

    def record_written(self, record: Record, context: Context | None) -> None:
        """Called right after singer-sdk wrote a record: that row now counts as emitted."""
        if self._pending is not None:
            progress, number = self._pending
            progress["rows"] = number

    # -- runs ---------------------------------------------------------------------------------------

    def get_records(self, context: Context | None) -> Iterable[dict]:
        for partition in [context] if context else self.partitions:
            yield from self._agent_records(int(partition[AGENT_KEY]), self.get_context_state(partition))

    def _agent_records(self, agent_id: int, state: dict) -> Iterator[Any]:
        plan = self.plan_runs(agent_id, state)
        self._park_restarted(plan, state)
        # A run interrupted mid-way comes first, so its progress is used before anything replaces it;
        # then oldest first, so an interrupted sync has emitted a prefix of history.
        interrupted = (state.get("current") or {}).get("run_id")
        todo = sorted(
            (run for run in plan.handle if finality(run) != "active"),
            key=lambda r: (int(r["id"]) != interrupted, parse_timestamp(r.get("created")), int(r["id"])),
        )
        for group in self._groups(agent_id, todo, state):
            with contextlib.ExitStack() as cleanup:
                stopped, ready, failure = self._prepare(group, cleanup)
                for run, files, complete in ready:
                    for prepared in files:
                        yield from self._emit_prepared(prepared, state)
                    if complete:
                        self._finish_run(run, state)
            if failure is not None:
                raise failure
            if stopped is not None:
                self.settings.stopped.append(f"{self.name} at {stopped}")
                return  # the state stays before this file; every other stream goes on
        plan.save(state, REPLICATION_KEY)
        watched = state.get(WATCHED_FILES) or {}
        for run_id in [run_id for run_id in watched if run_id not in plan.watched]:
            del watched[run_id]
        if not watched:
            state.pop(WATCHED_FILES, None)

    @staticmethod
    def _park_restarted(plan: RunPlan, state: dict) -> None:
        """A run interrupted mid-way that Sequentum restarted meanwhile is not emitted while it runs, and the
        runs emitted meanwhile replace `current`: its files already done become its watched files, and it
        stays watched (an empty fingerprint: whatever it ends as is a change) until it ends."""
        run_id = (state.get("current") or {}).get("run_id")
        if not any(int(run["id"]) == run_id and finality(run) == "active" for run in plan.handle):
            return
        done = state.setdefault(WATCHED_FILES, {}).setdefault(str(run_id), [])
        done[:] = sorted({*done, *state.pop("current").get("files_done", [])})
        state.setdefault(WATCHED, {}).setdefault(str(run_id), "")
        plan.watched.setdefault(str(run_id), state[WATCHED][str(run_id)])

    def _groups(self, agent_id: int, runs: list[dict], state: dict) -> Iterator[list[_RunFiles]]:
        """The runs to handle with the files this stream takes, in groups of about `GROUP_BYTES`.

        A group's files are all read (pass 1) before any is emitted, so the schema a target first sees
        holds every file of the group: a first sync creates its tables with the types of the whole
        history, not of the newest file, and no column changes type half-way.
        """
        group: list[_RunFiles] = []
        size = 0
        for run in runs:
            run_id = int(run["id"])
            current = state.get("current") if (state.get("current") or {}).get("run_id") == run_id else None
            done = set(current.get("files_done", [])) if current else set()
            # A restarted run's files extracted before it restarted are not read again.
            done |= set((state.get(WATCHED_FILES) or {}).get(str(run_id), []))
            files = data_files(self.client, agent_id, run)
            if self.settings.reporters.get(agent_id) == self.name:
                self._report_strays(agent_id, files)
            mine = [
                item
                for item in files
                if item.file_id not in done
                and format_of(item.name) is not None
                and self.settings.router.stream_of(agent_id, item.name) == self.name
            ]
            group.append(_RunFiles(run, mine, done))
            size += sum(item.size or 0 for item in mine)
            if size >= GROUP_BYTES or len(group) >= GROUP_RUNS:
                yield group
                group, size = [], 0
        if group:
            yield group

    def _prepare(
        self, group: list[_RunFiles], cleanup: contextlib.ExitStack
    ) -> tuple[str | None, list[tuple[_RunFiles, list[_Prepared], bool]], errors.SequentumError | None]:
        """Pass 1 over a group: download and read every file, then widen the schema once.

        Returns the runs ready to emit, up to a file that stops the stream (and why) or a failure
        that stops the sync (raised once the runs before it are out).
        """
        seen: dict[str, Kind] = {}
        self._in_memory = 0
        ready: list[tuple[_RunFiles, list[_Prepared], bool]] = []
        stopped: str | None = None
        failure: errors.SequentumError | None = None
        for run in group:
            files: list[_Prepared] = []
            try:
                for item in run.files:
                    self.services.check_stop()  # a stop waits for no download: nothing is emitted yet
                    prepared = self._prepare_file(item, seen, cleanup)
                    if prepared is not None:
                        files.append(prepared)
            except StreamStopped as stop:
                stopped = str(stop)
                ready.append((run, files, False))  # the files before the bad one still go out
                break
            except errors.SequentumError as exc:
                failure = exc
                ready.append((run, files, False))  # the files before the failure still go out
                break
            ready.append((run, files, True))
        items = [prepared.item for _, files, _ in ready for prepared in files]
        if items:
            self._widen(seen, items[0].describe() if len(items) == 1 else f"{len(items)} files")
            self.release_schema()
        return stopped, ready, failure

    def _prepare_file(
        self, item: RunFile, seen: dict[str, Kind], cleanup: contextlib.ExitStack
    ) -> _Prepared | None:
        """Download one file and run pass 1 over it; None when it was skipped (and reported)."""
        fmt = format_of(item.name)
        assert fmt is not None
        started = time.monotonic()
        try:
            source, options, size = self._download(item, fmt, seen, cleanup)
        except errors.NotFoundError:
            # Sequentum removed the file after listing it: it cannot come back, so it never blocks.
            self.settings.report(FileProblem(item, self.name, "gone: the download answered 404", "skipped"))
            return None
        except errors.DownloadError as exc:
            self.logger.warning("Stream %s stops at %s: %s", self.name, item.describe(), exc)
            raise StreamStopped(f"{item.describe()} (download kept failing)") from None
        except errors.MalformedFileError as exc:
            reason = f"not valid {fmt.upper()} ({exc})"
            if self.settings.on_bad_file == STOP:
                self.settings.report(FileProblem(item, self.name, reason, "stopped"))
                raise StreamStopped(f"{item.describe()}: {reason}") from None
            self.settings.report(FileProblem(item, self.name, reason, "skipped"))
            return None
        return _Prepared(item, fmt, source, options, size, started)

    def _download(
        self, item: RunFile, fmt: str, seen: dict[str, Kind], cleanup: contextlib.ExitStack
    ) -> tuple[Source, ReadOptions, int]:
        """The file as a readable source with its read options, its columns inferred into `seen`.

        Small files go to memory. Big CSV, TSV and JSON Lines files are read while they download, so
        pass 1 costs no time of its own; other big files are read once they are on disk.
        """
        if item.size is not None and item.size <= IN_MEMORY_BYTES and self._in_memory < GROUP_MEMORY:
            self._in_memory += item.size  # a group of many small files spills to disk past GROUP_MEMORY
            memory, result = download_to_memory(self.client, item)
            return memory, self._infer(memory, fmt, seen), result.size
        transfer = Transfer(self.client, item, temp_dir=self.settings.temp_dir)
        cleanup.callback(transfer.close)
        on_disk = FileSource(transfer.path)
        if fmt not in STREAMABLE:
            size = transfer.wait().size
            return on_disk, self._infer(on_disk, fmt, seen), size
        while True:
            try:
                options = self._infer(transfer, fmt, seen, whole=False)
                break
            except TransferRestarted:
                continue  # the download broke and starts again: so does pass 1 (`seen` is untouched)
            except TransferFailed:
                transfer.wait()  # raises why the download failed
                raise
            except errors.MalformedFileError:
                transfer.wait()  # a download error explains a broken file better than the parser
                options = self._infer(on_disk, fmt, seen)  # again, from the whole file (encoding)
                break
        return on_disk, options, transfer.wait().size

    def _infer(self, source: Source, fmt: str, seen: dict[str, Kind], *, whole: bool = True) -> ReadOptions:
        """Decide how to read the file and infer its columns into `seen` (columns already text stay text).

        A file whose prefix looked like UTF-8 but whose later bytes are not is detected again as a
        whole (when `whole`; a download still arriving is checked once it is complete).
        """
        options = resolve(source, fmt, self.settings.options)
        kinds: dict[str, Kind] = {}
        try:
            self._infer_into(kinds, source, fmt, options)
        except errors.MalformedFileError:
            retry = redetect(source, options) if whole else None
            if retry is None:
                raise
            options, kinds = retry, {}
            self._infer_into(kinds, source, fmt, options)
        for name, kind in kinds.items():
            seen[name] = widen(seen.get(name, Kind.NULL), kind)
        if options.encoding not in ("utf-8", self.settings.options.encoding):
            self.logger.info("Reading %s as %s.", getattr(source, "path", "a file"), options.encoding)
        return options

    def _infer_into(self, seen: dict[str, Kind], source: Source, fmt: str, options: ReadOptions) -> None:
        for batch in read_batches(source, fmt, options):
            infer_batch(batch, seen, infer_types=self.settings.infer_types, known=self.columns)

    def _emit_prepared(self, prepared: _Prepared, state: dict) -> Iterator[Any]:
        item = prepared.item
        current = state.get("current") if (state.get("current") or {}).get("run_id") == item.run_id else None
        done = sorted(set((current or {}).get("files_done", [])))
        resume = current["rows"] if current and current.get("file_id") == item.file_id else 0
        progress = {"run_id": item.run_id, "files_done": done, "file_id": item.file_id, "rows": resume}
        state["current"] = progress
        rows = yield from self._emit_file(prepared.source, prepared.fmt, prepared.options, item, progress)
        state["current"] = {"run_id": item.run_id, "files_done": sorted({*done, item.file_id})}
        self.logger.info(
            "Downloaded %s: %d bytes, %d rows emitted in %.2f s",
            item.describe(),
            prepared.size,
            rows,
            time.monotonic() - prepared.started,
        )

    def _finish_run(self, run: _RunFiles, state: dict) -> None:
        """Every file of the run this stream takes is out: record the run (and what a restart may add)."""
        run_id = int(run.run["id"])
        if finality(run.run) == "watched":
            done = run.done | {item.file_id for item in run.files}
            state.setdefault(WATCHED_FILES, {})[str(run_id)] = sorted(done)
        else:
            (state.get(WATCHED_FILES) or {}).pop(str(run_id), None)
        mark_handled(state, run.run)
        state.pop("current", None)
        self.offer_state()  # held while singer-sdk's batcher still has records (SeamStream.get_batches)

    def _report_strays(self, agent_id: int, files: list[RunFile]) -> None:
        """Files no content stream of this run takes: named once, by one stream per agent."""
        for item in files:
            if format_of(item.name) is None:
                reason = f"'{item.name or '(no name)'}' is not a data format this tap reads"
                self.settings.report(FileProblem(item, "", reason, "unsupported"))
                continue
            stream = self.settings.router.stream_of(agent_id, item.name)
            if stream not in self.settings.stream_names:
                reason = (
                    f"export table '{self.settings.router.table_of(agent_id, item.name)}' has no stream "
                    f"'{stream}' in the catalog: discover again (raise discovery_sample_runs if the table "
                    "is only in older runs) and select it"
                )
                self.settings.report(FileProblem(item, stream, reason, "no_stream"))

    def _widen(self, seen: dict[str, Kind], where: str) -> None:
        """Widen the schema for what the files hold and announce it before any of their records."""
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
        self.logger.info("Stream %s widened for %s: %s", self.name, where, "; ".join(changes))
        self.columns = merged
        self.replace_schema(build_schema(merged))

    def _emit_file(
        self, source: Source, fmt: str, options: ReadOptions, item: RunFile, progress: dict
    ) -> Iterator[Any]:
        """Pass 2: convert and emit every row after `progress["rows"]`; returns the rows emitted."""
        slices = resume_slices(read_batches(source, fmt, options), progress["rows"])
        file = FileRows(item, slices, self.columns, self._is_selected, progress)
        if self._parquet is not None:
            return (yield from emit_parquet(self._parquet, file, self._count))
        if self._fast_path():
            return emit_fast(self._writer, file, self._after_batch)
        return (yield from emit_records(file, lambda n: self._hand_over(progress, n)))

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

    @cached_property
    def _writer(self) -> RecordWriter:
        """One fast writer per stream: it keeps its record structs from file to file."""
        return RecordWriter(self.name, meter=self.tap.output_meter)

    def _is_selected(self, name: str) -> bool:
        return bool(self.mask[("properties", name)])

    def _hand_over(self, progress: dict, number: int | None) -> None:
        self._pending = None if number is None else (progress, number)

    def _after_batch(self, rows: int) -> None:
        self._count(rows)
        self.offer_state()
        self.services.check_stop()

    def _fast_path(self) -> bool:
        """True when records need no stream map: they can be encoded straight to stdout.

        Flattening needs no care: content records are flat already.
        """
        maps = self.stream_maps
        return (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and not self.get_batch_config(self.config)
            and self.settings.fast_path
        )

    def _count(self, records: int) -> None:
        if self._record_counter is not None:
            self._record_counter.increment(records)
