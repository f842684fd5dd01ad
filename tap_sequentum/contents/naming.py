"""Content stream names: a lowercase ASCII slug of the agent's name, unique across the tap."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Letters NFKD does not decompose into ASCII.
_SPECIAL = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "đ": "d", "Đ": "D",
     "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D", "\u0131": "i"}
)  # fmt: skip
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(name: str | None) -> str:
    """`Société Générale \u2013 prix` -> `societe_generale_prix`; empty when nothing ASCII is left."""
    text = unicodedata.normalize("NFKD", (name or "").translate(_SPECIAL))
    ascii_text = text.encode("ascii", "ignore").decode("ascii").lower()
    return _NON_ALNUM.sub("_", ascii_text).strip("_")


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
