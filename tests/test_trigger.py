"""Trigger-then-extract: the tap starts agents, waits, and extracts their new runs in the same sync."""

from __future__ import annotations

import json
import logging

import pytest
from support import config_for, run_cli, sync, write_json

from sequentum_emulator import Sandbox
from tap_sequentum.errors import TriggerError
from tap_sequentum.trigger import ended_badly, run_triggers


@pytest.fixture
def quick_sandbox():
    with Sandbox(run_duration=0.6) as sandbox:
        yield sandbox


def test_triggered_run_is_extracted_by_the_same_sync(quick_sandbox):
    before = {r["id"] for r in sync(config_for(quick_sandbox, agent_ids=[1001])).records["runs"]}
    quick_sandbox.clear_requests()
    config = config_for(
        quick_sandbox,
        agent_ids=[1001],
        trigger=[{"agent_id": 1001, "input_parameters": {"region": "EU"}, "timeout": 30}],
        trigger_poll_interval=1,
    )
    result = sync(config)
    starts = [r for r in quick_sandbox.requests if r.method == "POST" and r.path.endswith("/start")]
    assert len(starts) == 1
    new_runs = [r for r in result.records["runs"] if r["id"] not in before]
    assert len(new_runs) == 1
    assert new_runs[0]["status_name"] == "Completed"
    rows = [r for r in result.records["steam"] if r["_sdc_run_id"] == new_runs[0]["id"]]
    assert rows
    assert any(f["run_id"] == new_runs[0]["id"] for f in result.records["run_files"])


def test_a_run_that_does_not_finish_in_time_fails_the_sync(tmp_path):
    with Sandbox(run_duration=60) as sandbox:
        config = config_for(
            sandbox, agent_ids=[1001], trigger=[{"agent_id": 1001, "timeout": 0.3}], trigger_poll_interval=1
        )
        proc = run_cli(["--config", str(write_json(tmp_path / "c.json", config))])
        assert proc.returncode == 1
        last = proc.stderr.strip().splitlines()[-1]
        assert "is still" in last
        assert "trigger_fail_on_error" in last
        assert not [line for line in proc.stdout.splitlines() if '"RECORD"' in line]

        lenient = write_json(tmp_path / "l.json", {**config, "trigger_fail_on_error": False})
        proc = run_cli(["--config", str(lenient)])
        assert proc.returncode == 0, proc.stderr
        assert "Extracting anyway" in proc.stderr
        messages = [json.loads(line) for line in proc.stdout.splitlines()]
        runs = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "runs"]
        assert any(r["status_name"] in ("Running", "Queuing") for r in runs)


class FakeRuns:
    """A stand-in for the API whose runs end in a given status (pure classification logic only)."""

    def __init__(self, final_status: int) -> None:
        self.final_status = final_status

    def start_agent(self, agent_id, body):
        return {"id": 7, "status": 4}

    def get_run(self, agent_id, run_id):
        return {"id": run_id, "status": self.final_status, "message": "proxy pool exhausted"}


@pytest.mark.parametrize(
    ("status", "ok"), [(9, True), (10, True), (7, False), (6, False), (8, False), (11, False)]
)
def test_only_completed_or_success_counts(status, ok):
    logger = logging.getLogger("test")
    if ok:
        assert run_triggers(FakeRuns(status), [{"agent_id": 1}], logger=logger, poll_interval=0.01)
        return
    with pytest.raises(TriggerError, match=r"Triggered run 7 of agent 1 ended .*proxy pool exhausted"):
        run_triggers(FakeRuns(status), [{"agent_id": 1}], logger=logger, poll_interval=0.01)
    finished = run_triggers(FakeRuns(status), [{"agent_id": 1}], logger=logger, fail_on_error=False)
    assert finished[0]["status"] == status


class FailsSecond(FakeRuns):
    def start_agent(self, agent_id, body):
        if agent_id == 2:
            from tap_sequentum import errors

            raise errors.NotFoundError("Sequentum answered 404 Not Found for start agent 2: check the id.")
        return {"id": 7, "status": 4}


def test_a_failed_start_names_the_runs_already_started():
    with pytest.raises(
        TriggerError, match=r"Already started and still running on Sequentum: run 7 of agent 1"
    ):
        run_triggers(FailsSecond(9), [{"agent_id": 1}, {"agent_id": 2}], logger=logging.getLogger("t"))


class NeverFinishes(FakeRuns):
    def get_run(self, agent_id, run_id):
        return {"id": run_id, "status": 1}


def test_timeout_zero_is_honoured_and_counts_from_the_start():
    with pytest.raises(TriggerError, match="is still Running"):
        run_triggers(
            NeverFinishes(1), [{"agent_id": 1, "timeout": 0}], logger=logging.getLogger("t"), poll_interval=5
        )


def test_a_stop_request_abandons_the_wait_and_names_the_run():
    def stop(detail: str) -> None:
        raise RuntimeError("stopped" + detail)

    with pytest.raises(RuntimeError, match=r"waiting for triggered run 7 of agent 1.*sequentum stop 1 7"):
        run_triggers(NeverFinishes(1), [{"agent_id": 1}], logger=logging.getLogger("t"), should_stop=stop)


@pytest.mark.parametrize(
    ("final", "problem"),
    [
        ({"status": 9}, None),
        ({"status": 10}, None),
        ({"status": 7}, "Triggered run 7 of agent 1 ended Failed (7)."),
        (
            {"status": 8, "message": "Stopped by user"},
            "Triggered run 7 of agent 1 ended Stopped (8): Stopped by user.",
        ),
    ],
)
def test_ended_badly_names_the_run_and_its_message(final, problem):
    assert ended_badly(1, 7, final) == problem
