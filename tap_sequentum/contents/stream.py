"""ContentStream: every row of one export table's delivered files (of one agent, or of several), exactly once.

Glue between singer-sdk, the client and three pure parts: `incremental.py` plans the runs, `runs.py`
groups them and parses each group's files once (pass 1: download, dialect, inference, rows kept),
`emit.py` writes the kept rows (pass 2), and `progress.py` says what is out after every step, which is
what the STATE records: an interrupted sync resumes after the last row it wrote.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import metrics
from singer_sdk.mapper import SameRecordTransform

from tap_sequentum.contents import progress as p
from tap_sequentum.contents import schema as sc
from tap_sequentum.contents.batches import ParquetBatchWriter
from tap_sequentum.contents.emit import Emitter, FileRows, Manifest, ParquetEmitter, choose
from tap_sequentum.contents.fetch import RunFile, data_files
from tap_sequentum.contents.formats import format_of
from tap_sequentum.contents.identity import StreamIdentity
from tap_sequentum.contents.infer import Kind
from tap_sequentum.contents.parse import Budget, ParsedFile, parse_file
from tap_sequentum.contents.records import RecordWriter
from tap_sequentum.contents.runs import GROUP_MEMORY, ContentSettings, GroupReader, groups, strays
from tap_sequentum.incremental import WATCHED, active_runs, keep_watching
from tap_sequentum.streams import SequentumStream

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_sequentum.sdk import BatchConfig

AGENT_KEY = "_sdc_agent_id"


class ContentStream(SequentumStream):
    """Rows of delivered data files, with `_sdc_` columns naming their origin."""

    primary_keys = sc.PRIMARY_KEYS
    replication_key = sc.REPLICATION_KEY
    is_sorted = False
    state_partitioning_keys: ClassVar[list[str]] = []
    defer_schema = True  # SCHEMA goes out once the first files were read, with what they hold
    pending_keys = (WATCHED, p.CURRENT, p.WATCHED_FILES)

    def __init__(
        self,
        tap: Tap,
        *,
        name: str,
        agent_ids: Iterable[int],
        columns: dict[str, Kind],
        settings: ContentSettings,
        identity: StreamIdentity | None = None,
    ) -> None:
        self.agent_ids = sorted(agent_ids)
        self.settings = settings
        #: Which agents and export table it reads: the tap records it in the catalog and in the state.
        self.identity = identity
        self.columns = {column: sc.declared(kind) for column, kind in columns.items()}
        super().__init__(tap=tap, name=name, schema=sc.build_schema(self.columns))
        if settings.router.merge:
            self.state_partitioning_keys = [AGENT_KEY]  # one stream, several agents: one partition each
        self._record_counter: metrics.Counter | None = None
        self._batch_config: BatchConfig | None = None

    @property
    def partitions(self) -> list[dict]:
        return [{AGENT_KEY: agent_id} for agent_id in self.agent_ids]

    def get_record_counter(self, **kwargs: Any) -> metrics.Counter:
        """Keep the SDK's counter: the fast and Parquet emitters count their records on it."""
        self._record_counter = super().get_record_counter(**kwargs)
        return self._record_counter

    def record_written(self, record: dict, context: Context | None) -> None:
        """No SDK bookmark: `progress` says what is out."""

    def get_records(self, context: Context | None) -> Iterable[Any]:
        for partition in [context] if context else self.partitions:
            yield from self._agent_records(int(partition[AGENT_KEY]), self.get_context_state(partition))

    def get_batches(self, batch_config: BatchConfig, context: Context | None = None) -> Iterable[Any]:
        """Parquet BATCH files straight from Arrow when `emitter` says so; else the SDK's way."""
        self._batch_config = batch_config
        if not isinstance(self.emitter, ParquetEmitter):
            yield from super().get_batches(batch_config, context)
            return
        for item in self.get_records(context):
            if isinstance(item, Manifest):
                yield batch_config.encoding, item.urls

    def _agent_records(self, agent_id: int, state: dict) -> Iterator[Any]:
        plan = self.plan_runs(agent_id, state)
        if plan is None:
            return
        ledger = p.Ledger(state)
        parked_progress, parked = p.park_restarted(ledger.value, [int(r["id"]) for r in active_runs(plan)])
        if parked is not None:
            ledger.set(parked_progress)
            keep_watching(plan, state, parked)
        runs = p.emission_order(plan.handle, ledger.value)
        for group in groups(runs, lambda run: self._files_to_take(agent_id, run, ledger)):
            budget = Budget(GROUP_MEMORY)
            read = self._reader.read(group, partial(self._parse, budget=budget))
            try:
                self._widen(read.kinds, read.files())
                for run, files, complete in read.ready:
                    for parsed in files:
                        yield from self._emit(parsed, ledger)
                    if complete:
                        ledger.set(p.run_out(ledger.value, run.run, [item.file_id for item in run.files]))
                        plan.mark_handled(state, run.run)
                        self.offer_state()
            finally:
                read.close()
            if read.failure is not None:
                raise read.failure
            if read.stopped is not None:
                self.settings.stopped.append(f"{self.name} at {read.stopped}")
                return  # the state stays before this file; every other stream goes on
        plan.save(state, sc.REPLICATION_KEY)
        ledger.set(p.keep_watched(ledger.value, map(int, plan.watched)))

    def _files_to_take(self, agent_id: int, run: dict, ledger: p.Ledger) -> list[RunFile]:
        """The run's data files routed to this stream and not out yet; strays reported by one stream."""
        files = data_files(self.client, agent_id, run)
        if self.settings.reporters.get(agent_id) == self.name:
            for problem in strays(agent_id, files, self.settings.router, self.settings.stream_names):
                self.settings.report(problem)
        done = p.taken(ledger.value, int(run["id"]))
        route = self.settings.router.stream_of
        return [
            item
            for item in files
            if item.file_id not in done and format_of(item.name) and route(agent_id, item.name) == self.name
        ]

    def _parse(self, item: RunFile, fmt: str, *, budget: Budget) -> ParsedFile:
        parse = self.settings.parse
        return parse_file(self.client, item, fmt, parse, budget, self.columns, self.services.check_stop)

    def _emit(self, parsed: ParsedFile, ledger: p.Ledger) -> Iterator[Any]:
        item = parsed.item
        progress, resume = p.begin_file(ledger.value, item.run_id, item.file_id)
        ledger.set(progress)
        slices = p.resume_slices(parsed.rows.batches(), resume)
        out = FileRows(
            item, slices, self.columns, self._is_selected, lambda n: ledger.set(p.rows_out(ledger.value, n))
        )
        rows = yield from self.emitter.emit(out)
        ledger.set(p.file_out(ledger.value))
        seconds = time.monotonic() - parsed.started
        self.logger.info(
            "Downloaded %s: %d bytes, %d rows emitted in %.2f s", item.describe(), parsed.size, rows, seconds
        )

    def _widen(self, seen: dict[str, Kind], files: list[ParsedFile]) -> None:
        """Widen the schema for what the files hold and announce it before any of their records."""
        merged = sc.merge_columns(self.columns, seen)
        if merged != self.columns:
            where = files[0].item.describe() if len(files) == 1 else f"{len(files)} files"
            self.logger.info(
                "Stream %s widened for %s: %s", self.name, where, sc.widening(self.columns, merged)
            )
            self.columns = merged
            self.replace_schema(sc.build_schema(merged))
        if files:
            self.release_schema()

    # -- plumbing -----------------------------------------------------------------------------------

    @cached_property
    def emitter(self) -> Emitter:
        """How rows go out, chosen once per sync (`emit.choose`)."""
        maps = self.stream_maps
        return choose(
            plain=len(maps) == 1 and type(maps[0]) is SameRecordTransform,
            batch_config=self._batch_config or self.get_batch_config(self.config),
            fast_path=self.settings.fast_path,
            parquet=lambda batch: ParquetBatchWriter(batch, self.tap_name, self.name),
            writer=lambda: RecordWriter(self.name, meter=self.tap.output_meter),
            after_batch=self._after_batch,
            count=self._count,
        )

    @cached_property
    def _reader(self) -> GroupReader:
        return GroupReader(self.name, self.settings, self.services.check_stop, self.logger)

    def _is_selected(self, name: str) -> bool:
        return bool(self.mask[("properties", name)])

    def _after_batch(self, rows: int) -> None:
        self._count(rows)
        self.offer_state()
        self.services.check_stop()

    def _count(self, records: int) -> None:
        if self._record_counter is not None and records:
            self._record_counter.increment(records)
