"""Pass 1 of a delivered file: downloaded, read once, inferred, and its rows kept for emission.

A file is parsed exactly once. Small files are downloaded into memory; big CSV, TSV and JSON Lines files
are parsed while they download (`fetch.Transfer`); other big files once they are on disk. Every batch of
text columns is inferred (widening the file's kinds) and kept: in memory while the group's budget lasts,
else in an Arrow IPC file in `temp_dir`, which emission (pass 2) maps back without parsing anything again.
Only the kept batches outlive pass 1; the downloaded file is removed as soon as it was read.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from tap_sequentum import errors
from tap_sequentum.client import SequentumClient
from tap_sequentum.contents.dialect import ReadOptions, redetect, resolve
from tap_sequentum.contents.fetch import (
    IN_MEMORY_BYTES,
    RunFile,
    Transfer,
    TransferFailed,
    TransferRestarted,
    download_to_memory,
)
from tap_sequentum.contents.formats import read_batches
from tap_sequentum.contents.infer import Kind, infer_batch
from tap_sequentum.contents.source import FileSource, Source

#: Formats read while they download.
STREAMABLE = frozenset({"csv", "tsv", "jsonl"})
#: Batches parsed ahead of the one being inferred and kept (memory stays a few batches).
_AHEAD = 2


@dataclass
class Budget:
    """Bytes of parsed rows a group may keep in memory; what does not fit goes to temp_dir."""

    memory: int

    def take(self, size: int) -> bool:
        if size > self.memory:
            return False
        self.memory -= size
        return True


@dataclass(frozen=True)
class ParseSettings:
    """How files are read: their dialect (encoding, delimiter) and whether columns get types."""

    options: ReadOptions = field(default_factory=ReadOptions)
    infer_types: bool = True
    temp_dir: str | None = None


class KeptRows:
    """A file's text batches in file order, in memory or spilled to Arrow IPC files, until emitted."""

    def __init__(self, budget: Budget | None, temp_dir: str | None = None) -> None:
        self._budget = budget or Budget(0)
        self._temp_dir = temp_dir  # where rows that do not fit go (`ParseSettings.temp_dir`)
        self._parts: list[list[pa.RecordBatch] | Path] = []
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._writer_schema: pa.Schema | None = None
        self._sink: pa.NativeFile | None = None
        self._held = 0  # bytes taken from the budget, given back on close

    def append(self, batch: pa.RecordBatch) -> None:
        if self._writer is None and self._budget.take(batch.nbytes):
            self._held += batch.nbytes
            if not self._parts or not isinstance(self._parts[-1], list):
                self._parts.append([])
            part = self._parts[-1]
            assert isinstance(part, list)
            part.append(batch)
            return
        if self._writer is not None and self._writer_schema != batch.schema:
            self._close_writer()  # batches of JSON or XML may gain columns: a new IPC stream
        if self._writer is None:
            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (removed by `close`)
                prefix="tap-sequentum-", suffix=".arrows", dir=self._temp_dir, delete=False
            )
            handle.close()
            path = Path(handle.name)
            self._parts.append(path)
            self._sink = pa.OSFile(str(path), "wb")
            self._writer = pa.ipc.new_stream(self._sink, batch.schema)
            self._writer_schema = batch.schema
        self._writer.write_batch(batch)

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Every batch, in order (spilled ones read back one at a time)."""
        self._close_writer()
        for part in self._parts:
            if isinstance(part, list):
                yield from part
            else:
                # Read, not memory-mapped: mapped pages would stay resident (and counted) until the end.
                with pa.OSFile(str(part)) as source:
                    yield from pa.ipc.open_stream(source)

    def close(self) -> None:
        self._close_writer()
        for part in self._parts:
            if isinstance(part, Path):
                part.unlink(missing_ok=True)
        self._parts = []
        self._budget.memory += self._held
        self._held = 0

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            assert self._sink is not None
            self._sink.close()
            self._writer = self._sink = None


@dataclass
class ParsedFile:
    """A file read once: its rows kept for emission, the kinds its columns showed, what it cost."""

    item: RunFile
    rows: KeptRows
    kinds: dict[str, Kind]
    options: ReadOptions
    size: int
    started: float


def parse_file(
    client: SequentumClient,
    item: RunFile,
    fmt: str,
    settings: ParseSettings,
    budget: Budget,
    known: Mapping[str, Kind],
    check_stop: Callable[[], None] = lambda: None,
) -> ParsedFile:
    """Download and read one file; raises `NotFoundError`, `DownloadError` or `MalformedFileError`.

    `known` are the kinds the stream declares: a column already text is not inferred again. `check_stop`
    is called between batches: a stop signal does not wait for a big file to be read to its end.
    """
    started = time.monotonic()
    if item.size is not None and item.size <= min(IN_MEMORY_BYTES, budget.memory):
        memory, result = download_to_memory(client, item)
        return _Reader(settings, budget, known, check_stop).parsed(item, fmt, memory, result.size, started)
    reader = _Reader(settings, None, known, check_stop)  # a big file's rows go to disk: memory stays flat
    with contextlib.closing(Transfer(client, item, temp_dir=settings.temp_dir)) as transfer:
        on_disk = FileSource(transfer.path)
        if fmt not in STREAMABLE:
            size = transfer.wait().size
            return reader.parsed(item, fmt, on_disk, size, started)
        while True:
            try:
                parsed = reader.parsed(item, fmt, transfer, 0, started, whole=False)
                break
            except TransferRestarted:
                continue  # the download broke and starts again: so does the parse
            except TransferFailed:
                transfer.wait()  # raises why the download failed
                raise
            except errors.MalformedFileError:
                transfer.wait()  # a download error explains a broken file better than the parser
                parsed = reader.parsed(item, fmt, on_disk, 0, started)  # again, the whole file (encoding)
                break
        parsed.size = transfer.wait().size
        return parsed


@dataclass
class _Reader:
    settings: ParseSettings
    budget: Budget | None
    known: Mapping[str, Kind]
    check_stop: Callable[[], None]

    def parsed(
        self, item: RunFile, fmt: str, source: Source, size: int, started: float, *, whole: bool = True
    ) -> ParsedFile:
        """Read `source` once into kept rows and kinds. A file whose prefix looked like UTF-8 but whose
        later bytes are not is read again, detected as a whole (when `whole`: a download still arriving
        is checked once it is complete)."""
        options = resolve(source, fmt, self.settings.options)
        try:
            rows, kinds = self._read(source, fmt, options)
        except errors.MalformedFileError:
            retry = redetect(source, options) if whole else None
            if retry is None:
                raise
            options = retry
            rows, kinds = self._read(source, fmt, options)
        return ParsedFile(item, rows, kinds, options, size, started)

    def _read(self, source: Source, fmt: str, options: ReadOptions) -> tuple[KeptRows, dict[str, Kind]]:
        """Parse on this thread; infer and keep each batch on a second one, in order. Parsing, Arrow's
        regular expressions and writing Arrow IPC all release the GIL, so the two use both cores."""
        rows, kinds = KeptRows(self.budget, self.settings.temp_dir), {}

        def take(batch: pa.RecordBatch) -> None:
            infer_batch(batch, kinds, infer_types=self.settings.infer_types, known=self.known)
            rows.append(batch)

        pending: deque[Future[None]] = deque()
        with ThreadPoolExecutor(1, thread_name_prefix="tap-sequentum-infer") as worker:
            try:
                for batch in read_batches(source, fmt, options):
                    self.check_stop()
                    pending.append(worker.submit(take, batch))
                    while len(pending) > _AHEAD or (pending and pending[0].done()):
                        pending.popleft().result()
                while pending:
                    pending.popleft().result()
            except BaseException:
                for future in pending:
                    future.cancel()
                wait(pending)
                rows.close()
                raise
        return rows, kinds
