"""Throughput and memory benchmark of a content stream: one big CSV, end to end through the real tap.

Why this shape: the tap's cost is dominated by what it does per row (inference, conversion, encoding),
so the benchmark serves one large run file from the bundled sandbox over real HTTP and runs the tap
exactly as a scheduler would (a child process, stdout to /dev/null). A pyarrow + msgspec child that
only reads the CSV and encodes the same RECORD lines gives the floor to compare against, and the
singer-sdk per-record path (`content_fast_path: false`) shows what the fast path buys.

    .venv/bin/python benchmarks/run.py                  # 2M rows (issue 9's size): baseline and tap
    .venv/bin/python benchmarks/run.py --flatness       # 200k, 1M, 5M rows: memory must stay flat
    .venv/bin/python benchmarks/run.py --rows 1000000 --sdk-path   # also the singer-sdk per-record path

Wall time and peak RSS are those of each child process (`os.wait4`), interpreter start-up included;
times are medians of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
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
#: Issue 9's targets for the tap's fast path.
TARGET_RATIO = 0.6
TARGET_RSS_MIB = 200
AGENT_NAME = "Benchmark products"
FILE_NAME = "products.csv"

# Matches the tap's per-file log line; the count is what the tap says it emitted.
_DOWNLOADED = re.compile(r"Downloaded .*?: (\d+) bytes, (\d+) rows emitted in ([0-9.]+) s")
_BASELINE_ROWS = re.compile(r"baseline rows: (\d+)")


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
    """One timed child process."""

    variant: str
    rows: int
    seconds: float
    rows_per_s: float
    peak_rss_mib: float
    file_seconds: float | None = None  # the tap's own time for the file (download, infer, emit)
    ratio_to_baseline: float | None = None
    all_seconds: list[float] | None = None  # every run, when repeated: how noisy the median is
    cpu_seconds: float | None = None  # user + system of the median run; far below wall = it waited


def _result(variant: str, rows: int, child: Child, file_seconds: float | None = None) -> Result:
    return Result(
        variant=variant,
        rows=rows,
        seconds=round(child.seconds, 3),
        rows_per_s=round(rows / child.seconds),
        peak_rss_mib=round(child.peak_rss_kib / 1024, 1),
        file_seconds=file_seconds,
        cpu_seconds=round(child.cpu_seconds, 3),
    )


def median_of(results: list[Result]) -> Result:
    """The run of median time, with the highest peak RSS seen (memory is a bound)."""
    runs = sorted(results, key=lambda r: r.seconds)
    middle = runs[(len(runs) - 1) // 2]
    middle.seconds = round(median([r.seconds for r in runs]), 3)
    middle.rows_per_s = round(middle.rows / middle.seconds)
    middle.peak_rss_mib = max(r.peak_rss_mib for r in runs)
    middle.all_seconds = [r.seconds for r in runs]
    return middle


# -- variants --------------------------------------------------------------------------------------


def measure_baseline(path: Path, rows: int) -> Result:
    child = run_child([sys.executable, str(Path(__file__).resolve()), "--baseline-child", str(path)])
    found = _BASELINE_ROWS.search(child.stderr)
    emitted = int(found.group(1)) if found else -1
    if emitted != rows:
        raise SystemExit(f"baseline emitted {emitted} rows, the CSV has {rows}")
    return _result("baseline (pyarrow + msgspec)", rows, child)


def measure_tap(variant: str, config: Path, catalog: Path, rows: int) -> Result:
    """The tap to /dev/null; its per-file log line (when it still writes one) must count every row."""
    child = run_child(tap_argv("--config", str(config), "--catalog", str(catalog)))
    found = _DOWNLOADED.findall(child.stderr)
    if not found:
        return _result(variant, rows, child)  # file_seconds None: run_variants counts the rows instead
    emitted = sum(int(rows_emitted) for _, rows_emitted, _ in found)
    if emitted != rows:
        sys.stderr.write(child.stderr[-4000:])
        raise SystemExit(f"{variant}: the tap emitted {emitted} rows, the CSV has {rows}")
    return _result(variant, rows, child, round(sum(float(s) for _, _, s in found), 3))


def count_records(config: Path, catalog: Path, stream: str) -> int:
    """RECORD messages of `stream` from one more (untimed) run, its stdout kept in a temporary file."""
    prefix = json.dumps(stream).encode()
    with tempfile.TemporaryFile() as out:
        run_child(tap_argv("--config", str(config), "--catalog", str(catalog)), stdout=out)
        out.seek(0)
        return sum(1 for line in out if b'"RECORD"' in line[:64] and prefix in line[:256])


def check_rows(variant: str, config: Path, catalog: Path, stream: str, rows: int) -> None:
    emitted = count_records(config, catalog, stream)
    if emitted != rows:
        raise SystemExit(f"{variant}: the tap emitted {emitted} RECORD messages, the CSV has {rows} rows")
    print(f"  {variant}: {emitted:,} RECORD messages counted on stdout (no per-file log line)", flush=True)


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
    """Discovery first (it also warms the bytecode cache), then the baseline, the tap, the SDK path."""
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
            # Interleaved, so each pair sees the same background load; the ratio is the median pair's.
            pairs = []
            for _ in range(repeat):
                pairs.append(
                    (measure_baseline(path, rows), measure_tap("tap (fast path)", fast, catalog, rows))
                )
            results = [median_of([b for b, _ in pairs]), median_of([t for _, t in pairs])]
            ratio = round(median([b.seconds / t.seconds for b, t in pairs]), 3)
            for result in results:
                print(_line(result), flush=True)
            if results[-1].file_seconds is None:
                check_rows("tap (fast path)", fast, catalog, stream, rows)
            if sdk_path:
                slow = write_config(directory, "sdk.json", *common, content_fast_path=False)
                # Once: at ~25k rows/s it takes minutes, and noise is small against that.
                results.append(measure_tap("tap (singer-sdk path)", slow, catalog, rows))
                print(_line(results[-1]), flush=True)
                if results[-1].file_seconds is None:
                    check_rows("tap (singer-sdk path)", slow, catalog, stream, rows)
    finally:
        sandbox.stop()
    floor = results[0].rows_per_s
    for result in results:
        result.ratio_to_baseline = round(result.rows_per_s / floor, 3)
    results[1].ratio_to_baseline = ratio
    return results


def describe_schema(catalog: Path, stream: str) -> str:
    """The inferred data column types, so a change in inference (hence in cost) shows in the output."""
    entry = next(s for s in json.loads(catalog.read_text())["streams"] if s["tap_stream_id"] == stream)
    parts = []
    for name, prop in entry["schema"]["properties"].items():
        if not name.startswith("_sdc_"):
            kind = [t for t in prop.get("type", []) if t != "null"]
            parts.append(f"{name}={prop.get('format') or '/'.join(kind)}")
    return ", ".join(parts)


# -- the baseline child ----------------------------------------------------------------------------


def baseline_child(path: Path) -> None:
    """Read the CSV with pyarrow (all text) and write RECORD lines like the tap's, no types, no inference.

    The records carry the same six `_sdc_` keys as the tap's, so both encode the same shape.
    """
    import msgspec
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    with path.open(newline="", encoding="utf-8") as handle:
        names = next(csv.reader(handle))
    reader = pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(block_size=4 << 20, column_names=names, skip_rows=1),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
        ),
    )
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
    sys.stderr.write(f"baseline rows: {rows}\n")


# -- reporting -------------------------------------------------------------------------------------

_COLUMNS = ("variant", "rows", "seconds", "CPU s", "rows/s", "peak RSS MiB", "x baseline")


def _cells(result: Result) -> list[str]:
    ratio = "" if result.ratio_to_baseline is None else f"{result.ratio_to_baseline:.2f}"
    return [
        result.variant,
        f"{result.rows:,}",
        f"{result.seconds:.2f}",
        "" if result.cpu_seconds is None else f"{result.cpu_seconds:.2f}",
        f"{result.rows_per_s:,}",
        f"{result.peak_rss_mib:.0f}",
        ratio,
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
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def save(results: list[Result], rows: int, path: Path, csv_path: Path, load: float) -> None:
    """Merge this run into the results file, keyed by row count, so 1M and 5M runs sit side by side."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("runs", {})[str(rows)] = {
        "date": dt.date.today().isoformat(),
        "csv_bytes": csv_path.stat().st_size,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_start": load,
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


def verdict(result: Result) -> str:
    """The fast path against issue 9's targets."""
    ratio = result.ratio_to_baseline or 0.0
    fast = "ok" if ratio >= TARGET_RATIO else "MISSED"
    small = "ok" if result.peak_rss_mib <= TARGET_RSS_MIB else "MISSED"
    return (
        f"{result.rows:,} rows: {ratio:.2f} x baseline (target >= {TARGET_RATIO}: {fast}), "
        f"peak RSS {result.peak_rss_mib:.0f} MiB (target <= {TARGET_RSS_MIB}: {small})"
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
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.baseline_child is not None:
        baseline_child(args.baseline_child)
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
        save(results, rows, args.output, path, load)
        fast.append(results[1])
        verdicts.append(verdict(results[1]))
    print("\n".join(verdicts))
    if len(fast) > 1:
        print(flatness(fast))
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"\nresults written to {shown}")


if __name__ == "__main__":
    main()
