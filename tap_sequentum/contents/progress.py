"""What a content stream has emitted of one agent's runs: pure transitions over a small typed value.

Which runs to handle is `incremental.py`'s decision; this module keeps, inside those runs, what is out:

- `current`: the run being emitted, the files of it that are out, and inside the file being emitted the
  number of rows out. An interrupted sync resumes after the last row written, never before, never after.
- `watched_files`: for a run Sequentum may still restart (a Failure waiting to retry), the files that were
  taken already: when it runs again and ends, only what it delivered since is taken.

The value is read from and written to the stream's STATE (`load`, `store`) in the shape below; the
stream stores it after every transition, so any STATE written between two is a consistent checkpoint:

    "current": {"run_id": 7, "files_done": [70, 71], "file_id": 72, "rows": 5000}
    "watched_files": {"6": [60, 61]}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from tap_sequentum.domain import parse_timestamp
from tap_sequentum.incremental import finality

CURRENT = "current"
WATCHED_FILES = "watched_files"


@dataclass(frozen=True)
class Current:
    """The run in progress: its files out, and the file being emitted with its rows out."""

    run_id: int
    files_done: frozenset[int] = frozenset()
    file_id: int | None = None
    rows: int = 0


@dataclass(frozen=True)
class Progress:
    current: Current | None = None
    watched_files: Mapping[int, frozenset[int]] = field(default_factory=dict)

    @classmethod
    def load(cls, state: Mapping[str, Any]) -> Progress:
        raw = state.get(CURRENT) or None
        current = None
        if raw is not None:
            file_id = raw.get("file_id")
            current = Current(
                int(raw["run_id"]),
                frozenset(int(i) for i in raw.get("files_done") or ()),
                None if file_id is None else int(file_id),
                int(raw.get("rows") or 0) if file_id is not None else 0,
            )
        watched = {
            int(run_id): frozenset(int(i) for i in ids)
            for run_id, ids in (state.get(WATCHED_FILES) or {}).items()
        }
        return cls(current, watched)

    def store(self, state: MutableMapping[str, Any]) -> None:
        """Write this value into a stream's state (keys absent when empty)."""
        if self.current is None:
            state.pop(CURRENT, None)
        else:
            current: dict[str, Any] = {
                "run_id": self.current.run_id,
                "files_done": sorted(self.current.files_done),
            }
            if self.current.file_id is not None:
                current.update(file_id=self.current.file_id, rows=self.current.rows)
            state[CURRENT] = current
        if self.watched_files:
            state[WATCHED_FILES] = {
                str(run_id): sorted(ids) for run_id, ids in sorted(self.watched_files.items())
            }
        else:
            state.pop(WATCHED_FILES, None)


class Ledger:
    """A partition's `Progress`, stored into its STATE after every transition (the one impure bit)."""

    def __init__(self, state: MutableMapping[str, Any]) -> None:
        self.state = state
        self.value = Progress.load(state)

    def set(self, value: Progress) -> None:
        self.value = value
        value.store(self.state)


# -- transitions ----------------------------------------------------------------------------------


def park_restarted(progress: Progress, active: Iterable[int]) -> tuple[Progress, int | None]:
    """A run interrupted mid-way that Sequentum restarted meanwhile (it is active again) is not emitted
    while it runs: the files of it already out become its watched files, and `current` is free for the
    runs emitted meanwhile. Returns the parked run's id: it must stay watched until it ends."""
    current = progress.current
    if current is None or current.run_id not in set(active):
        return progress, None
    kept = progress.watched_files.get(current.run_id, frozenset()) | current.files_done
    return Progress(None, {**progress.watched_files, current.run_id: kept}), current.run_id


def taken(progress: Progress, run_id: int) -> frozenset[int]:
    """The files of a run already out: of the interrupted run, or taken before a restart."""
    done = progress.watched_files.get(run_id, frozenset())
    if progress.current is not None and progress.current.run_id == run_id:
        done |= progress.current.files_done
    return done


def begin_file(progress: Progress, run_id: int, file_id: int) -> tuple[Progress, int]:
    """Start (or resume) emitting a file; returns the progress and the rows of it already out."""
    current = progress.current
    if current is None or current.run_id != run_id:
        current = Current(run_id)
    resume = current.rows if current.file_id == file_id else 0
    return replace(progress, current=replace(current, file_id=file_id, rows=resume)), resume


def rows_out(progress: Progress, rows: int) -> Progress:
    """The rows of the file being emitted that are out now (its last row's number)."""
    assert progress.current is not None
    assert progress.current.file_id is not None
    return replace(progress, current=replace(progress.current, rows=rows))


def file_out(progress: Progress) -> Progress:
    """The file being emitted is out whole."""
    current = progress.current
    assert current is not None
    assert current.file_id is not None
    done = current.files_done | {current.file_id}
    return replace(progress, current=Current(current.run_id, done))


def run_out(progress: Progress, run: Mapping[str, Any], files: Iterable[int]) -> Progress:
    """Every file of a run this stream takes is out (`files`). A run Sequentum may restart keeps them as
    its watched files; any other run forgets them. Either way `current` is free again."""
    run_id = int(run["id"])
    watched = dict(progress.watched_files)
    if finality(run) == "watched":
        watched[run_id] = taken(progress, run_id) | frozenset(files)
    else:
        watched.pop(run_id, None)
    return Progress(None, watched)


def keep_watched(progress: Progress, run_ids: Iterable[int]) -> Progress:
    """Forget the watched files of runs that are no longer watched (final, or out of the listing)."""
    keep = set(run_ids)
    return replace(progress, watched_files={k: v for k, v in progress.watched_files.items() if k in keep})


def emission_order(runs: Sequence[Mapping[str, Any]], progress: Progress) -> list[Mapping[str, Any]]:
    """The runs to emit now: not active ones; the interrupted run first, so its progress is used before
    anything replaces it, then oldest first, so an interrupted sync has emitted a prefix of history."""
    interrupted = progress.current.run_id if progress.current is not None else None

    def key(run: Mapping[str, Any]) -> tuple:
        return (int(run["id"]) != interrupted, parse_timestamp(run.get("created")), int(run["id"]))

    return sorted((run for run in runs if finality(run) != "active"), key=key)


# -- the resume rule ------------------------------------------------------------------------------


class Batch(Protocol):
    """What `resume_slices` needs of a batch of rows (an Arrow RecordBatch is one)."""

    @property
    def num_rows(self) -> int: ...

    def slice(self, offset: int = 0, length: int | None = None) -> Batch: ...


def resume_slices(batches: Iterable[Batch], skip: int) -> Iterator[tuple[Batch, int]]:
    """The batches of a file after its first `skip` rows, each with the 1-based number of its first row:
    a sync interrupted after row `skip` of a file continues at `skip + 1`."""
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
