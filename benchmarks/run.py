"""Throughput and memory benchmark of a content stream: one big CSV, end to end through the real tap.

Why this shape: the tap's cost is dominated by what it does per row (inference, conversion, encoding),
so the benchmark serves one large run file from the bundled sandbox over real HTTP and runs the tap
exactly as a scheduler would (a child process). Two references read the same CSV already on disk:

- the **floor** (issue 18): pyarrow's streaming reader with every column a string, plus msgspec writing
  the same RECORD lines as the tap (the keys and envelope of the tap's own first record) a batch at a
  time: what a competent engineer gets in Python without types, with no download and no inference;
- the **baseline** (issue 9): the same reader plus msgspec encoding a dict per row, slower than the floor.

The tap and the floor are timed twice: stdout to /dev/null, and stdout through a pipe to a process that
reads it line by line, as a Singer target does. The singer-sdk per-record path (`content_fast_path:
false`) shows what the fast path buys.

    .venv/bin/python benchmarks/run.py                  # 2M rows (issue 9's size)
    .venv/bin/python benchmarks/run.py --flatness       # 200k, 1M, 5M rows: memory must stay flat
    .venv/bin/python benchmarks/run.py --rows 1000000 --sdk-path   # also the singer-sdk per-record path

Wall time and peak RSS are those of each child process (`os.wait4`), interpreter start-up included;
times are medians of `--repeat` runs, ratios the medians of each round's ratio.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from children import (
    CACHE,
    HERE,
    ROOT,
    Child,
    child_env,
    load_average,
    median,
    package_versions,
    run_child,
    tap_argv,
)

RESULTS = HERE / "results.json"

#: Bump when the generated data changes, so a stale cached file is never reused.
DATA_VERSION = 1
#: The SDK path is slow (tens of thousands of rows/s): by default it only runs up to this size.
SDK_PATH_MAX_ROWS = 1_000_000
DEFAULT_ROWS = 2_000_000
FLATNESS_ROWS = (200_000, 1_000_000, 5_000_000)
#: Issue 9's targets for the tap's fast path (against the baseline, stdout to /dev/null).
TARGET_RATIO = 0.6
TARGET_RSS_MIB = 200
AGENT_NAME = "Benchmark products"
FILE_NAME = "products.csv"

BASELINE = "baseline: pyarrow + msgspec, a dict per row"
FLOOR = "floor: pyarrow all text + msgspec by batch"
TAP = "tap (fast path)"
SDK_PATH = "tap (singer-sdk path)"
DEVNULL = "/dev/null"
PIPE = "pipe to a reader"

# The tap's per-file log line, when it still writes one: its own time for the file.
_DOWNLOADED = re.compile(r"Downloaded .*?: (\d+) bytes, (\d+) rows emitted in ([0-9.]+) s")
_CHILD_ROWS = re.compile(r"rows written: (\d+)")
_READER = re.compile(r"lines (\d+) records (\d+)")


# -- data ------------------------------------------------------------------------------------------

_ADJECTIVES = ("Classic", "Deluxe", "Compact", "Smart", "Eco", "Ultra", "Mini", "Pro", "Vintage", "Rugged")
_NOUNS = ("Kettle", "Lamp", "Backpack", "Blender", "Headphones", "Chair", "Drill", "Mug", "Tent", "Watch")
_CATEGORIES = (
    "Kitchen",
    "Home & Garden",
    "Electronics",
    "Outdoors",
    "Tools",
    "Toys",
    "Office",
    "Sports",
    "Beauty",
    "Books",
)
_DAYS = [
    (dt.date(2025, 1, 1) + dt.timedelta(days=n)).isoformat() for n in range(365)
]  # formatted once: per-row date maths would dominate generation
HEADER = "sku,name,category,price,qty,in_stock,updated_at,url\n"


def _row(i: int) -> str:
    """Row `i`, a pure function of `i` so every machine benchmarks the same bytes."""
    h = (i * 2654435761 + 97) & 0xFFFFFFFF
    sku = f"{i:08d}"  # leading zeros: the column must stay a string
    name = f"{_ADJECTIVES[h % 10]} {_NOUNS[(h >> 4) % 10]}"
    if h % 7 == 0:
        name = f'"{name}, {h % 50 + 1}-pack"'  # quoted comma
    elif h % 29 == 0:
        name = f'"{name} 12"" XL"'  # escaped quote
    cents = 99 + (h >> 8) % 99_901
    qty = "" if h % 997 == 0 else str((h >> 12) % 500)  # a few empty cells
    stock = "true" if (h >> 3) & 1 else "false"
    seconds = (h >> 5) % 86_400
    stamp = f"{_DAYS[(h >> 13) % 365]}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"
    return (
        f"{sku},{name},{_CATEGORIES[(h >> 16) % 10]},{cents // 100}.{cents % 100:02d},{qty},{stock},"
        f"{stamp},https://shop.example/p/{sku}\n"
    )


def product_csv(rows: int) -> Path:
    """The cached CSV of `rows` rows, generated in chunks (never held whole) on first use."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"products-v{DATA_VERSION}-{rows}.csv"
    if path.exists():
        return path
    started = time.perf_counter()
    partial = path.with_suffix(".partial")
    chunk = 50_000
    with partial.open("w", encoding="utf-8", newline="") as handle:
        handle.write(HEADER)
        for start in range(1, rows + 1, chunk):
            handle.write("".join(map(_row, range(start, min(start + chunk, rows + 1)))))
    partial.replace(path)
    size = path.stat().st_size
    print(f"generated {path.name}: {size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s")
    return path


# -- measuring children ----------------------------------------------------------------------------


@dataclass
class Result:
    """One timed child process (or the median of several)."""

    variant: str
    rows: int
    seconds: float
    rows_per_s: float
    peak_rss_mib: float
    sink: str = DEVNULL  # where stdout went: /dev/null, or a pipe to a process reading it line by line
    csv_mb_per_s: float | None = None  # the delivered CSV's size over the wall time
    file_seconds: float | None = None  # the tap's own time for the file (download, infer, emit), if logged
    ratio_to_floor: float | None = None  # floor seconds / these seconds, the median of the rounds' ratios
    cpu_ratio_to_floor: float | None = None  # the same with CPU seconds: steadier when the machine is loaded
    ratio_to_baseline: float | None = None
    all_seconds: list[float] | None = None  # every run, when repeated: how noisy the median is
    cpu_seconds: float | None = None  # user + system of the median run; far below wall = it waited


def _result(variant: str, rows: int, child: Child, sink: str, csv_bytes: int) -> Result:
    found = _DOWNLOADED.findall(child.stderr)
    return Result(
        variant=variant,
        rows=rows,
        seconds=round(child.seconds, 3),
        rows_per_s=round(rows / child.seconds),
        peak_rss_mib=round(child.peak_rss_kib / 1024, 1),
        sink=sink,
        csv_mb_per_s=round(csv_bytes / 1e6 / child.seconds, 1),
        file_seconds=round(sum(float(s) for _, _, s in found), 3) if found else None,
        cpu_seconds=round(child.cpu_seconds, 3),
    )


def median_of(results: list[Result]) -> Result:
    """The run of median time, with the highest peak RSS seen (memory is a bound)."""
    runs = sorted(results, key=lambda r: r.seconds)
    middle = runs[(len(runs) - 1) // 2]
    own = middle.seconds
    middle.seconds = round(median([r.seconds for r in runs]), 3)
    middle.rows_per_s = round(middle.rows / middle.seconds)
    if middle.csv_mb_per_s is not None:
        middle.csv_mb_per_s = round(middle.csv_mb_per_s * own / middle.seconds, 1)
    middle.peak_rss_mib = max(r.peak_rss_mib for r in runs)
    middle.all_seconds = [r.seconds for r in runs]
    return middle


def reader_argv(stream: str | None = None, first_record: Path | None = None) -> list[str]:
    """A process reading stdin line by line, as a Singer target does; see `reader_child`."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--reader-child"]
    if stream is not None and first_record is not None:
        argv += ["--stream", stream, "--first-record", str(first_record)]
    return argv


def reader_lines(child: Child) -> tuple[int, int]:
    """(lines, RECORD lines of the stream) the reader counted."""
    found = _READER.search(child.reader_output)
    if found is None:
        raise SystemExit(f"the reader said nothing countable: {child.reader_output[-300:]!r}")
    return int(found.group(1)), int(found.group(2))


class Bench:
    """Runs the variants on one CSV: where each child's stdout goes and how many rows it must write."""

    def __init__(self, path: Path, rows: int, config: Path, catalog: Path, template: Path) -> None:
        self.path, self.rows, self.config, self.catalog, self.template = path, rows, config, catalog, template
        self.csv_bytes = path.stat().st_size

    def _run(self, variant: str, argv: list[str], sink: str) -> Result:
        child = run_child(argv, reader=reader_argv() if sink == PIPE else None)
        if sink == PIPE:
            lines, _ = reader_lines(child)
            if lines < self.rows:
                raise SystemExit(f"{variant}: the reader saw {lines} lines, the CSV has {self.rows} rows")
        found = _CHILD_ROWS.search(child.stderr)
        if found is not None and int(found.group(1)) != self.rows:
            raise SystemExit(f"{variant} wrote {found.group(1)} rows, the CSV has {self.rows}")
        return _result(variant, self.rows, child, sink, self.csv_bytes)

    def baseline(self) -> Result:
        return self._run(BASELINE, self._child("--baseline-child"), DEVNULL)

    def floor(self, sink: str) -> Result:
        return self._run(FLOOR, [*self._child("--floor-child"), "--template", str(self.template)], sink)

    def tap(self, sink: str, config: Path | None = None, variant: str = TAP) -> Result:
        return self._run(
            variant, tap_argv("--config", str(config or self.config), "--catalog", str(self.catalog)), sink
        )

    def _child(self, mode: str) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), mode, str(self.path)]


def first_record(config: Path, catalog: Path, stream: str, rows: int, directory: Path) -> Path:
    """One untimed tap run, read through a pipe: it must write a RECORD per row; its first is the template.

    The floor writes the records this one shows (its keys, their order, its envelope), so it follows
    whatever the tap writes today (a `_sdc_` column dropped or added) without being told.
    """
    template = directory / "first-record.json"
    child = run_child(
        tap_argv("--config", str(config), "--catalog", str(catalog)), reader=reader_argv(stream, template)
    )
    _, records = reader_lines(child)
    if records != rows:
        sys.stderr.write(child.stderr[-4000:])
        raise SystemExit(f"the tap wrote {records} RECORD messages of {stream}, the CSV has {rows} rows")
    print(f"  tap: {records:,} RECORD messages counted through a pipe; {state_lines(child)}", flush=True)
    return template


def state_lines(child: Child) -> str:
    found = re.search(r"states (\d+)", child.reader_output)
    return f"{found.group(1)} STATE messages" if found else "STATE messages not counted"


def write_config(
    directory: Path, name: str, base_url: str, api_key: str, agent_id: int, **extra: object
) -> Path:
    path = directory / name
    settings = {"api_key": api_key, "base_url": base_url, "agent_ids": [agent_id], **extra}
    path.write_text(json.dumps(settings))
    return path


def discover(config: Path, directory: Path) -> tuple[Path, str]:
    """A catalog from `--discover` (a child, like the real thing) with only the content stream selected."""
    argv = tap_argv("--config", str(config), "--discover")
    done = subprocess.run(argv, capture_output=True, check=False, cwd=ROOT, env=child_env())
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode("utf-8", "replace")[-4000:])
        raise SystemExit("discovery failed")
    catalog = json.loads(done.stdout)
    # Content streams are the ones whose rows come from files (their key names the file and the row).
    streams = catalog["streams"]
    content = [s["tap_stream_id"] for s in streams if "_sdc_row_number" in s["schema"]["properties"]]
    if len(content) != 1:
        raise SystemExit(f"expected one content stream, discovery found {content}")
    for stream in catalog["streams"]:
        for entry in stream.get("metadata", []):
            if entry.get("breadcrumb") == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == content[0]
    path = directory / "catalog.json"
    path.write_text(json.dumps(catalog))
    return path, content[0]


def run_variants(path: Path, rows: int, sdk_path: bool, repeat: int) -> list[Result]:
    """Discovery, one untimed tap run (rows checked, template kept), then rounds of every variant.

    Each round runs baseline, floor and tap to /dev/null, then floor and tap through a pipe, so a
    round's runs see the same background load: each ratio is the median of the rounds' ratios.
    """
    from sequentum_emulator import Sandbox

    sandbox = Sandbox(seed_demo=False).start()
    try:
        agent = sandbox.add_agent(AGENT_NAME)
        sandbox.add_run(agent["id"], status=9, files=[(FILE_NAME, path)])  # a Path: streamed from disk
        with tempfile.TemporaryDirectory(prefix="tap-sequentum-bench-") as tmp:
            directory = Path(tmp)
            common = (sandbox.base_url, sandbox.api_key, agent["id"])
            fast = write_config(directory, "fast.json", *common)
            catalog, stream = discover(fast, directory)
            print(f"content stream {stream}: {describe_schema(catalog, stream)}", flush=True)
            bench = Bench(path, rows, fast, catalog, first_record(fast, catalog, stream, rows, directory))
            rounds = []
            for _ in range(repeat):
                rounds.append(
                    {
                        (BASELINE, DEVNULL): bench.baseline(),
                        (FLOOR, DEVNULL): bench.floor(DEVNULL),
                        (TAP, DEVNULL): bench.tap(DEVNULL),
                        (FLOOR, PIPE): bench.floor(PIPE),
                        (TAP, PIPE): bench.tap(PIPE),
                    }
                )
            results = summarise(rounds)
            for result in results:
                print(_line(result), flush=True)
            if sdk_path:
                slow = write_config(directory, "sdk.json", *common, content_fast_path=False)
                # Once: at ~25k rows/s it takes minutes, and noise is small against that.
                results.append(bench.tap(DEVNULL, slow, SDK_PATH))
                print(_line(results[-1]), flush=True)
    finally:
        sandbox.stop()
    baseline = _find(results, BASELINE, DEVNULL)
    for result in results:
        if result.ratio_to_floor is None:  # against the floor with stdout going the same way
            result.ratio_to_floor = round(_find(results, FLOOR, result.sink).seconds / result.seconds, 3)
        if result.sink == DEVNULL and result.ratio_to_baseline is None:
            result.ratio_to_baseline = round(baseline.seconds / result.seconds, 3)
    return results


def summarise(rounds: list[dict[tuple[str, str], Result]]) -> list[Result]:
    """Medians per variant and sink; the tap's ratios are the medians of each round's own ratios."""
    results = {key: median_of([r[key] for r in rounds]) for key in rounds[0]}
    for sink in (DEVNULL, PIPE):
        tap = results[TAP, sink]
        tap.ratio_to_floor = round(median([r[FLOOR, sink].seconds / r[TAP, sink].seconds for r in rounds]), 3)
        cpu = [(r[FLOOR, sink].cpu_seconds or 0) / (r[TAP, sink].cpu_seconds or 1) for r in rounds]
        tap.cpu_ratio_to_floor = round(median(cpu), 3)
    results[TAP, DEVNULL].ratio_to_baseline = round(
        median([r[BASELINE, DEVNULL].seconds / r[TAP, DEVNULL].seconds for r in rounds]), 3
    )
    return list(results.values())


def describe_schema(catalog: Path, stream: str) -> str:
    """The inferred data column types, so a change in inference (hence in cost) shows in the output."""
    entry = next(s for s in json.loads(catalog.read_text())["streams"] if s["tap_stream_id"] == stream)
    parts = []
    for name, prop in entry["schema"]["properties"].items():
        if not name.startswith("_sdc_"):
            kind = [t for t in prop.get("type", []) if t != "null"]
            parts.append(f"{name}={prop.get('format') or '/'.join(kind)}")
    return ", ".join(parts)


# -- the children: baseline, floor, reader ---------------------------------------------------------


def _text_batches(path: Path, block_size: int) -> Iterator:
    """The CSV as Arrow batches with every column a string and only "" missing (as the tap reads it)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    with path.open(newline="", encoding="utf-8") as handle:
        names = next(csv.reader(handle))
    return pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(block_size=block_size, column_names=names, skip_rows=1),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
        ),
    )


def baseline_child(path: Path) -> None:
    """Issue 9's baseline: pyarrow (all text) and msgspec encoding a dict per row, with the same six
    `_sdc_` keys the tap wrote then. Slower than the floor: kept so older figures stay comparable."""
    import msgspec

    reader = _text_batches(path, 4 << 20)
    names = reader.schema.names
    encoder = msgspec.json.Encoder()
    keys = [
        "_sdc_agent_id",
        "_sdc_run_id",
        "_sdc_run_created",
        "_sdc_file_id",
        "_sdc_file_name",
        "_sdc_row_number",
        *names,
    ]
    prefix = b'{"type":"RECORD","stream":"benchmark_products","record":'
    suffix = b',"time_extracted":"' + dt.datetime.now(dt.UTC).isoformat().encode() + b'"}\n'
    created = "2025-11-03T08:00:12Z"
    out = sys.stdout.buffer
    rows = 0
    for batch in reader:
        count = batch.num_rows
        meta = [[1] * count, [2] * count, [created] * count, [3] * count, [FILE_NAME] * count]
        columns = [column.to_pylist() for column in batch.columns]
        buffer = bytearray()
        for row in zip(*meta, range(rows + 1, rows + count + 1), *columns, strict=True):
            buffer += prefix
            encoder.encode_into(dict(zip(keys, row, strict=True)), buffer, -1)
            buffer += suffix
        out.write(buffer)
        rows += count
    out.flush()
    sys.stderr.write(f"rows written: {rows}\n")


def _values(key: str, value: object, columns: dict[str, int], cells: list, rows: int, count: int) -> object:
    """The values of one record key in a batch: a CSV column's cells, row numbers, or a constant."""
    if key in columns:
        return cells[columns[key]]
    if key == "_sdc_row_number":  # numbered from the template's first row on
        return range(int(value) + rows, int(value) + rows + count)  # type: ignore[call-overload]
    return itertools.repeat(value, count)


def floor_child(path: Path, template: Path) -> None:
    """The floor: pyarrow's streaming reader (every column a string) and msgspec writing the RECORD lines
    the tap writes, a batch at a time, from the file already on disk.

    The record keys, their order and the envelope come from the tap's own first record (`template`):
    a key naming a CSV column takes the cell (text, or null when empty), `_sdc_row_number` counts rows,
    any other key keeps the template's value, and `time_extracted` is the time of each batch. Each batch
    is encoded by one msgspec call over structs built in C (`map`): no Python code runs per row. Cells
    are written as text (no inference, no conversion), so numbers and booleans are quoted here.
    """
    import msgspec

    message = json.loads(template.read_text())
    reader = _text_batches(path, 1 << 20)
    columns = {name: i for i, name in enumerate(reader.schema.names)}
    template_record = list(message["record"].items())
    keys = [key for key, _ in template_record]
    fields = [f"f{i}" for i in range(len(keys))]  # keys need not be identifiers: renamed on output
    # gc=False: millions of short-lived structs that hold no cycles; tracking them costs a third of the time.
    record = msgspec.defstruct("Record", fields, rename=dict(zip(fields, keys, strict=True)), gc=False)
    outer = [f"m{i}" for i in range(len(message))]
    wrapper = msgspec.defstruct("Message", outer, rename=dict(zip(outer, message, strict=True)), gc=False)
    encoder = msgspec.json.Encoder()
    out = sys.stdout.buffer
    rows = 0
    repeat = itertools.repeat
    for batch in reader:
        count = batch.num_rows
        cells = [column.to_pylist() for column in batch.columns]
        values = [_values(key, first, columns, cells, rows, count) for key, first in template_record]
        records = map(record, *values)
        now = dt.datetime.now(dt.UTC).isoformat()
        parts = [
            records if key == "record" else repeat(now if key == "time_extracted" else value, count)
            for key, value in message.items()
        ]
        out.write(encoder.encode_lines(list(map(wrapper, *parts))))
        rows += count
    out.flush()
    sys.stderr.write(f"rows written: {rows}\n")


def reader_child(stream: str | None, first_record: Path | None) -> None:
    """Read stdin line by line as a target does; print the lines, RECORDs of `stream` and STATEs seen.

    With `first_record`, the first RECORD of `stream` is kept there (the floor's template).
    """
    lines = records = states = 0
    if stream is None:  # timed: read and count, nothing more
        for _ in sys.stdin.buffer:
            lines += 1
        print(f"lines {lines} records 0 states 0")
        return
    # Matched on the start of each line, with or without spaces after the colons.
    is_state = re.compile(rb'"type":\s*"STATE"').search
    is_record = re.compile(rb'"type":\s*"RECORD"').search
    of_stream = re.compile(rb'"stream":\s*' + re.escape(json.dumps(stream).encode())).search
    for line in sys.stdin.buffer:
        lines += 1
        head = line[:512]
        if is_state(head, 0, 64):
            states += 1
        elif is_record(head) and of_stream(head):
            if records == 0 and first_record is not None:
                first_record.write_text(json.dumps(json.loads(line)))
            records += 1
    print(f"lines {lines} records {records} states {states}")


# -- reporting -------------------------------------------------------------------------------------

_COLUMNS = (
    *("variant", "stdout", "rows", "seconds", "CPU s", "rows/s"),
    *("CSV MB/s", "peak MiB", "x floor", "x floor CPU", "x baseline"),
)


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _cells(result: Result) -> list[str]:
    return [
        result.variant,
        result.sink,
        f"{result.rows:,}",
        f"{result.seconds:.2f}",
        "" if result.cpu_seconds is None else f"{result.cpu_seconds:.2f}",
        f"{result.rows_per_s:,}",
        "" if result.csv_mb_per_s is None else f"{result.csv_mb_per_s:.0f}",
        f"{result.peak_rss_mib:.0f}",
        _ratio(result.ratio_to_floor),
        _ratio(result.cpu_ratio_to_floor),
        _ratio(result.ratio_to_baseline),
    ]


def _line(result: Result) -> str:
    spread = f" (runs: {', '.join(f'{s:.2f}' for s in result.all_seconds)} s)" if result.all_seconds else ""
    return "  " + " | ".join(_cells(result)) + spread


def table(results: list[Result]) -> str:
    rows = [list(_COLUMNS), *(_cells(r) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = []
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def save(results: list[Result], rows: int, path: Path, csv_path: Path, loads: tuple[float, float]) -> None:
    """Merge this run into the results file, keyed by row count, so 1M and 5M runs sit side by side."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data["method"] = (
        "Child processes, interleaved in rounds (baseline, floor, tap to /dev/null; floor, tap through a "
        "pipe to a process reading it line by line); times are medians, ratios (floor or baseline seconds "
        "/ these seconds) the medians of each round's ratio. See benchmarks/README.md. Entries dated "
        "2026-12-01 are issue 9's method: baseline and tap to /dev/null only."
    )
    data.setdefault("runs", {})[str(rows)] = {
        "date": dt.date.today().isoformat(),
        "csv_bytes": csv_path.stat().st_size,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_start": loads[0],
            "load_average_at_end": loads[1],
            **package_versions("singer-sdk", "pyarrow", "msgspec"),
        },
        "results": [asdict(r) for r in results],
    }
    data["runs"] = dict(sorted(data["runs"].items(), key=lambda item: int(item[0])))
    path.write_text(json.dumps(data, indent=2) + "\n")


# -- entry point -----------------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text.replace("_", ""))
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _row_counts(text: str) -> list[int]:
    return [_positive(part) for part in text.split(",") if part.strip()]


def _find(results: list[Result], variant: str, sink: str) -> Result:
    return next(r for r in results if r.variant == variant and r.sink == sink)


def verdict(results: list[Result]) -> str:
    """The fast path against the floor (both sinks) and against issue 9's targets."""
    tap, piped = _find(results, TAP, DEVNULL), _find(results, TAP, PIPE)
    ratio = tap.ratio_to_baseline or 0.0
    fast = "ok" if ratio >= TARGET_RATIO else "MISSED"
    small = "ok" if tap.peak_rss_mib <= TARGET_RSS_MIB else "MISSED"
    return (
        f"{tap.rows:,} rows: tap {_ratio(tap.ratio_to_floor)} x floor to /dev/null, "
        f"{_ratio(piped.ratio_to_floor)} x floor through a pipe (CPU time: {_ratio(tap.cpu_ratio_to_floor)}, "
        f"{_ratio(piped.cpu_ratio_to_floor)}); {ratio:.2f} x baseline "
        f"(issue 9 target >= {TARGET_RATIO}: {fast}), peak RSS {tap.peak_rss_mib:.0f} MiB "
        f"(target <= {TARGET_RSS_MIB}: {small})"
    )


def flatness(fast: list[Result]) -> str:
    """Peak RSS of the fast path across file sizes: flat means the spread is small against the peak."""
    peaks = ", ".join(f"{r.rows:,} rows {r.peak_rss_mib:.0f} MiB" for r in fast)
    spread = max(r.peak_rss_mib for r in fast) - min(r.peak_rss_mib for r in fast)
    return f"memory flatness (tap, fast path): {peaks}; spread {spread:.0f} MiB"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        type=_row_counts,
        default=[DEFAULT_ROWS],
        help=f"rows in the CSV, or several separated by commas (default {DEFAULT_ROWS:,})",
    )
    parser.add_argument(
        "--flatness",
        action="store_true",
        help="--rows " + ",".join(map(str, FLATNESS_ROWS)) + ": is peak memory flat as files grow?",
    )
    parser.add_argument(
        "--sdk-path",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"also time content_fast_path=false (default: only up to {SDK_PATH_MAX_ROWS:,} rows)",
    )
    parser.add_argument(
        "--repeat",
        type=_positive,
        default=3,
        help="runs of the baseline and the fast path; the median counts (default 3; the SDK path runs once)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="results JSON (merged by row count)")
    parser.add_argument("--baseline-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--floor-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reader-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--template", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stream", help=argparse.SUPPRESS)
    parser.add_argument("--first-record", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.baseline_child is not None:
        baseline_child(args.baseline_child)
        return
    if args.floor_child is not None:
        floor_child(args.floor_child, args.template)
        return
    if args.reader_child:
        reader_child(args.stream, args.first_record)
        return
    sys.path.insert(0, str(ROOT))  # run from a checkout even if the package is not installed
    counts = list(FLATNESS_ROWS) if args.flatness else args.rows
    verdicts, fast = [], []
    for rows in counts:
        load = load_average()
        path = product_csv(rows)
        print(f"{path.name}: {rows:,} rows, {path.stat().st_size / 1e6:.1f} MB; load {load}", flush=True)
        sdk_path = args.sdk_path if args.sdk_path is not None else rows <= SDK_PATH_MAX_ROWS
        results = run_variants(path, rows, sdk_path, args.repeat)
        print()
        print(table(results))
        print()
        save(results, rows, args.output, path, (load, load_average()))
        fast.append(_find(results, TAP, DEVNULL))
        verdicts.append(verdict(results) + f"; load {load} -> {load_average()}")
    print("\n".join(verdicts))
    if len(fast) > 1:
        print(flatness(fast))
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"\nresults written to {shown}")


if __name__ == "__main__":
    main()
