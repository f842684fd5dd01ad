"""Run files: which files of a run are delivered data, and each as a local temporary file, downloaded
completely (or a bounded prefix) before parsing."""

from __future__ import annotations

import contextlib
import io
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from tap_sequentum.client import DownloadResult, SequentumClient
from tap_sequentum.contents.source import BytesSource
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
    """The delivered data files of a run, oldest file first; logs and internal files never count. A run
    removed after it was listed has none (it cannot come back)."""
    run_id = int(run["id"])
    listed = client.list_files(agent_id, run_id, gone_ok=True)
    return delivered(agent_id, run_id, normalize_timestamp(run.get("created")), listed)


def delivered(agent_id: int, run_id: int, run_created: str | None, listed: list[dict]) -> list[RunFile]:
    """The delivered data files of a run's file list, oldest file first."""
    items = [item for item in listed if status_code(item.get("fileType")) == DELIVERED_FILE]
    return [
        RunFile(
            agent_id=agent_id,
            run_id=run_id,
            run_created=run_created,
            file_id=int(item["id"]),
            name=str(item.get("name") or ""),
            size=item.get("fileSize") if isinstance(item.get("fileSize"), int) else None,
        )
        for item in sorted(items, key=lambda i: int(i["id"]))
    ]


#: Files up to this size (as listed) are downloaded into memory: no temporary file for small files.
IN_MEMORY_BYTES = 8 << 20


@contextlib.contextmanager
def fetched(
    client: SequentumClient, item: RunFile, *, temp_dir: str | None = None, max_bytes: int | None = None
) -> Iterator[tuple[Path, DownloadResult]]:
    """Download a run file to a temporary file that is removed afterwards (discovery samples).

    Downloading first means a broken transfer is retried whole before any row is parsed, so no
    row of a half-downloaded file is ever emitted.
    """
    suffix = "." + (file_extension(item.name) or "bin")
    with tempfile.NamedTemporaryFile(prefix="tap-sequentum-", suffix=suffix, dir=temp_dir) as handle:
        result = client.download(
            item.agent_id, item.run_id, item.file_id, handle, name=item.name, max_bytes=max_bytes
        )
        yield Path(handle.name), result


def download_to_memory(client: SequentumClient, item: RunFile) -> tuple[BytesSource, DownloadResult]:
    """A small file, downloaded whole into memory."""
    buffer = io.BytesIO()
    result = client.download(item.agent_id, item.run_id, item.file_id, buffer, name=item.name)
    return BytesSource(buffer.getvalue()), result


class TransferRestarted(Exception):
    """The download broke and started again: whoever was reading it must start again too."""


class TransferCancelled(Exception):
    """Nobody waits for this download any more: it stops at its next chunk."""


class TransferFailed(Exception):
    """The download failed for good; `Transfer.wait` raises the reason."""


class Transfer:
    """A download running in a thread into a temporary file that readers can follow while it grows.

    A big file is parsed as it arrives, so it is read while it downloads instead of after. Readers
    block until the bytes they ask for have arrived. The contract of a broken transfer, in one place:
    the client calls `restart` on its sink (`client.Sink`) before every attempt; the sink here empties
    the file and starts a new generation; every reader of the old generation raises `TransferRestarted`
    at its next read, and whoever parsed it starts over from `open()`.
    """

    def __init__(self, client: SequentumClient, item: RunFile, *, temp_dir: str | None = None) -> None:
        suffix = "." + (file_extension(item.name) or "bin")
        # The thread owns the handle until the download ends (`_Sink.close`); `close` removes the file.
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="tap-sequentum-", suffix=suffix, dir=temp_dir, delete=False
        )
        self.path = Path(handle.name)
        self._sink = _Sink(handle, self)
        self._changed = threading.Condition()
        self.size = 0
        self.generation = 0
        self.done = False
        self.cancelled = False
        self.error: BaseException | None = None
        self.result: DownloadResult | None = None
        self._thread = threading.Thread(target=self._run, args=(client, item), name="tap-sequentum-download")
        self._thread.daemon = True
        self._thread.start()

    def _run(self, client: SequentumClient, item: RunFile) -> None:
        try:
            sink = self._sink
            self.result = client.download(item.agent_id, item.run_id, item.file_id, sink, name=item.name)
        except BaseException as exc:  # handed to the waiting thread, which raises it
            self.error = exc
        finally:
            self._sink.close()
            with self._changed:
                self.done = True
                self._changed.notify_all()

    def open(self) -> BinaryIO:
        """A reader from the first byte that follows the download (the `Source` protocol)."""
        if self.done and self.error is None:
            return self.path.open("rb")
        return _Follower(self)  # type: ignore[return-value]

    def wait(self) -> DownloadResult:
        """The finished download; its error if it failed."""
        self._thread.join()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

    def close(self) -> None:
        """Stop the download if it still runs (the sync is stopping) and remove the file."""
        self.cancelled = True
        self._thread.join()
        self.path.unlink(missing_ok=True)

    def _grew(self, size: int, *, restarted: bool = False) -> None:
        with self._changed:
            if restarted:
                self.generation += 1
            self.size = size
            self._changed.notify_all()


class _Sink:
    """What the client writes into (a `client.Sink`): the temporary file, announcing every chunk."""

    def __init__(self, handle: IO[bytes], transfer: Transfer) -> None:
        self._handle = handle
        self._transfer = transfer
        self._size = 0

    def write(self, data: bytes) -> int:
        if self._transfer.cancelled:
            raise TransferCancelled
        written = self._handle.write(data)
        self._handle.flush()  # readers read the file through their own handles
        self._size += len(data)
        self._transfer._grew(self._size)
        return written

    def restart(self) -> None:
        """The client starts the transfer again: readers of what the file held start over (told first,
        so none takes the emptied file for the end of it), then the file is emptied."""
        if self._size:
            self._size = 0
            self._transfer._grew(0, restarted=True)
        self._handle.seek(0)
        self._handle.truncate()

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class _Follower(io.RawIOBase):
    """Reads a growing download; a short read happens only at its end."""

    def __init__(self, transfer: Transfer) -> None:
        super().__init__()
        self._transfer = transfer
        self._generation = transfer.generation
        self._handle = transfer.path.open("rb")
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        transfer = self._transfer
        with transfer._changed:
            while True:
                if transfer.generation != self._generation:
                    raise TransferRestarted
                available = transfer.size - self._position
                if transfer.done:
                    if transfer.error is not None:
                        raise TransferFailed
                    break
                if size >= 0 and available >= size:
                    break
                transfer._changed.wait(1.0)
        want = available if size < 0 else min(size, available)
        data = self._handle.read(want)
        with transfer._changed:
            # A restart may have emptied the file while it was read: a short read is not its end.
            if transfer.generation != self._generation or len(data) < want:
                raise TransferRestarted
        self._position += len(data)
        return data

    def close(self) -> None:
        self._handle.close()
        super().close()
