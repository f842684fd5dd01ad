"""Discovery's memory on disk: what it learnt per agent (`reuse.AgentMemory`), kept between runs.

One JSON file per Sequentum address and naming settings (`export_table_names`, `merge_export_tables`: they
decide what a table is), in the user's cache folder or where `discovery_cache` says (a mounted volume where
no disk outlives a run). It holds agent ids and names, export tables, stream names, column names and kinds,
run ids and the agent list's hints: never a row of data, never the API key. Deleting it costs requests only,
and so does every failure to read or write it: a warning, never a failed discovery. Agent ids are unique per
address, so one file serves every key (and shard) of it; parallel writers merge, the last write winning per
agent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tap_sequentum.contents.reuse import AgentMemory
from tap_sequentum.text import slugify

logger = logging.getLogger("tap_sequentum.discovery")

#: The file's format; another version is not read (and is replaced on the next write).
VERSION = 1
#: `discovery_cache` values.
AUTO, OFF = "auto", "off"


def default_folder(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> Path:
    """The user's cache folder for the tap: ~/.cache/tap-sequentum (or $XDG_CACHE_HOME/tap-sequentum) on
    Linux, ~/Library/Caches/tap-sequentum on macOS, %LOCALAPPDATA%\\tap-sequentum\\Cache on Windows."""
    home = Path(environ.get("HOME") or Path.home())
    if platform.startswith("win"):
        return Path(environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "tap-sequentum" / "Cache"
    if platform == "darwin":
        return home / "Library" / "Caches" / "tap-sequentum"
    return Path(environ.get("XDG_CACHE_HOME") or home / ".cache") / "tap-sequentum"


def folder_of(
    setting: str, environ: Mapping[str, str] = os.environ, platform: str = sys.platform
) -> Path | None:
    """Where the `discovery_cache` setting puts the memory: `auto`, `off` (None) or a folder."""
    text = setting.strip()
    if text.lower() in (OFF, "false", "none", ""):
        return None
    if text.lower() == AUTO:
        return default_folder(environ, platform)
    return Path(text).expanduser()


def file_name(base_url: str, naming: Mapping[str, Any]) -> str:
    """`discovery-dashboard_sequentum_com-<hash>.json`: the host for people, the hash for the address and the
    naming settings."""
    host = slugify(urlsplit(base_url).netloc) or "sequentum"
    key = json.dumps({"base_url": base_url.rstrip("/"), **naming}, sort_keys=True)
    return f"discovery-{host}-{hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:10]}.json"


class DiscoveryCache:
    """The memory file of one address and naming; `path` None: no memory (`discovery_cache: off`)."""

    def __init__(self, path: Path | None, base_url: str, naming: Mapping[str, Any]) -> None:
        self.path = path
        self.header = {"version": VERSION, "base_url": base_url, "naming": dict(naming)}

    def load(self) -> dict[int, AgentMemory]:
        """Agent id -> memory; nothing when there is no file, or one this version cannot read (a warning)."""
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") != VERSION:
                return {}
            return {int(agent): AgentMemory.from_json(entry) for agent, entry in data["agents"].items()}
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            logger.warning(
                "Discovery's memory %s could not be read (%s): discovering without it.", self.path, exc
            )
            return {}

    def save(self, agents: Mapping[int, AgentMemory]) -> None:
        """Write these agents' memory, keeping the other agents' entries the file holds (another shard's)."""
        if self.path is None or not agents:
            return
        merged = {**self.load(), **agents}
        body = {**self.header, "agents": {str(a): merged[a].to_json() for a in sorted(merged)}}
        temporary: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=self.path.parent, prefix=".discovery-", suffix=".tmp", delete=False
            ) as handle:
                temporary = handle.name
                json.dump(body, handle, ensure_ascii=False, separators=(",", ":"))
            os.replace(temporary, self.path)  # readers see the old file or the new one, never half of one
        except OSError as exc:
            logger.warning(
                "Discovery's memory could not be written to %s (%s): the next discovery reads every agent "
                "again (set discovery_cache to a writable folder, or off).",
                self.path,
                exc,
            )
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
