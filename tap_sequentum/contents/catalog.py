"""Content streams from the catalog a sync is given: which agents and export table each reads.

A catalog this version discovered records it per stream (`identity.py`), so files are routed by agent id and
export table and no name is matched: a renamed agent's stream goes on. A catalog from before records names
only: its streams are matched to agents by name, as the naming rule would name them now. A selected stream
that reads no agent this key can see (deleted, or renamed under such an old catalog) is skipped and named in
one warning; every other stream syncs.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from pathlib import PurePath
from typing import Any, Protocol

from tap_sequentum.contents.discovery import StreamSpec
from tap_sequentum.contents.identity import StreamIdentity
from tap_sequentum.contents.naming import MAX_AGENT_PART, SEPARATOR, Router, fit
from tap_sequentum.contents.schema import columns_of


class Entry(Protocol):
    """What is read of a catalog entry (singer-sdk's CatalogEntry)."""

    tap_stream_id: str

    @property
    def schema(self) -> Any: ...

    @property
    def metadata(self) -> Any: ...


def raw_catalog(catalog: Any) -> Mapping[str, Any]:
    """The catalog as JSON, as given to the tap (a dict, or a file's path): singer-sdk's parsed catalog keeps
    standard metadata only. Anything else (a parsed catalog) holds no identities."""
    if isinstance(catalog, Mapping):
        return catalog
    if isinstance(catalog, str | PurePath):
        try:
            with open(catalog, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}
    return {}


def catalog_specs(
    entries: Iterable[Entry],
    identities: Mapping[str, StreamIdentity],
    router: Router,
    *,
    visible: Collection[int],
    wanted: Collection[int],
) -> tuple[list[StreamSpec], list[str]]:
    """The content streams of this sync (those of another shard's agents left out), and the selected entries
    that read no agent this key can see."""
    specs, unmatched = [], []
    for entry in entries:
        name = entry.tap_stream_id
        identity = identities.get(name)
        owners = identity.agent_ids if identity and not router.merge else router.agents_of(name)
        seen = [agent_id for agent_id in owners if agent_id in visible]
        if not seen:
            if entry.metadata.resolve_selection()[()]:
                unmatched.append(name)
            continue
        agents = [agent_id for agent_id in seen if agent_id in wanted]
        if agents:  # else: another shard's agent (agent_ids)
            recorded = identity or legacy_identity(router, name, agents)
            specs.append(StreamSpec(name, agents, columns_of(entry.schema.to_dict()), recorded))
    return specs, unmatched


def legacy_identity(router: Router, name: str, agents: list[int]) -> StreamIdentity:
    """What a stream of a catalog that records no identity reads, from its name (its state then records it,
    so a later rename finds it)."""
    if router.merge or len(agents) != 1:
        return StreamIdentity(tuple(agents), name)
    (agent_id,) = agents
    if name == router.names[agent_id]:
        return StreamIdentity((agent_id,), router.own_table(agent_id), agent_table=True)
    return StreamIdentity(
        (agent_id,), name.removeprefix(fit(router.names[agent_id], MAX_AGENT_PART) + SEPARATOR)
    )


def unmatched_warning(names: list[str]) -> str:
    """The one line for selected catalog streams that read no agent."""
    return (
        f"Catalog stream(s) {', '.join(names)} are selected but read no agent this key can see (deleted; or "
        "renamed, in a catalog that records no agent ids): skipped, every other stream syncs. Discover again "
        "(Meltano does before every run with use_cached_catalog: false) or deselect them."
    )
