"""Run files: which files of a run are delivered data, and each as a local temporary file, downloaded
completely (or a bounded prefix) before parsing."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tap_sequentum.client import DownloadResult, SequentumClient
from tap_sequentum.domain import file_extension, normalize_timestamp, status_code

DELIVERED_FILE = 1


@dataclass(frozen=True)
class RunFile:
    """A delivered data file of a run, as the files endpoint lists it."""

    agent_id: int
    run_id: int
    run_created: str | None
    file_id: int
    name: str
    size: int | None

    def describe(self) -> str:
        return f"{self.name} (file {self.file_id}, run {self.run_id}, agent {self.agent_id})"


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


@contextlib.contextmanager
def fetched(
    client: SequentumClient, item: RunFile, *, temp_dir: str | None = None, max_bytes: int | None = None
) -> Iterator[tuple[Path, DownloadResult]]:
    """Download a run file to a temporary file that is removed afterwards.

    Downloading first means a broken transfer is retried whole before any row is parsed, so no
    row of a half-downloaded file is ever emitted.
    """
    suffix = "." + (file_extension(item.name) or "bin")
    with tempfile.NamedTemporaryFile(prefix="tap-sequentum-", suffix=suffix, dir=temp_dir) as handle:
        result = client.download(
            item.agent_id, item.run_id, item.file_id, handle, name=item.name, max_bytes=max_bytes
        )
        yield Path(handle.name), result
