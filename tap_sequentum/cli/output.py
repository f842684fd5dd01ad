"""What the `sequentum` command prints: tables or JSON on stdout, progress and notes on stderr.

Kept apart from the commands so the look of a table or a bar changes in one place and is tested without
a server.
"""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any, BinaryIO, TextIO

from tap_sequentum.domain import file_type_name, normalize_timestamp, status_code, status_name
from tap_sequentum.operations import status_label

#: Without a terminal, a --wait progress line is written on each status change and at least this often.
PLAIN_PROGRESS_EVERY = 60.0


def is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def oneline(value: Any) -> str:
    return " ".join(str(value).split())


def cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    # Names and messages come from the API: no newlines or escape sequences reach the terminal.
    return "".join(ch if ch.isprintable() else " " for ch in str(value))


def width(text: str) -> int:
    """Columns on a terminal: wide East Asian characters take two, combining marks none."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def render_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Aligned plain-text columns; columns holding only integers are right-aligned."""
    raw = [list(row) for row in rows]
    cells = [[cell(value) for value in row] for row in raw]
    numeric = [
        any(row[i] is not None for row in raw)
        and all(isinstance(row[i], int) and not isinstance(row[i], bool) for row in raw if row[i] is not None)
        for i in range(len(headers))
    ]
    widths = [max([width(h), *(width(row[i]) for row in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str], align: Sequence[bool]) -> str:
        padded = [
            " " * (w - width(v)) + v if right else v + " " * (w - width(v))
            for v, w, right in zip(values, widths, align, strict=True)
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers, [False] * len(headers)), *(line(row, numeric) for row in cells)])


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def progress_bar(done: int, total: int | None, bar_width: int = 30) -> str:
    """`[#######-------]  45%  1.2 MB / 2.6 MB`, or just the byte count when the size is unknown."""
    if not total:
        return human_bytes(done)
    fraction = min(done / total, 1.0)
    filled = int(fraction * bar_width)
    bar = "#" * filled + "-" * (bar_width - filled)
    return f"[{bar}] {fraction:4.0%}  {human_bytes(done)} / {human_bytes(total)}"


class Output:
    """Where results (stdout) and progress and notes (stderr) go; `--json` switches stdout to JSON."""

    def __init__(self, as_json: bool, out: TextIO, err: TextIO) -> None:
        self.as_json = as_json
        self.out = out
        self.err = err
        self.err_is_terminal = is_terminal(err)

    def json(self, value: Any) -> None:
        self.out.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str) -> None:
        self.out.write((render_table(headers, rows) if rows else empty) + "\n")

    def show(
        self, value: Any, headers: Sequence[str], row: Callable[[dict], Sequence[Any]], empty: str = ""
    ) -> None:
        """One object or a list of them: JSON as the API returned it, or a table."""
        if self.as_json:
            self.json(value)
            return
        items = value if isinstance(value, list) else [value]
        self.table(headers, [row(item) for item in items if isinstance(item, dict)], empty)

    def note(self, text: str) -> None:
        """A hint for people; never part of the machine-readable answer."""
        if not self.as_json:
            self.err.write(text + "\n")

    def binary(self) -> BinaryIO:
        """stdout's byte stream, for `download -o -` (text written so far goes first)."""
        self.out.flush()
        return self.out.buffer

    def sync_tables(self, data: Any) -> None:
        """A synchronous start answers {export name: [rows]}: one table per export."""
        exports = data if isinstance(data, dict) else {"data": data}
        for index, (export, rows) in enumerate(exports.items()):
            if index:
                self.out.write("\n")
            if not isinstance(rows, list):
                self.out.write(f"{export}: {cell(rows)}\n")
                continue
            records = [r if isinstance(r, dict) else {"value": r} for r in rows]
            columns = list(dict.fromkeys(key for record in records for key in record))
            self.out.write(f"{export} ({len(records)} row{'' if len(records) == 1 else 's'})\n")
            if records:
                self.out.write(render_table(columns, [[r.get(c) for c in columns] for r in records]) + "\n")


# --- rows of the tables ---------------------------------------------------------------------------

AGENT_HEADERS = ("ID", "NAME", "STATUS", "LAST ACTIVITY")
RUN_HEADERS = ("ID", "STATUS", "CREATED", "ENDED", "SECONDS", "DATA", "ERRORS", "MESSAGE")
FILE_HEADERS = ("ID", "TYPE", "SIZE", "CREATED", "NAME")
VERSION_HEADERS = ("VERSION", "CREATED", "USER", "SIZE", "COMMENTS")


def agent_row(agent: dict) -> list[Any]:
    status = agent.get("status")
    return [
        agent.get("id"),
        agent.get("name"),
        None if status is None else status_label(status),
        normalize_timestamp(agent.get("lastActivity")),
    ]


def run_row(run: dict) -> list[Any]:
    return [
        run.get("id"),
        status_label(run.get("status")),
        normalize_timestamp(run.get("created")),
        normalize_timestamp(run.get("endTime")),
        run.get("runTimeSec"),
        run.get("dataCount"),
        run.get("errorCount"),
        run.get("message"),
    ]


def file_row(item: dict) -> list[Any]:
    kind = item.get("fileType")
    name = file_type_name(kind)
    return [
        item.get("id"),
        f"{name} ({status_code(kind)})" if name else kind,
        item.get("fileSize"),
        normalize_timestamp(item.get("created")),
        item.get("name"),
    ]


def version_row(version: dict) -> list[Any]:
    return [
        version.get("version"),
        normalize_timestamp(version.get("created")),
        version.get("userName"),
        version.get("fileSize"),
        version.get("comments"),
    ]


# --- progress -------------------------------------------------------------------------------------


class ProgressWriter:
    """A file wrapper that redraws a progress bar on stderr while the client writes into it."""

    def __init__(self, handle: IO[bytes], err: TextIO, total: int | None, *, interval: float = 0.1) -> None:
        self._handle = handle
        self._err = err
        self._total = total
        self._interval = interval
        self._shown = 0.0
        self.written = 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        now = time.monotonic()
        if now - self._shown >= self._interval:
            self._shown = now
            self.draw()
        return self._handle.write(data)

    def draw(self) -> None:
        self._err.write("\r" + progress_bar(self.written, self._total) + "\x1b[K")
        self._err.flush()

    def end(self) -> None:
        self.draw()
        self._err.write("\n")

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)

    def truncate(self, size: int | None = None) -> int:
        # The client rewinds and truncates before every attempt: the bar starts over with it.
        self.written = 0
        return self._handle.truncate(size)

    def flush(self) -> None:
        self._handle.flush()


class WaitProgress:
    """`run 50027: Running (12 s)`: rewritten in place on a terminal, else a line per change (or minute)."""

    def __init__(self, output: Output, run_id: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._err = output.err
        self._terminal = output.err_is_terminal
        self._run_id = run_id
        self._clock = clock
        self._started = clock()
        self._last: tuple[Any, float] | None = None
        self.drawn = False

    def __call__(self, run: dict) -> None:
        now = self._clock()
        status = run.get("status")
        name = status_name(status) or status_label(status)
        text = f"run {self._run_id}: {name} ({now - self._started:.0f} s)"
        if self._terminal:
            self._err.write("\r" + text + "\x1b[K")
            self.drawn = True
        elif self._last is None or self._last[0] != status or now - self._last[1] >= PLAIN_PROGRESS_EVERY:
            self._err.write(text + "\n")
            self._last = (status, now)
        self._err.flush()

    def end(self) -> None:
        if self.drawn:
            self._err.write("\n")
            self.drawn = False
