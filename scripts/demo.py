"""`./scripts/demo`: a full sync of the bare tap into a local file, then an incremental one, summarised.

Without TAP_SEQUENTUM_API_KEY it starts the bundled sandbox and syncs from it; with the key set it syncs
from Sequentum Cloud (or TAP_SEQUENTUM_BASE_URL). The key travels to the tap through the environment only.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path


def run_tap(env: dict[str, str], output: Path, state: Path | None) -> dict | None:
    """Run the tap once, writing its Singer messages to `output`; returns the last STATE value."""
    cmd = [sys.executable, "-m", "tap_sequentum.tap", "--config", "ENV"]
    if state is not None and state.exists():
        cmd += ["--state", str(state)]
    with output.open("wb") as out:
        proc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.PIPE, check=False)  # noqa: S603
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        sys.stderr.write((lines[-1] if lines else "the tap failed") + "\n")
        raise SystemExit(proc.returncode)
    last_state = None
    for message in read_messages(output):
        if message.get("type") == "STATE":
            last_state = message["value"]
    return last_state


def read_messages(path: Path) -> Iterable[dict]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def summarize(messages: Iterable[dict]) -> str:
    """A one-screen table: records per stream, run statuses, file types, a few agent names."""
    counts: collections.Counter[str] = collections.Counter()
    statuses: collections.Counter[str] = collections.Counter()
    file_types: collections.Counter[str] = collections.Counter()
    agents: list[str] = []
    for message in messages:
        if message.get("type") != "RECORD":
            continue
        stream, record = message["stream"], message["record"]
        counts[stream] += 1
        if stream == "runs":
            statuses[str(record.get("status_name"))] += 1
        elif stream == "run_files":
            file_types[str(record.get("file_type_name"))] += 1
        elif stream == "agents" and len(agents) < 8:
            agents.append(str(record.get("name")))
    width = max((len(s) for s in counts), default=6)
    lines = [f"  {stream:<{width}}  {n:>7,d} records" for stream, n in sorted(counts.items())]
    if not lines:
        lines = ["  (no records)"]
    if agents:
        lines.append("  agents: " + ", ".join(agents))
    if statuses:
        lines.append("  runs by status: " + ", ".join(f"{k} {v}" for k, v in statuses.most_common()))
    if file_types:
        lines.append("  files by type: " + ", ".join(f"{k} {v}" for k, v in file_types.most_common()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__)
    parser.add_argument("--output-dir", default="output", help="where records and state go")
    args = parser.parse_args(argv)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    with ExitStack() as stack:
        if env.get("TAP_SEQUENTUM_API_KEY"):
            where = env.get("TAP_SEQUENTUM_BASE_URL", "Sequentum Cloud")
        else:
            from sequentum_emulator import Sandbox

            sandbox = stack.enter_context(Sandbox(redirect_downloads=True, realities=True))
            env["TAP_SEQUENTUM_API_KEY"] = sandbox.api_key
            env["TAP_SEQUENTUM_BASE_URL"] = sandbox.base_url
            where = f"the bundled sandbox at {sandbox.base_url} (set TAP_SEQUENTUM_API_KEY for the real API)"
        print(f"Syncing from {where}")
        state_path = out_dir / "state.json"
        state_path.unlink(missing_ok=True)
        for label, name in (("Full sync", "full"), ("Incremental sync with its state", "incremental")):
            output = out_dir / f"{name}.singer.jsonl"
            started = time.monotonic()
            state = run_tap(env, output, state_path)
            seconds = time.monotonic() - started
            if state is not None:
                state_path.write_text(json.dumps(state, indent=2))
            print(f"\n{label}: {seconds:.1f} s -> {output}")
            print(summarize(read_messages(output)))
        print(f"\nState for the next sync: {state_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
