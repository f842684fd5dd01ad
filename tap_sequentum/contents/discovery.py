"""Discovery of content streams: which agents deliver data, and a first schema from a bounded sample.

The sample is the newest finished runs' data files, read up to `sample_bytes` each (a prefix of
streamable formats, whole small files otherwise), so discovery never downloads a multi-GB file.
Whatever the sample misses is handled at sync time: schemas widen, they are never wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from tap_sequentum.client import SequentumClient
from tap_sequentum.contents.fetch import RunFile, fetched
from tap_sequentum.contents.formats import ReadOptions, format_of, read_batches
from tap_sequentum.contents.infer import Kind, infer_arrow, text_kind, widen
from tap_sequentum.domain import is_finished, normalize_timestamp, status_code
from tap_sequentum.errors import MalformedFileError

logger = logging.getLogger("tap_sequentum.discovery")

#: Formats whose prefix (cut at a line end) is itself a readable file.
_PREFIX_READABLE = frozenset({"csv", "tsv", "jsonl"})
DELIVERED_FILE = 1


@dataclass
class Sample:
    """What discovery learned about one agent's data."""

    columns: dict[str, Kind] = field(default_factory=dict)
    files: int = 0
    rows: int = 0


def data_files(client: SequentumClient, agent_id: int, run: dict) -> list[RunFile]:
    """The delivered data files of a run, oldest file first; logs and internal files never count."""
    run_id = int(run["id"])
    items = [
        item
        for item in client.list_files(agent_id, run_id)
        if status_code(item.get("fileType")) == DELIVERED_FILE
    ]
    return [
        RunFile(
            agent_id=agent_id,
            run_id=run_id,
            run_created=normalize_timestamp(run.get("created")),
            file_id=int(item["id"]),
            name=str(item.get("name") or ""),
            size=item.get("fileSize") if isinstance(item.get("fileSize"), int) else None,
        )
        for item in sorted(items, key=lambda i: int(i["id"]))
    ]


def sample_agent(
    client: SequentumClient,
    agent_id: int,
    *,
    runs_max_records: int,
    sample_runs: int,
    sample_bytes: int,
    options: ReadOptions,
    infer_types: bool = True,
    temp_dir: str | None = None,
    read: bool = True,
) -> Sample | None:
    """Columns and kinds from the newest finished runs' data files, or None if there are none.

    At most `sample_runs` runs with data files are read and at most 4 x `sample_runs` file lists asked.
    With `read=False` nothing is downloaded: only whether the agent delivers data is found out (a
    sync without a catalog learns the columns from the files it emits anyway).
    """
    finished = [r for r in client.list_runs(agent_id, runs_max_records) if is_finished(r.get("status"))]
    sample = Sample()
    runs_with_data = 0
    for run in finished[: sample_runs * 4]:
        files = [f for f in data_files(client, agent_id, run) if format_of(f.name)]
        if not files:
            continue
        runs_with_data += 1
        for item in files:
            sample.files += 1
            if not read:
                continue
            for batch in _sample_file(client, item, sample_bytes, options, temp_dir):
                sample.rows += batch.num_rows
                for name, column in zip(batch.schema.names, batch.columns, strict=True):
                    kind = infer_arrow(column) if infer_types else text_kind(column)
                    sample.columns[name] = widen(sample.columns.get(name, Kind.NULL), kind)
        if runs_with_data >= sample_runs:
            break
    return sample if sample.files else None


def _sample_file(
    client: SequentumClient, item: RunFile, sample_bytes: int, options: ReadOptions, temp_dir: str | None
) -> Iterator[pa.RecordBatch]:
    fmt = format_of(item.name)
    assert fmt is not None
    prefix_ok = fmt in _PREFIX_READABLE
    if not prefix_ok and item.size is not None and item.size > sample_bytes:
        logger.info("Not sampling %s: %s files are read whole and this one is large.", item.describe(), fmt)
        return
    with fetched(client, item, temp_dir=temp_dir, max_bytes=sample_bytes if prefix_ok else None) as (
        path,
        result,
    ):
        if result.complete:
            yield from _read_or_skip(path, fmt, options, item)
            return
        yield from _read_prefix(path, fmt, options, item)


def _read_or_skip(path: Path, fmt: str, options: ReadOptions, item: RunFile) -> Iterator[pa.RecordBatch]:
    try:
        batches = list(read_batches(path, fmt, options))
    except MalformedFileError as exc:
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
            batches = list(read_batches(path, fmt, options))
        except MalformedFileError:
            continue
        yield from batches
        return
    logger.warning("Discovery could not read a sample of %s.", item.describe())
