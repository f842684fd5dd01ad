"""Content stream names: a lowercase ASCII slug of the agent's name, unique across the tap."""

from __future__ import annotations

from collections.abc import Iterable

from tap_sequentum.text import slugify


def stream_names(agents: Iterable[tuple[int, str | None]], reserved: Iterable[str] = ()) -> dict[int, str]:
    """Map agent id -> stream name.

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
        names[agent_id] = candidate
        taken.add(candidate)
    return names
