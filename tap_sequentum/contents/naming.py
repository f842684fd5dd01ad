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


@dataclass
class Router:
    """Which content stream each delivered file goes to, for one organisation and one configuration."""

    agents: Mapping[int, str | None]
    reserved: frozenset[str] = frozenset()
    merge: bool = False
    mapping: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names = agent_stream_names(self.agents.items(), self.reserved)
        self.slugs = {
            agent_id: slugify(name) or f"agent_{agent_id}" for agent_id, name in self.agents.items()
        }

    def table_of(self, agent_id: int, file_name: str | None) -> str:
        """The file's export table; the agent's own table is the agent's slug."""
        return export_table(file_name, self.mapping) or self.slugs[agent_id]

    def stream_of(self, agent_id: int, file_name: str | None) -> str:
        """The name of the stream a delivered file of this agent goes to."""
        return self.stream_for(agent_id, self.table_of(agent_id, file_name))

    def stream_for(self, agent_id: int, table: str) -> str:
        if self.merge:
            name = fit(table)
            return fit(f"{table}_table") if name in self.reserved else name
        if table == self.slugs[agent_id]:
            return self.names[agent_id]
        agent_part = fit(self.names[agent_id], MAX_AGENT_PART)
        return agent_part + SEPARATOR + fit(table, MAX_NAME - len(agent_part) - len(SEPARATOR))

    def agents_of(self, stream_name: str) -> list[int]:
        """The agents whose files a stream of this name can hold (all of them for a merged table)."""
        if self.merge:
            return sorted(self.agents)
        return [
            agent_id
            for agent_id, name in sorted(self.names.items())
            if stream_name == name or stream_name.startswith(fit(name, MAX_AGENT_PART) + SEPARATOR)
        ]
