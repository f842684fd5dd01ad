"""Content stream names: one stream per (agent, export table), or per export table across agents.

Sequentum's "Separate Export Table" writes one file per Export Name, so the export table of a file comes
from its name (`export_table`). Names are lower-case ASCII slugs, unique, at most 63 characters (what
PostgreSQL keeps of an identifier), and stable: a stream's name depends only on its agent and its table,
never on how many tables the agent has, so an agent that gains a second table keeps the first one's name.

- An agent's own table (the file is named like the agent, or only run decoration is left) is the
  stream named after the agent: `steam`, `price_monitor_1006`.
- Any other table is `<agent>__<table>`: `shop_crawler__reviews`.
- With `merge_export_tables` every table is one stream across agents, named after the table
  (`products`); `_sdc_agent_id` tells the agents' rows apart.

A table is identified by its agent's id and its export table, never by the agent's name: once a stream name
is chosen it is kept (`AgentStreams`, from the catalog's metadata or discovery's memory), so a renamed agent's
files (`Price Watch.csv` while the agent is now `Price Watch EU`) go on flowing into the stream they always
went to. The rule above only names tables seen for the first time.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tap_sequentum.text import slugify

MAX_NAME = 63
#: The agent part of `<agent>__<table>` is cut to this, so the table part keeps room.
MAX_AGENT_PART = 40
SEPARATOR = "__"

# Run-specific decoration Sequentum and its users add to export file names, stripped from the end of the
# stem one piece at a time: numbers (run ids, session numbers, 20260105, 083000), ISO dates and
# date-times (2025-10-31, 2025-10-31T08-30-00Z), compact date-times (20260105T083000Z) and UUIDs.
_DECORATION = re.compile(
    r"""(?:^|[\s_.\-]+)(?:
        [0-9]+
      | [0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T_\s][0-9]{2}[-:.]?[0-9]{2}(?:[-:.]?[0-9]{2}(?:\.[0-9]+)?)?Z?)?
      | [0-9]{8}T[0-9]{4,6}Z?
      | [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}
    )$""",
    re.VERBOSE | re.IGNORECASE,
)


def export_table(file_name: str | None, mapping: Mapping[str, str] | None = None) -> str:
    """The export table a delivered file belongs to, as a slug ("" when only decoration is left).

    `mapping` (the `export_table_names` setting) maps file-name patterns (`*` and `?`, any letter case)
    to table names and wins over the rule; the first matching pattern counts.
    """
    base = (file_name or "").replace("\\", "/").rsplit("/", 1)[-1]
    for pattern, table in (mapping or {}).items():
        if fnmatch.fnmatchcase(base.lower(), pattern.lower()):
            return slugify(table)
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    while (shorter := _DECORATION.sub("", stem)) != stem:
        stem = shorter
    return slugify(stem)


def fit(name: str, limit: int = MAX_NAME) -> str:
    """`name` if it fits in `limit` characters, else cut with a short hash that keeps it unique."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('_')}_{digest}"


def agent_stream_names(
    agents: Iterable[tuple[int, str | None]], reserved: Iterable[str] = ()
) -> dict[int, str]:
    """Map agent id -> the name of the agent's own stream, unique over the organisation.

    The agent with the lowest id keeps the plain slug, so an existing table keeps its name when a
    look-alike agent appears later; the others get `_<agent id>` appended. A slug that is empty or
    taken by a metadata stream becomes `agent_<id>` / `<slug>_<id>`.
    """
    taken = set(reserved)
    names: dict[int, str] = {}
    for agent_id, name in sorted(agents):
        slug = slugify(name) or f"agent_{agent_id}"
        candidate = slug if slug not in taken else f"{slug}_{agent_id}"
        while candidate in taken:  # another agent's plain slug may already read `<slug>_<id>`
            candidate += f"_{agent_id}"
        names[agent_id] = fit(candidate)
        taken.add(names[agent_id])
    return names


@dataclass(frozen=True)
class AgentStreams:
    """The stream names an agent's tables were given, kept from then on whatever the agent is called.

    `base` is the agent part of its names (`price_watch` in `price_watch__reviews`), `own` the export table of
    its own table (files named like the agent when it was first seen, or only run decoration), `streams` each
    export table's stream.
    """

    base: str | None = None
    own: str | None = None
    streams: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Router:
    """Which content stream each delivered file goes to, for one organisation and one configuration.

    `kept` holds the names already chosen (per agent id); the naming rule only names what it does not hold.
    """

    agents: Mapping[int, str | None]
    reserved: frozenset[str] = frozenset()
    merge: bool = False
    mapping: Mapping[str, str] = field(default_factory=dict)
    kept: Mapping[int, AgentStreams] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.slugs = {
            agent_id: slugify(name) or f"agent_{agent_id}" for agent_id, name in self.agents.items()
        }
        bases = {a: kept.base for a, kept in self.kept.items() if kept.base and a in self.agents}
        # A name kept by a listed agent is never given to another one (a new `Price Watch` beside the
        # renamed one that keeps `price_watch` becomes `price_watch_<id>`).
        taken = set(self.reserved) | set(bases.values())
        taken |= {name for a, kept in self.kept.items() if a in self.agents for name in kept.streams.values()}
        fresh = [(a, name) for a, name in self.agents.items() if a not in bases]
        self.names = {**agent_stream_names(fresh, taken), **bases}

    def own_table(self, agent_id: int) -> str:
        """The export table of the agent's own stream: the one kept, else the agent's slug now."""
        kept = self.kept.get(agent_id)
        return kept.own if kept and kept.own else self.slugs[agent_id]

    def table_of(self, agent_id: int, file_name: str | None) -> str:
        """The file's export table. A table already named wins; a file named only with run decoration, or like
        the agent is called now, belongs to the agent's own table (under the name that table was first seen
        with, so a renamed agent's files stay in one table)."""
        table = export_table(file_name, self.mapping)
        kept = self.kept.get(agent_id)
        if table and kept and table in kept.streams:
            return table
        if table in ("", self.slugs[agent_id]):
            return self.own_table(agent_id)
        return table

    def stream_of(self, agent_id: int, file_name: str | None) -> str:
        """The name of the stream a delivered file of this agent goes to."""
        return self.stream_for(agent_id, self.table_of(agent_id, file_name))

    def stream_for(self, agent_id: int, table: str) -> str:
        """The kept name of (agent, table), or the rule's name for a table seen for the first time."""
        kept = self.kept.get(agent_id)
        if kept and table in kept.streams:
            return kept.streams[table]
        if self.merge:
            name = fit(table)
            return fit(f"{table}_table") if name in self.reserved else name
        if table == self.own_table(agent_id):
            return self.names[agent_id]
        agent_part = fit(self.names[agent_id], MAX_AGENT_PART)
        return agent_part + SEPARATOR + fit(table, MAX_NAME - len(agent_part) - len(SEPARATOR))

    def streams_of(self, agent_id: int, tables: Iterable[str]) -> AgentStreams:
        """What to keep for an agent with these tables (and those it already had)."""
        kept = self.kept.get(agent_id) or AgentStreams()
        own = kept.own or next((t for t in tables if t == self.own_table(agent_id)), None)
        streams = {**kept.streams, **{table: self.stream_for(agent_id, table) for table in tables}}
        return AgentStreams(base=self.names[agent_id], own=own, streams=streams)

    def agents_of(self, stream_name: str) -> list[int]:
        """The agents whose files a stream of this name can hold, by its name alone (catalogs written before
        streams recorded their agents; all agents for a merged table)."""
        if self.merge:
            return sorted(self.agents)
        return [
            agent_id
            for agent_id, name in sorted(self.names.items())
            if stream_name == name or stream_name.startswith(fit(name, MAX_AGENT_PART) + SEPARATOR)
        ]
