"""Where a reader gets a file's bytes: a local file, bytes in memory, or a download still in progress.

Readers open a source (possibly more than once: the CSV reader reads the header, then everything) and
read it front to back, so the same reader code serves a small file held in memory, a big file on disk
and a big file that is still arriving (`fetch.Transfer`), which is how inference overlaps a download.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol


class Source(Protocol):
    """Something a reader can open for reading, from the first byte, any number of times."""

    def open(self) -> BinaryIO: ...


@dataclass(frozen=True)
class FileSource:
    path: Path

    def open(self) -> BinaryIO:
        return self.path.open("rb")


@dataclass(frozen=True)
class BytesSource:
    data: bytes

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data)


def as_source(value: Source | Path | str | bytes) -> Source:
    """A source from a path, bytes, or a source already."""
    if isinstance(value, bytes):
        return BytesSource(value)
    if isinstance(value, str | Path):
        return FileSource(Path(value))
    return value
