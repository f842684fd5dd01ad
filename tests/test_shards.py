"""Sharding an organisation (docs/large-organisations.md): `agent_ids` shards run in parallel, each with its
own state, add up to one whole sync: the same rows, none twice, under the same stream names."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from support import config_for, environment, parse_messages, run_cli, write_json

from sequentum_emulator import Sandbox

SHARDS = ([1001, 1002, 1003], [1004, 1005, 1006], [1007, 1008, 1009])
KEYS = {
    "agents": ("id",),
    "agent_versions": ("agent_id", "version"),
    "runs": ("id",),
    "run_files": ("id",),
    "file_errors": ("file_id", "stream"),
    "run_costs": ("runId",),
    "credit_transactions": ("id",),
    "spaces": ("id",),
    "schedules": ("id",),
}
#: Streams of the organisation as a whole, not of its agents: every shard has them all (select them in one).
ORGANISATION_WIDE = {"credit_transactions", "spaces"}
VOLATILE = {"time_extracted"}
TAP = [sys.executable, "-m", "tap_sequentum.tap"]


def rows(stdout: str) -> list[tuple]:
    """(stream, key, record) of every RECORD; content streams are keyed by file and row."""
    out = []
    for message in parse_messages(stdout):
        if message["type"] != "RECORD":
            continue
        record = message["record"]
        names = KEYS.get(message["stream"], ("_sdc_file_id", "_sdc_row_number"))
        key = tuple(record[name] for name in names)
        out.append((message["stream"], key, json.dumps(record, sort_keys=True, default=str)))
    return out


def discover(config_path: Path) -> Path:
    """Discovery as Meltano runs it; the catalog is written beside the config."""
    done = run_cli(["--config", str(config_path), "--discover"])
    assert done.returncode == 0, done.stderr
    return write_json(config_path.with_name("catalog.json"), json.loads(done.stdout))


def tap(config_path: Path, catalog_path: Path, *args: str) -> subprocess.Popen:
    """A sync as a process whose output is read while it runs."""
    argv = [*TAP, "--config", str(config_path), "--catalog", str(catalog_path), *args]
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment("TAP_SEQUENTUM_")
    )


def test_parallel_shards_add_up_to_one_whole_sync(tmp_path):
    with Sandbox(realities=True) as sandbox:
        whole_config = write_json(tmp_path / "whole.json", config_for(sandbox, discovery_sample_runs=10))
        catalog = discover(whole_config)
        shards = [
            tap(write_json(tmp_path / f"shard{i}.json", config_for(sandbox, agent_ids=ids)), catalog)
            for i, ids in enumerate(SHARDS)
        ]  # all three at once, on one key, as the scale-out section describes
        outputs = [shard.communicate(timeout=300) for shard in shards]
        whole = tap(whole_config, catalog).communicate(timeout=300)
    for shard, (_out, err) in zip(shards, outputs, strict=True):
        assert shard.returncode == 0, err
    for out, _ in outputs:
        assert {r for r in rows(out) if r[0] in ORGANISATION_WIDE} == {
            r for r in rows(whole[0]) if r[0] in ORGANISATION_WIDE
        }
    sharded = [row for out, _ in outputs for row in rows(out) if row[0] not in ORGANISATION_WIDE]
    expected = [row for row in rows(whole[0]) if row[0] not in ORGANISATION_WIDE]
    assert len(sharded) == len({(stream, key) for stream, key, _ in sharded}), "a row came from two shards"
    assert sorted(sharded) == sorted(expected)
    assert {s for s, _, _ in sharded} == {s for s, _, _ in expected}  # the same stream names
    for ids, (out, _) in zip(SHARDS, outputs, strict=True):  # each shard's state holds its agents only
        state = [m["value"] for m in parse_messages(out) if m["type"] == "STATE"][-1]
        agents = {p["context"]["agent_id"] for p in state["bookmarks"]["runs"]["partitions"]}
        assert agents == set(ids)


def test_killed_anywhere_and_resumed_from_its_last_state_nothing_is_lost(tmp_path):
    """SIGKILL (no chance to write anything) after n messages, then a sync from the last STATE seen:
    every row of the whole sync arrives; rows after that STATE may arrive twice, with the same key."""
    with Sandbox(realities=True) as sandbox:
        # An agent of each kind: CSV, two export tables, cp1252/UTF-16, XML.
        config = config_for(
            sandbox, agent_ids=[1001, 1007, 1008, 1009], discovery_sample_runs=10, max_retries=0
        )
        config_path = write_json(tmp_path / "c.json", config)
        catalog = discover(config_path)
        whole_run = run_cli(["--config", str(config_path), "--catalog", str(catalog)])
        output = whole_run.stdout
        whole = {(s, k) for s, k, _ in rows(output)}
        lines = output.count("\n")
        for cut in (5, lines // 3, lines * 4 // 5):  # early, in the middle, near the end
            proc = tap(config_path, catalog)
            assert proc.stdout is not None
            seen = [proc.stdout.readline() for _ in range(cut)]
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
            states = [m["value"] for m in parse_messages("".join(seen)) if m["type"] == "STATE"]
            state = write_json(tmp_path / f"state{cut}.json", states[-1] if states else {})
            resumed = run_cli(
                ["--config", str(config_path), "--catalog", str(catalog), "--state", str(state)]
            )
            rest = resumed.stdout
            assert resumed.returncode == 0, resumed.stderr
            got = {(s, k) for s, k, _ in rows("".join(seen[:-1]) + rest)}  # the cut line may be half
            assert got == whole, cut
