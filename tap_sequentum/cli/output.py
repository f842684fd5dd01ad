"""What `sequentum` prints: tables or JSON on stdout, progress bars and notes on stderr.

Apart from the commands so the look of a table or a bar changes in one place, tested without a server.
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
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text
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
        pads = [" " * (w - width(v)) for v, w in zip(values, widths, strict=True)]
        return "  ".join(
            p + v if right else v + p for v, p, right in zip(values, pads, align, strict=True)
        ).rstrip()

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
    bar = ("#" * int(fraction * bar_width)).ljust(bar_width, "-")
    return f"[{bar}] {fraction:4.0%}  {human_bytes(done)} / {human_bytes(total)}"


def _status(item: dict) -> str:
    return status_label(item.get("status"))


def _file_type(item: dict) -> Any:
    name = file_type_name(item.get("fileType"))
    return f"{name} ({status_code(item['fileType'])})" if name else item.get("fileType")


#: Each table's columns: header -> the API field shown (timestamps normalised) or how a cell is made.
COLUMNS: dict[str, dict[str, str | Callable[[dict], Any]]] = {
    "agents": {"ID": "id", "NAME": "name", "STATUS": _status, "LAST ACTIVITY": "lastActivity"},
    "runs": {
        "ID": "id",
        "STATUS": _status,
        "CREATED": "created",
        "ENDED": "endTime",
        "SECONDS": "runTimeSec",
        "DATA": "dataCount",
        "ERRORS": "errorCount",
        "MESSAGE": "message",
    },
    "files": {"ID": "id", "TYPE": _file_type, "SIZE": "fileSize", "CREATED": "created", "NAME": "name"},
    "versions": {
        "VERSION": "version",
        "CREATED": "created",
        "USER": "userName",
        "SIZE": "fileSize",
        "COMMENTS": "comments",
    },
}
TIMESTAMPS = frozenset({"created", "endTime", "lastActivity"})


def read(item: dict, column: str | Callable[[dict], Any]) -> Any:
    if callable(column):
        return column(item)
    return normalize_timestamp(item.get(column)) if column in TIMESTAMPS else item.get(column)


class Output:
    """Where results (stdout) and progress and notes (stderr) go; `--json` switches stdout to JSON."""

    def __init__(self, as_json: bool, out: TextIO, err: TextIO) -> None:
        self.as_json, self.out, self.err = as_json, out, err
        self.err_is_terminal = is_terminal(err)

    def json(self, value: Any) -> None:
        self.out.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")

    def show(self, value: Any, table: str, empty: str = "", *, leave_out: Sequence[str] = ()) -> None:
        """One object or a list of them: JSON as the API returned it, or a table (`COLUMNS[table]`)."""
        if self.as_json:
            self.json(value)
            return
        columns = {h: c for h, c in COLUMNS[table].items() if h not in leave_out}
        items = [item for item in (value if isinstance(value, list) else [value]) if isinstance(item, dict)]
        rows = [[read(item, column) for column in columns.values()] for item in items]
        self.out.write((render_table(list(columns), rows) if rows else empty) + "\n")

    def note(self, text: str) -> None:
        """A hint for people; never part of the machine-readable answer."""
        if not self.as_json:
            self.err.write(text + "\n")

    def binary(self) -> BinaryIO:
        """stdout's byte stream, for `download -o -` (text written so far goes first)."""
        self.out.flush()
        return self.out.buffer

    def exports(self, data: Any) -> None:
        """A synchronous start answers {export name: [rows]}: one table per export, or that JSON."""
        if self.as_json:
            self.json(data)
            return
        for index, (export, rows) in enumerate((data if isinstance(data, dict) else {"data": data}).items()):
            self.out.write("\n" if index else "")
            if not isinstance(rows, list):
                self.out.write(f"{export}: {cell(rows)}\n")
                continue
            records = [r if isinstance(r, dict) else {"value": r} for r in rows]
            keys = list(dict.fromkeys(key for record in records for key in record))
            self.out.write(f"{export} ({len(records)} row{'' if len(records) == 1 else 's'})\n")
            if records:
                self.out.write(render_table(keys, [[r.get(k) for k in keys] for r in records]) + "\n")


class ProgressWriter:
    """A file wrapper that redraws a progress bar on stderr while the client writes into it."""

    def __init__(self, handle: IO[bytes], err: TextIO, total: int | None) -> None:
        self.handle, self.err, self.total = handle, err, total
        self.written, self.shown = 0, 0.0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        if time.monotonic() - self.shown >= 0.1:
            self.shown = time.monotonic()
            self.draw()
        return self.handle.write(data)

    def draw(self, end: str = "") -> None:
        self.err.write("\r" + progress_bar(self.written, self.total) + "\x1b[K" + end)
        self.err.flush()

    def restart(self) -> None:
        """Before every attempt of the download (a `client.Sink`): the file and the bar start over."""
        self.written = 0
        self.handle.seek(0)
        self.handle.truncate()

    def flush(self) -> None:
        self.handle.flush()


class WaitProgress:
    """`run 50027: Running (12 s)`: rewritten in place on a terminal, else a line per change (or minute)."""

    def __init__(self, output: Output, run_id: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.err, self.terminal, self.run_id, self.clock = output.err, output.err_is_terminal, run_id, clock
        self.started = clock()
        self.last: tuple[Any, float] | None = None
        self.drawn = False

    def __call__(self, run: dict) -> None:
        now, status = self.clock(), run.get("status")
        text = (
            f"run {self.run_id}: {status_name(status) or status_label(status)} ({now - self.started:.0f} s)"
        )
        if self.terminal:
            self.err.write("\r" + text + "\x1b[K")
            self.drawn = True
        elif self.last is None or self.last[0] != status or now - self.last[1] >= PLAIN_PROGRESS_EVERY:
            self.err.write(text + "\n")
            self.last = (status, now)
        self.err.flush()

    def end(self) -> None:
        if self.drawn:
            self.err.write("\n")
            self.drawn = False
