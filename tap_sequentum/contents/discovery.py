"""Discovery of content streams: which export tables each agent delivers, and a first schema per table.

Per agent it costs the runs list, the file list of the newest finished run that delivered data (the
runs list's `exportCount` says which runs did, for free), and one ranged download per file in it
(one per export table, as a rule): 3 requests for an agent with one table. `discovery_sample_runs`
reads more runs. Whatever the sample misses is handled at sync time: schemas widen, they are never
wrong; a table found only in an older run is reported in `file_errors` with the advice to sample more
runs.
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
from tap_sequentum.contents.infer import Kind, infer_batch
from tap_sequentum.contents.naming import Router
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
    runs_max_records: int = 1000
    sample_runs: int = 1
    sample_bytes: int = 4 << 20
    options: ReadOptions = field(default_factory=ReadOptions)
    infer_types: bool = True
    temp_dir: str | None = None


def discover_agent(
    client: SequentumClient, agent_id: int, router: Router, settings: SampleSettings, *, read: bool = True
) -> dict[str, Sample]:
    """Stream name -> sample, for the tables in the newest finished runs that delivered data files.

    With `read=False` (a sync without a catalog) nothing is downloaded and every listed run's file list
    is read, so every table gets a stream; the columns are learnt from the files as they are emitted.
    """
    runs = [r for r in client.list_runs(agent_id, settings.runs_max_records) if finality(r) != "active"]
    # Runs that say they exported rows first (free information from the runs list), newest first whatever
    # order the list came in.
    runs = sorted(newest_first(runs), key=lambda run: not _exported(run))
    # A sync without a catalog lists every run's files anyway (the answers are cached): all its tables.
    sample_runs = settings.sample_runs if read else len(runs)
    samples: dict[str, Sample] = {}
    runs_with_data = 0
    for run in runs[: sample_runs * 4]:
        files = [item for item in data_files(client, agent_id, run) if format_of(item.name)]
        if not files:
            continue
        runs_with_data += 1
        for item in files:
            sample = samples.setdefault(router.stream_of(agent_id, item.name), Sample())
            sample.files += 1
            if read:
                _sample_into(sample, client, item, settings)
        if runs_with_data >= sample_runs:
            break
    return samples


def _exported(run: dict) -> bool:
    counts = [run.get("exportCount"), run.get("dataCount")]
    return any(isinstance(count, int) and count > 0 for count in counts)


def _sample_into(sample: Sample, client: SequentumClient, item: RunFile, settings: SampleSettings) -> None:
    try:
        for batch in _sample_file(client, item, settings):
            sample.rows += batch.num_rows
            infer_batch(batch, sample.columns, infer_types=settings.infer_types)
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
    with fetched(client, item, temp_dir=settings.temp_dir, max_bytes=limit) as (path, result):
        if result.complete:
            yield from _read_or_skip(path, fmt, settings.options, item)
            return
        yield from _read_prefix(path, fmt, settings.options, item)


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
