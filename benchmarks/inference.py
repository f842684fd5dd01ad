"""Time type inference alone (`infer_batch`, pass 1) over the big benchmark CSV, read once into memory.

    .venv/bin/python benchmarks/inference.py                    # 2M rows, 5 runs, median
    .venv/bin/python benchmarks/inference.py --against OLD.py   # alternate with another infer.py (A/B)

The file is `run.py`'s product CSV, read as the tap reads it (pyarrow, 256 KiB blocks, every column text,
only "" null); reading is outside the timing. `--against` loads another copy of
`tap_sequentum/contents/infer.py` (e.g. `git show HEAD~1:tap_sequentum/contents/infer.py > /tmp/old.py`)
and times both in turn, so both see the same load; both must infer the same kinds.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

import pyarrow as pa
import pyarrow.csv as pa_csv
from children import ROOT, load_average, median
from run import DEFAULT_ROWS, product_csv

#: The tap's CSV block size (`ReadOptions.block_size`): inference sees batches of this many bytes.
BLOCK_SIZE = 256 << 10


def read_text_batches(path: Path) -> list[pa.RecordBatch]:
    with path.open(encoding="utf-8") as handle:
        names = handle.readline().rstrip("\n").split(",")
    reader = pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(block_size=BLOCK_SIZE, column_names=names, skip_rows=1),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    return list(reader)


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"infer_{abs(hash(path))}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def time_inference(module: ModuleType, batches: list[pa.RecordBatch]) -> tuple[float, dict[str, str]]:
    kinds: dict = {}
    started = time.perf_counter()
    for batch in batches:
        module.infer_batch(batch, kinds)
    return time.perf_counter() - started, {name: kind.value for name, kind in kinds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another infer.py to time in turn with this one")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    path = product_csv(args.rows)
    batches = read_text_batches(path)
    print(f"{path.name}: {len(batches)} batches of {BLOCK_SIZE >> 10} KiB; load {load_average()}")
    variants = {"this": load(ROOT / "tap_sequentum" / "contents" / "infer.py")}
    if args.against:
        variants[str(args.against)] = load(args.against)
    times: dict[str, list[float]] = {name: [] for name in variants}
    kinds = {}
    for _ in range(args.repeat):
        for name, module in variants.items():
            seconds, kinds[name] = time_inference(module, batches)
            times[name].append(seconds)
    for name, seconds in times.items():
        runs = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"{name}: median {median(seconds):.2f} s (runs: {runs}); {kinds[name]}")
    if len({str(k) for k in kinds.values()}) > 1:
        raise SystemExit("the two inferred different kinds")
    if args.against:
        this, other = (median(times[name]) for name in variants)
        print(f"this / other: {this / other:.2f}; load {load_average()}")


if __name__ == "__main__":
    main()
