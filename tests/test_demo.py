"""`./scripts/demo`, the demo without Meltano: it syncs from the sandbox twice and summarises."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

# scripts/demo.py is a script of this repository, not a module of the tap's wheel.
_SPEC = importlib.util.spec_from_file_location("demo", Path(__file__).parents[1] / "scripts" / "demo.py")
assert _SPEC is not None and _SPEC.loader is not None
demo = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(demo)


def test_demo_runs_a_full_then_an_incremental_sync(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TAP_SEQUENTUM_API_KEY", raising=False)
    assert demo.main(["--output-dir", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "Full sync" in shown
    assert "Incremental sync" in shown
    full = list(demo.read_messages(tmp_path / "full.singer.jsonl"))
    incremental = list(demo.read_messages(tmp_path / "incremental.singer.jsonl"))
    full_runs = [m for m in full if m["type"] == "RECORD" and m["stream"] == "runs"]
    again = [m["record"] for m in incremental if m["type"] == "RECORD" and m["stream"] == "runs"]
    assert len(full_runs) > len(again)
    assert all(not r["is_finished"] for r in again)
    state = json.loads((tmp_path / "state.json").read_text())
    assert "runs" in state["bookmarks"]


def test_summary_counts_records_per_stream():
    messages = [
        {"type": "RECORD", "stream": "runs", "record": {"status_name": "Completed"}},
        {"type": "RECORD", "stream": "runs", "record": {"status_name": "Running"}},
        {"type": "RECORD", "stream": "agents", "record": {"name": "steam"}},
        {"type": "STATE", "value": {}},
    ]
    text = demo.summarize(messages)
    assert re.search(r"runs\s+2 records", text)
    assert re.search(r"agents\s+1 records", text)
    assert "agents: steam" in text
    assert "Completed 1" in text
    assert "Running 1" in text
