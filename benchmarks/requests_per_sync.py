"""How many API requests a sync makes, by endpoint, for a full and an unchanged incremental sync.

Why: Sequentum allows 100 requests per 60 s per key. Knowing the requests per sync tells how often a
job can run and how many parallel shards one key can serve. Runs against the bundled sandbox's demo
data (6 agents, 26 runs, 21 data files), with a cached catalog as Meltano uses.

    .venv/bin/python benchmarks/requests_per_sync.py
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import re
import sys

from tap_sequentum.sandbox import Sandbox
from tap_sequentum.tap import TapSequentum

_KINDS = [
    ("agent list", r"/agent/all$"),
    ("agent detail", r"/agent/\d+$"),
    ("versions", r"/versions$"),
    ("runs list", r"/runs$"),
    ("file list", r"/files$"),
    ("download", r"/download$"),
]


def classify(path: str) -> str:
    return next((name for name, pattern in _KINDS if re.search(pattern, path)), path)


def run(config: dict, catalog: dict, state: dict | None) -> dict | None:
    """One in-process sync; returns the last STATE."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        TapSequentum(config=config, catalog=catalog, state=state).sync_all()
    states = [json.loads(line)["value"] for line in out.getvalue().splitlines() if '"STATE"' in line]
    return states[-1] if states else None


def main() -> None:
    with Sandbox() as sandbox:
        config = {"api_key": sandbox.api_key, "base_url": sandbox.base_url}
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            catalog = json.loads(TapSequentum(config=config, setup_mapper=False).run_discovery())
        rows = []
        state = None
        for label in ("full sync", "unchanged incremental sync"):
            sandbox.clear_requests()
            state = run(config, catalog, state)
            counts = collections.Counter(classify(r.path) for r in sandbox.requests if r.host == "api")
            rows.append((label, counts))
    kinds = [name for name, _ in _KINDS]
    print("requests per sync (6 agents, 26 runs, 21 data files; catalog given)")
    print(f"{'sync':<28}" + "".join(f"{k:>14}" for k in kinds) + f"{'total':>8}")
    for label, counts in rows:
        print(f"{label:<28}" + "".join(f"{counts[k]:>14}" for k in kinds) + f"{sum(counts.values()):>8}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
