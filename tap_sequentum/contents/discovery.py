"""Discovery of content streams: which export tables each agent delivers, and a first schema per table.

A sample of an agent costs the runs list, the file list of the newest finished run that delivered data
(the runs list's `exportCount` says which runs did, for free), and one ranged download per file in it (one
per export table, as a rule): 3 requests for an agent with one table. `discovery_sample_runs` reads more
runs. Whatever the sample misses is handled at sync time: schemas widen, they are never wrong; a table
found only in an older run is reported in `file_errors`, and that sync teaches the next discovery the table.

Discovery remembers what it learnt (`cache.py`) and samples again only what changed (`reuse.py` decides):
`learn_agent` reads nothing for an agent whose list entry is unchanged, its runs list for one whose entry
changed or gives no hint, and samples it only when other runs would be read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from tap_sequentum import errors
from tap_sequentum.client import SequentumClient
from tap_sequentum.contents.dialect import ReadOptions, resolve
from tap_sequentum.contents.fetch import RunFile, data_files, fetched
from tap_sequentum.contents.formats import format_of, read_batches
from tap_sequentum.contents.identity import StreamIdentity
from tap_sequentum.contents.infer import Kind, infer_batch, widen
from tap_sequentum.contents.naming import Router
from tap_sequentum.contents.parse import ParseSettings
from tap_sequentum.contents.reuse import (
    AgentMemory,
    Look,
    first_look,
    refreshed,
    remembered,
    same_runs,
    sampling_key,
)
from tap_sequentum.domain import list_hint
from tap_sequentum.incremental import finality
from tap_sequentum.listings import newest_first

logger = logging.getLogger("tap_sequentum.discovery")

#: Formats whose prefix (cut at a line end) is itself a readable file.
_PREFIX_READABLE = frozenset({"csv", "tsv", "jsonl"})


@dataclass
class Sample:
    """What discovery learned about one content stream's data."""

    columns: dict[str, Kind] = field(default_factory=dict)
    files: int = 0
    rows: int = 0


@dataclass(frozen=True)
class SampleSettings:
    """How discovery samples: files are read as a sync reads them (`parse`), within these limits."""

    parse: ParseSettings = field(default_factory=ParseSettings)
    runs_max_records: int = 1000
    sample_runs: int = 1
    sample_bytes: int = 4 << 20

    @property
    def key(self) -> str:
        """The fingerprint of what shapes what a sample learns (`reuse.sampling_key`): not where files are
        downloaded, nor how many runs are listed."""
        return sampling_key(
            infer_types=self.parse.infer_types,
            csv_encoding=self.parse.options.encoding,
            csv_delimiter=self.parse.options.delimiter,
            sample_runs=self.sample_runs,
            sample_bytes=self.sample_bytes,
        )


@dataclass
class AgentSample:
    """What reading an agent's runs found: export table -> sample, and which runs' file lists were read (in
    order), and whether they held as many runs with data as were wanted."""

    tables: dict[str, Sample] = field(default_factory=dict)
    read_runs: list[int] = field(default_factory=list)
    complete: bool = False


def candidates(runs: list[dict], limit: int | None) -> list[dict]:
    """The runs discovery reads, in order: finished, those that say they exported rows first (free
    information from the runs list), newest first whatever order the list came in; at most `limit`."""
    finished = [r for r in runs if finality(r) != "active"]
    ordered = sorted(newest_first(finished), key=lambda run: not exported(run))
    return ordered if limit is None else ordered[:limit]


def discover_agent(
    client: SequentumClient,
    agent_id: int,
    router: Router,
    settings: SampleSettings,
    *,
    read: bool = True,
    runs: list[dict] | None = None,
) -> AgentSample:
    """Export table -> sample, for the tables in the newest finished runs that delivered data files.

    With `read=False` (a sync without a catalog) nothing is downloaded and every listed run's file list
    is read, so every table gets a stream; the columns are learnt from the files as they are emitted.
    `runs` is the runs list when the caller read it already.
    """
    listed = runs if runs is not None else client.list_runs(agent_id, settings.runs_max_records)
    # A sync without a catalog lists every run's files anyway (the answers are cached): all its tables.
    wanted = settings.sample_runs if read else len(listed)
    found = AgentSample()
    runs_with_data = 0
    for run in candidates(listed, wanted * 4 if read else None):
        found.read_runs.append(int(run["id"]))
        files = [item for item in data_files(client, agent_id, run) if format_of(item.name)]
        if not files:
            continue
        runs_with_data += 1
        for item in files:
            sample = found.tables.setdefault(router.table_of(agent_id, item.name), Sample())
            sample.files += 1
            if read:
                _sample_into(sample, client, item, settings)
        if runs_with_data >= wanted:
            found.complete = True
            break
    return found


def learn_agent(
    client: SequentumClient,
    summary: dict,
    memory: AgentMemory | None,
    router: Router,
    settings: SampleSettings,
) -> tuple[AgentMemory, Look]:
    """An agent's memory after this discovery, and how much of the agent was read for it (`reuse.py`)."""
    agent_id, name, hint = int(summary["id"]), summary.get("name"), list_hint(summary)
    look = first_look(hint, memory, settings.key)
    runs = None
    if look is Look.RUNS:
        assert memory is not None
        runs = client.list_runs(agent_id, settings.runs_max_records)
        read = [int(run["id"]) for run in candidates(runs, settings.sample_runs * 4)]
        look = Look.RUNS if same_runs(memory, read) else Look.SAMPLE
    if look is not Look.SAMPLE:  # unchanged, or its runs list says a sample would read the same runs
        assert memory is not None
        streams = router.streams_of(agent_id, memory.tables)
        return refreshed(memory, name=name, hint=hint, streams=streams), look
    found = discover_agent(client, agent_id, router, settings, runs=runs)
    streams = router.streams_of(agent_id, [*(memory.tables if memory else ()), *found.tables])
    learnt = remembered(
        memory,
        name=name,
        hint=hint,
        sampling=settings.key,
        read_runs=found.read_runs,
        complete=found.complete,
        samples={table: sample.columns for table, sample in found.tables.items()},
        streams=streams,
    )
    return learnt, Look.SAMPLE


@dataclass
class StreamSpec:
    """A content stream to build: its name, the agents whose files it reads, its columns, what it reads."""

    name: str
    agent_ids: list[int]
    columns: dict[str, Kind]
    identity: StreamIdentity


def stream_specs(memories: dict[int, AgentMemory], *, merge: bool) -> list[StreamSpec]:
    """The content streams of the agents' named tables, each table's columns widened over its agents (a
    merged table reads several); by agent, then table."""
    found: dict[str, tuple[list[int], dict[str, Kind], str, bool]] = {}
    for agent_id in sorted(memories):
        memory = memories[agent_id]
        for table, known in sorted(memory.tables.items()):
            if not known.stream:
                continue
            own = table == memory.own and not merge
            agents, columns, _, _ = found.setdefault(known.stream, ([], {}, table, own))
            agents.append(agent_id)
            for column, kind in known.columns.items():
                columns[column] = widen(columns.get(column, Kind.NULL), kind)
    return [
        StreamSpec(name, agents, columns, StreamIdentity(tuple(agents), table, own))
        for name, (agents, columns, table, own) in found.items()
    ]


def exported(run: dict) -> bool:
    """Whether the runs list says the run exported rows (`exportCount`, `dataCount`)."""
    counts = [run.get("exportCount"), run.get("dataCount")]
    return any(isinstance(count, int) and count > 0 for count in counts)


def _sample_into(sample: Sample, client: SequentumClient, item: RunFile, settings: SampleSettings) -> None:
    try:
        for batch in _sample_file(client, item, settings):
            sample.rows += batch.num_rows
            infer_batch(batch, sample.columns, infer_types=settings.parse.infer_types)
    except (errors.NotFoundError, errors.DownloadError) as exc:
        logger.warning("Discovery skipped %s: %s", item.describe(), exc)


def _sample_file(
    client: SequentumClient, item: RunFile, settings: SampleSettings
) -> Iterator[pa.RecordBatch]:
    fmt = format_of(item.name)
    assert fmt is not None
    prefix_ok = fmt in _PREFIX_READABLE
    if not prefix_ok and item.size is not None and item.size > settings.sample_bytes:
        logger.info("Not sampling %s: %s files are read whole and this one is large.", item.describe(), fmt)
        return
    limit = settings.sample_bytes if prefix_ok else None
    with fetched(client, item, temp_dir=settings.parse.temp_dir, max_bytes=limit) as (path, result):
        if result.complete:
            yield from _read_or_skip(path, fmt, settings.parse.options, item)
            return
        yield from _read_prefix(path, fmt, settings.parse.options, item)


def _read_or_skip(path: Path, fmt: str, options: ReadOptions, item: RunFile) -> Iterator[pa.RecordBatch]:
    try:
        batches = list(read_batches(path, fmt, resolve(path, fmt, options)))
    except errors.MalformedFileError as exc:
        logger.warning("Discovery skipped %s: %s", item.describe(), exc)
        return
    yield from batches


def _read_prefix(path: Path, fmt: str, options: ReadOptions, item: RunFile) -> Iterator[pa.RecordBatch]:
    """Read a prefix cut at a line end; a quoted newline may need a few earlier cuts."""
    data = path.read_bytes()
    end = len(data)
    for _ in range(8):
        end = data.rfind(b"\n", 0, end)
        if end <= 0:
            return
        path.write_bytes(data[: end + 1])
        try:
            batches = list(read_batches(path, fmt, resolve(path, fmt, options)))
        except errors.MalformedFileError:
            continue
        yield from batches
        return
    logger.warning("Discovery could not read a sample of %s.", item.describe())
