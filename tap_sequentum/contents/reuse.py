"""What discovery may reuse of what it learnt before: pure decisions over an agent's list entry and memory.

Discovery remembers per agent what it learnt (`AgentMemory`: its export tables, their column kinds and stream
names, the runs it read, the agent list's hint at the time), and asks of each agent, cheapest first:

- **REUSE**: the list entry's hint (`domain.list_hint`: `lastActivity`, `status`, `version`, `updated`) is the
  one remembered: nothing ran or changed, so nothing is read (0 requests).
- **RUNS**: the hint changed, or the list gives none (a missing hint never skips anything): the runs list is
  read (1 request). If discovery would read the same runs as last time (`same_runs`), the memory stands.
- **SAMPLE**: no memory, or one sampled with other settings, or other runs to read: the newest runs with data
  are sampled (a file list and a ranged download per table: 3 requests for an agent with one table).

What a sample finds is added to what was known (`remembered`): tables are never forgotten and column kinds
only widen, so a table that only older runs hold keeps its stream. A sync that meets files of a table
without a stream adds the table (`learned`), so the next discovery names it without reading anything.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tap_sequentum.contents.infer import Kind, widen
from tap_sequentum.contents.naming import AgentStreams


class Look(enum.Enum):
    """How much of an agent discovery reads."""

    REUSE = "reuse"
    RUNS = "runs"
    SAMPLE = "sample"


@dataclass(frozen=True)
class TableMemory:
    """An export table: its stream's name (None until discovery names a table a sync met) and column kinds."""

    stream: str | None = None
    columns: Mapping[str, Kind] = field(default_factory=dict)


@dataclass(frozen=True)
class AgentMemory:
    """What discovery learnt of one agent; no row of data, only names and kinds."""

    name: str | None = None
    hint: str | None = None
    #: The sampling settings the columns were learnt with (`sampling_key`); None: never sampled.
    sampling: str | None = None
    #: The runs whose file lists were read, in the order read, and whether they held the runs wanted.
    read_runs: tuple[int, ...] = ()
    complete: bool = False
    base: str | None = None
    own: str | None = None
    tables: Mapping[str, TableMemory] = field(default_factory=dict)

    def streams(self) -> AgentStreams:
        """The names kept for the agent's tables."""
        named = {table: memory.stream for table, memory in self.tables.items() if memory.stream}
        return AgentStreams(base=self.base, own=self.own, streams=named)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "hint": self.hint,
            "sampling": self.sampling,
            "read_runs": list(self.read_runs),
            "complete": self.complete,
            "base": self.base,
            "own": self.own,
            "tables": {
                table: {"stream": memory.stream, "columns": {c: k.value for c, k in memory.columns.items()}}
                for table, memory in sorted(self.tables.items())
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AgentMemory:
        """Read what `to_json` wrote; a value of the wrong shape raises (the file is then ignored)."""
        tables = {
            str(table): TableMemory(
                stream=_text(value.get("stream")),
                columns={str(c): Kind(k) for c, k in (value.get("columns") or {}).items()},
            )
            for table, value in (data.get("tables") or {}).items()
        }
        return cls(
            name=_text(data.get("name")),
            hint=_text(data.get("hint")),
            sampling=_text(data.get("sampling")),
            read_runs=tuple(int(r) for r in data.get("read_runs") or ()),
            complete=data.get("complete") is True,
            base=_text(data.get("base")),
            own=_text(data.get("own")),
            tables=tables,
        )


def _text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"expected text, not {value!r}")
    return value


def sampling_key(**settings: Any) -> str:
    """A short fingerprint of the settings that shape what a sample learns (inference, encodings, how much is
    read): columns learnt with other settings are learnt again. Not the tap's version: kinds only widen at
    sync time, so those an earlier release learnt stay valid (a change to the memory's meaning bumps
    `cache.VERSION`)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]


def first_look(hint: str | None, memory: AgentMemory | None, sampling: str) -> Look:
    """How much to read of an agent whose list entry gives `hint` (None: no hint)."""
    if memory is None or memory.sampling != sampling:
        return Look.SAMPLE
    if hint is not None and hint == memory.hint:
        return Look.REUSE
    return Look.RUNS


def same_runs(memory: AgentMemory, candidates: Sequence[int]) -> bool:
    """Whether a sample now would read the runs the memory was learnt from.

    `candidates` are the runs discovery would read, in order. New runs come first, so when the last sample
    found what it wanted, the same first runs mean the same sample; when it ran out of runs, any run more is
    one it did not read.
    """
    if memory.complete:
        return tuple(candidates[: len(memory.read_runs)]) == memory.read_runs
    return tuple(candidates) == memory.read_runs


def remembered(
    memory: AgentMemory | None,
    *,
    name: str | None,
    hint: str | None,
    sampling: str,
    read_runs: Sequence[int],
    complete: bool,
    samples: Mapping[str, Mapping[str, Kind]],
    streams: AgentStreams,
) -> AgentMemory:
    """The memory after a sample: its tables added to the known ones, kinds widened (kinds learnt with other
    settings are dropped), every table named as `streams` says."""
    before = memory or AgentMemory()
    same_settings = before.sampling == sampling
    tables: dict[str, TableMemory] = {}
    for table in dict.fromkeys([*before.tables, *samples]):
        known = before.tables.get(table, TableMemory())
        columns = dict(known.columns) if same_settings else {}
        for column, kind in (samples.get(table) or {}).items():
            columns[column] = widen(columns.get(column, Kind.NULL), kind)
        tables[table] = TableMemory(streams.streams.get(table, known.stream), columns)
    return AgentMemory(
        name=name,
        hint=hint,
        sampling=sampling,
        read_runs=tuple(read_runs),
        complete=complete,
        base=streams.base,
        own=streams.own,
        tables=tables,
    )


def refreshed(
    memory: AgentMemory, *, name: str | None, hint: str | None, streams: AgentStreams
) -> AgentMemory:
    """The memory reused as it is, with the agent's current name and hint and every table named."""
    tables = {
        table: replace(known, stream=streams.streams.get(table, known.stream))
        for table, known in memory.tables.items()
    }
    return replace(memory, name=name, hint=hint, base=streams.base, own=streams.own, tables=tables)


def learned(memory: AgentMemory | None, tables: Iterable[str]) -> AgentMemory:
    """The memory with export tables a sync met files of (no stream yet): the next discovery names them."""
    before = memory or AgentMemory()
    added = {table: TableMemory() for table in tables if table not in before.tables}
    return replace(before, tables={**before.tables, **added}) if added else before
