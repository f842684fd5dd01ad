"""Metadata streams against the sandbox: records, parent ids, and exact incremental state."""

from __future__ import annotations

import json

import pytest
from support import SyncResult, config_for, handled_by, parse_messages, run_cli, sync, write_json

from tap_sequentum.client import SequentumClient
from tap_sequentum.domain import is_finished


@pytest.fixture(scope="module")
def demo_sync(demo_sandbox) -> SyncResult:
    """One full sync of the demo data, shared by the tests that only read what it emitted."""
    return sync(config_for(demo_sandbox))


def test_agents_merge_detail_fields_and_drop_the_sentinel(demo_sandbox, demo_sync):
    result = demo_sync
    agents = result.records["agents"]
    listed = SequentumClient(demo_sandbox.api_key, demo_sandbox.base_url).get_json("agent/all", what="agents")
    assert sorted(a["id"] for a in agents) == sorted(a["id"] for a in listed)
    for agent in agents:
        assert agent["created"] and not agent["created"].startswith("0001"), agent
        assert agent["updated"] and not agent["updated"].startswith("0001"), agent
        assert agent["created"].endswith("Z")
    assert any(agent["startUrl"] for agent in agents)


def test_every_record_carries_its_parents_ids(demo_sync):
    result = demo_sync
    agent_ids = set(result.ids("agents"))
    runs = result.records["runs"]
    assert runs and {r["agent_id"] for r in runs} <= agent_ids
    assert all(r["configId"] == r["agent_id"] for r in runs)
    run_keys = {(r["agent_id"], r["id"]) for r in runs}
    files = result.records["run_files"]
    assert files and all((f["agent_id"], f["run_id"]) in run_keys for f in files)
    versions = result.records["agent_versions"]
    assert versions and {v["agent_id"] for v in versions} == agent_ids


def test_names_beside_codes(demo_sync):
    result = demo_sync
    for run in result.records["runs"]:
        assert run["status_name"], run
        assert run["is_finished"] is is_finished(run["status"])
    assert {"Completed", "Running"} <= {r["status_name"] for r in result.records["runs"]}
    files = result.records["run_files"]
    assert {"DeliveredFile", "LogText"} <= {f["file_type_name"] for f in files}
    assert all(f["extension"] == f["name"].rsplit(".", 1)[-1].lower() for f in files)


def test_agent_ids_limits_the_sync(demo_sandbox, demo_sync):
    everything = demo_sync
    chosen = sorted(everything.ids("agents"))[:2]
    result = sync(config_for(demo_sandbox, agent_ids=chosen))
    assert sorted(result.ids("agents")) == chosen
    assert {r["agent_id"] for r in result.records["runs"]} <= set(chosen)


def _running_run(sandbox) -> tuple[int, int]:
    client = SequentumClient(sandbox.api_key, sandbox.base_url)
    for agent in client.list_agents():
        for run in client.list_runs(agent["id"]):
            if run["status"] == 1:
                return agent["id"], run["id"]
    raise AssertionError("the demo data has no running run")


def test_incremental_emits_new_runs_and_finished_ones_once(sandbox):
    config = config_for(sandbox)
    first = sync(config)
    assert first.state
    agent_id, running_id = _running_run(sandbox)
    assert running_id in first.ids("runs")

    new_run = sandbox.add_run(agent_id, status=9, files=[("fresh.csv", b"a,b\n1,2\n")])
    sandbox.set_run_status(agent_id, running_id, 9, files=[("late.csv", b"a,b\n3,4\n")])

    still_unfinished = {r["id"] for r in first.records["runs"] if not r["is_finished"]} - {running_id}
    second = sync(config, state=first.state)
    assert sorted(second.ids("runs")) == sorted({new_run["id"], running_id} | still_unfinished)
    finished = next(r for r in second.records["runs"] if r["id"] == running_id)
    assert finished["status_name"] == "Completed"
    assert {f["name"] for f in second.records["run_files"]} >= {"fresh.csv", "late.csv"}

    third = sync(config, state=second.state)
    assert set(third.ids("runs")) == still_unfinished


def test_still_running_runs_are_re_emitted_until_they_finish(sandbox):
    config = config_for(sandbox)
    first = sync(config)
    _, running_id = _running_run(sandbox)
    second = sync(config, state=first.state)
    unfinished = {r["id"] for r in first.records["runs"] if not r["is_finished"]}
    assert running_id in unfinished
    assert set(second.ids("runs")) == unfinished
    finished_before = {r["id"] for r in first.records["runs"] if r["is_finished"]}
    assert not finished_before & set(second.ids("runs"))


def test_state_is_per_agent_and_holds_no_secret(sandbox):
    result = sync(config_for(sandbox))
    partitions = result.state["bookmarks"]["runs"]["partitions"]
    assert {p["context"]["agent_id"] for p in partitions} == set(result.ids("agents"))
    for partition in partitions:
        assert partition["replication_key"] == "created"
        assert partition["replication_key_value"].endswith("Z")
    text = json.dumps(result.state)
    assert sandbox.api_key not in text
    assert "progress_markers" not in text
    assert "run_files" not in result.state["bookmarks"] or "partitions" not in json.dumps(
        result.state["bookmarks"]["run_files"]
    )


def test_start_date_skips_older_runs(demo_sandbox, demo_sync):
    everything = demo_sync
    dates = sorted(r["created"] for r in everything.records["runs"])
    cutoff = dates[len(dates) // 2]
    result = sync(config_for(demo_sandbox, start_date=cutoff))
    assert result.records["runs"]
    assert all(r["created"] >= cutoff for r in result.records["runs"])
    assert len(result.records["runs"]) < len(everything.records["runs"])


def test_gap_is_reported_when_older_runs_cannot_be_listed(sandbox, caplog):
    config = config_for(sandbox)
    first = sync(config)
    agent_id = first.records["runs"][0]["agent_id"]
    for _ in range(3):
        sandbox.add_run(agent_id, status=9)
    with caplog.at_level("WARNING"):
        result = sync({**config, "runs_max_records": 2}, state=first.state)
    assert len([r for r in result.records["runs"] if r["agent_id"] == agent_id]) >= 2
    messages = caplog.text + result.stderr
    assert f"Agent {agent_id}: all 2 listed runs are newer than the bookmark" in messages


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_batch_state_never_claims_a_run_whose_batch_was_not_written(sandbox, tmp_path, fmt):
    """run_files (a child of runs) writes BATCH and STATE per run while the runs already handed over still
    wait for their own BATCH: a STATE then must not count them as emitted, or a failed sync loses them."""
    agent = sandbox.add_agent("Batched runs")["id"]
    runs = [
        sandbox.add_run(agent, 9, f"2026-05-0{day}T00:00:00Z", files=[("batched_runs.csv", b"n\n1\n")])
        for day in (1, 2, 3)
    ]
    sandbox.add_fault(rf"/run/{runs[0]['id']}/files$", "503", times=1000)  # the oldest run's files fail
    batch_config = {"encoding": {"format": fmt}, "storage": {"root": f"file://{tmp_path}"}}
    config = config_for(sandbox, agent_ids=[agent], content_streams=False, max_retries=0)
    path = write_json(tmp_path / "c.json", {**config, "batch_config": batch_config})
    proc = run_cli(["--config", str(path)])
    assert proc.returncode == 1
    messages = parse_messages(proc.stdout)
    assert not [m for m in messages if m["type"] == "BATCH" and m["stream"] == "runs"]  # none was written
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    assert states  # run_files' batches were written, each followed by a STATE
    for state in states:
        for partition in state["bookmarks"].get("runs", {}).get("partitions", []):
            assert not handled_by(partition, runs), partition

    sandbox.clear_faults()
    resumed = sync(config, state=states[-1])
    assert sorted(resumed.ids("runs")) == sorted(run["id"] for run in runs)
