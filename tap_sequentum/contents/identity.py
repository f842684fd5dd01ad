"""What a content stream reads, recorded where a sync finds it: in the catalog and in the STATE.

Stream names come from agent names, which change; agent ids and export tables do not. Each content stream's
catalog entry says which agents and which export table it reads (metadata at breadcrumb `[]`), so a sync
given that catalog routes files by id and table and needs no name matching: a renamed agent keeps flowing
into its stream. Its state says the same, so when a stream's name did change (discovery that no longer
remembers the old one), the new stream continues from the old stream's state instead of extracting the
agent's history again. Pure functions over plain values, tested as tables.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tap_sequentum.contents.naming import AgentStreams

#: Catalog metadata of a content stream (breadcrumb []): the agent ids whose files it reads, the export table
#: (as a slug) and whether that table is the agent's own (it also takes files named only with run decoration,
#: or named like the agent is called now).
AGENT_IDS = "tap-sequentum.agent-ids"
EXPORT_TABLE = "tap-sequentum.export-table"
AGENT_TABLE = "tap-sequentum.agent-table"
#: The same in a content stream's state (one agent per stream; merged streams keep theirs per agent).
STATE_AGENT, STATE_TABLE, STATE_OWN = "agent_id", "export_table", "agent_table"


@dataclass(frozen=True)
class StreamIdentity:
    """Which files a content stream takes: those of `agent_ids` whose export table is `export_table`."""

    agent_ids: tuple[int, ...]
    export_table: str
    agent_table: bool = False

    def metadata(self) -> dict[str, Any]:
        """The catalog metadata that records it."""
        recorded: dict[str, Any] = {AGENT_IDS: list(self.agent_ids), EXPORT_TABLE: self.export_table}
        if self.agent_table:
            recorded[AGENT_TABLE] = True
        return recorded

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> StreamIdentity | None:
        """The identity a catalog entry records, or None (a catalog from before 0.2, or edited by hand)."""
        ids, table = metadata.get(AGENT_IDS), metadata.get(EXPORT_TABLE)
        if not isinstance(ids, list) or not ids or not isinstance(table, str):
            return None
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            return None
        return cls(tuple(ids), table, metadata.get(AGENT_TABLE) is True)

    def state(self) -> dict[str, Any]:
        """What the stream's state records of it (streams of one agent only)."""
        recorded: dict[str, Any] = {STATE_AGENT: self.agent_ids[0], STATE_TABLE: self.export_table}
        if self.agent_table:
            recorded[STATE_OWN] = True
        return recorded

    def continues(self, state: Mapping[str, Any]) -> bool:
        """Whether a state written by another stream read this stream's files: the same agent, and the same
        export table or both the agent's own table (a renamed agent's own table may have changed its slug)."""
        if len(self.agent_ids) != 1 or state.get(STATE_AGENT) != self.agent_ids[0]:
            return False
        same_table = state.get(STATE_TABLE) == self.export_table
        return same_table or (self.agent_table and state.get(STATE_OWN) is True)


def catalog_identities(catalog: Mapping[str, Any]) -> dict[str, StreamIdentity]:
    """Stream id -> identity, for the entries of a catalog (a Singer catalog as JSON) that record one."""
    found: dict[str, StreamIdentity] = {}
    for entry in catalog.get("streams") or []:
        for item in entry.get("metadata") or []:
            if isinstance(item, dict) and item.get("breadcrumb") == []:
                identity = StreamIdentity.from_metadata(item.get("metadata") or {})
                if identity is not None:
                    found[str(entry.get("tap_stream_id"))] = identity
    return found


def with_identities(catalog: dict[str, Any], identities: Mapping[str, StreamIdentity]) -> dict[str, Any]:
    """The catalog with each stream's identity in its stream metadata (singer-sdk writes standard keys
    only), in place."""
    for entry in catalog.get("streams") or []:
        identity = identities.get(entry.get("tap_stream_id"))
        if identity is None:
            continue
        metadata = entry.setdefault("metadata", [])
        root = next((m for m in metadata if m.get("breadcrumb") == []), None)
        if root is None:
            root = {"breadcrumb": [], "metadata": {}}
            metadata.insert(0, root)
        root.setdefault("metadata", {}).update(identity.metadata())
    return catalog


def kept_streams(identities: Mapping[str, StreamIdentity]) -> dict[int, AgentStreams]:
    """Per agent, the stream names a catalog gives its tables: what a sync routes files by."""
    streams: dict[int, dict[str, str]] = {}
    own: dict[int, tuple[str, str]] = {}
    for name, identity in sorted(identities.items()):
        for agent_id in identity.agent_ids:
            streams.setdefault(agent_id, {})[identity.export_table] = name
            if identity.agent_table:
                own[agent_id] = (identity.export_table, name)
    return {
        agent_id: AgentStreams(
            base=own[agent_id][1] if agent_id in own else None,
            own=own[agent_id][0] if agent_id in own else None,
            streams=tables,
        )
        for agent_id, tables in streams.items()
    }


@dataclass(frozen=True)
class Adoption:
    """`stream` starts from the state `source` left: the same files under an older name."""

    stream: str
    source: str


def adoptions(bookmarks: Mapping[str, Any], identities: Mapping[str, StreamIdentity]) -> list[Adoption]:
    """The streams of this sync without state that continue another stream's state.

    A source is a bookmark of a stream this sync does not have, whose state records the same agent and table;
    when several do (renamed twice), the one that got furthest. A stream that has state of its own keeps it.
    """
    sources = {
        name: state
        for name, state in bookmarks.items()
        if name not in identities and isinstance(state, Mapping) and STATE_AGENT in state
    }
    found = []
    for stream, identity in sorted(identities.items()):
        if bookmarks.get(stream):
            continue
        matches = [name for name, state in sources.items() if identity.continues(state)]
        if matches:
            best = max(
                matches, key=lambda name: (str(sources[name].get("replication_key_value") or ""), name)
            )
            found.append(Adoption(stream, best))
    return found


def adopt(
    bookmarks: dict[str, Any], found: Iterable[Adoption], identities: Mapping[str, StreamIdentity]
) -> None:
    """Give each stream a copy of its source's state (recording its own identity), then drop the sources:
    they belong to no stream now."""
    found = list(found)
    for adoption in found:
        state = copy.deepcopy(dict(bookmarks[adoption.source]))
        for key in (STATE_TABLE, STATE_OWN):
            state.pop(key, None)
        bookmarks[adoption.stream] = {**state, **identities[adoption.stream].state()}
    for source in {adoption.source for adoption in found}:
        bookmarks.pop(source, None)
