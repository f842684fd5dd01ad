"""Every listing the tap reads, in every order a server might use (newest first, oldest first, shuffled across
pages): a sync emits the same records and STATE as with Sequentum's documented orders, an incremental sync
too, and a sync stopped half-way (SIGTERM, or a request that keeps failing) resumes from its last STATE with
nothing lost and nothing twice. Over HTTP, against the sandbox serving each order."""

from __future__ import annotations

import datetime as dt
import json
import signal

import pytest
from support import SignalAfter, config_for, parse_messages, run_cli, sync, write_json

from sequentum_emulator import Sandbox
from sequentum_emulator import billing as sandbox_billing
from tap_sequentum.listings import order_of

ORDERS = ["newest-first", "oldest-first", "shuffled"]
START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("dates", "order"),
    [
        ([], "unknown"),
        (["2026-03-01T00:00:00Z"], "unknown"),
        (["2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z"], "unknown"),  # ties say nothing
        (["2026-03-02T00:00:00Z", "2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z"], "newest first"),
        (["2026-03-01T00:00:00Z", None, "2026-03-02T00:00:00Z"], "oldest first"),  # undated: skipped
        (["2026-03-02T00:00:00Z", "2026-03-01T00:00:00Z", "2026-03-03T00:00:00Z"], "unordered"),
    ],
)
def test_order_of(dates, order):
    assert order_of(at(d) if d else None for d in dates) == order


def comparable(stdout: str) -> list[dict]:
    """The messages of a sync without what depends on the moment it ran (time_extracted, when a file error
    was detected, when schedules were read)."""
    messages = []
    for message in parse_messages(stdout):
        message.pop("time_extracted", None)
        if message["type"] == "RECORD" and message["stream"] == "file_errors":
            message["record"].pop("detected_at", None)
        if message["type"] == "STATE":
            bookmarks = message["value"]["bookmarks"]
            bookmarks.pop("file_errors", None)
            for stream in bookmarks.values():  # when each runs list (or agent's schedules) was last read
                for partition in [stream, *stream.get("partitions", ())]:
                    partition.pop("checked_at", None)
                    partition.pop("read_at", None)
        messages.append(message)
    return messages


def billed(sandbox) -> list[int]:
    return sorted(run.id for run in sandbox.data.runs.values() if sandbox_billing.billed(run))


def test_a_sync_is_the_same_whatever_order_the_server_lists_in():
    """Agents, versions, runs (the run planner), files, content, run costs, credit history and spaces: the
    same records in the same order and the same STATE, in full and incrementally."""
    with Sandbox(realities=True) as sandbox:
        config = config_for(sandbox, runs_full_check_hours=0)  # every sync reads every runs list
        first = sync(config)
        assert sorted(first.ids("run_costs", "runId")) == billed(sandbox)
        assert len(first.ids("credit_transactions")) == len(set(first.ids("credit_transactions"))) > 100
        for order in ORDERS:
            sandbox.listing_order = order
            assert comparable(sync(config).stdout) == comparable(first.stdout), order

        sandbox.listing_order = "documented"
        sandbox.add_run(1001, files=[("steam.csv", b"rank,name\n1,Dota 2\n")])
        newest = max(run.created for run in sandbox.data.agent(1002).runs.values())
        sandbox.add_run(1002, created=newest - dt.timedelta(minutes=30))  # visible late: before the bookmark
        sandbox.add_run(1003, status=1)
        sandbox.data.add_credit("Adjustment", "1.5", "2026-12-31T00:00:00Z")
        second = sync(config, state=first.state)
        # the new final runs' costs; the new run's debit and the adjustment (the late run's debit is dated
        # before the credit history's bookmark)
        assert len(second.records["run_costs"]) == 2 and len(second.records["credit_transactions"]) == 2
        assert len(second.records["runs"]) >= 3 and second.records["steam"]
        for order in ORDERS:
            sandbox.listing_order = order
            assert comparable(sync(config, state=first.state).stdout) == comparable(second.stdout), order


@pytest.mark.parametrize("order", ORDERS)
def test_every_run_cost_once_in_full_and_incremental_syncs(order):
    """`billing/agents/{id}/runs` newest first gave one cost per agent in a full sync and none after two new
    runs: the bookmark advanced on the first entry."""
    with Sandbox(listing_order=order) as sandbox:
        config = config_for(sandbox, content_streams=False)
        first = sync(config)
        assert sorted(first.ids("run_costs", "runId")) == billed(sandbox) and len(billed(sandbox)) == 24
        new = [sandbox.add_run(1001)["id"], sandbox.add_run(1001)["id"]]
        second = sync(config, state=first.state)
        assert sorted(second.ids("run_costs", "runId")) == new
        assert not sync(config, state=second.state).records.get("run_costs")


def two_agents(sandbox) -> list[int]:
    """Two agents with 30 final runs each, some ending at the same instant, over more than one page."""
    agents = [sandbox.add_agent(f"agent {n}")["id"] for n in (1, 2)]
    for agent in agents:
        for hour in range(30):
            created = START + dt.timedelta(hours=hour)
            end = START + dt.timedelta(hours=hour - hour % 3 + 1)  # three runs end at each instant
            sandbox.add_run(agent, created=created, startTime=created, endTime=end)
    return agents


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(("stream", "stop_after"), [("run_costs", 10), ("run_costs", 44), ("runs", 40)])
def test_a_sync_stopped_by_sigterm_resumes_with_nothing_lost_or_twice(order, stream, stop_after, tmp_path):
    with Sandbox(seed_demo=False, listing_order=order) as sandbox:
        two_agents(sandbox)
        config = config_for(sandbox, content_streams=False)
        stopped = run_cli(
            ["--config", str(write_json(tmp_path / "c.json", config))], stdout=SignalAfter(stream, stop_after)
        )
        assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr
        messages = parse_messages(stopped.stdout)
        state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
        resumed = sync(config, state=state)
        for name, key in (("run_costs", "runId"), ("runs", "id")):
            before = [m["record"][key] for m in messages if m["type"] == "RECORD" and m["stream"] == name]
            everything = before + resumed.ids(name, key)
            assert sorted(everything) == sorted(run.id for run in sandbox.data.runs.values()), name
        assert not sync(config, state=resumed.state).records.get("run_costs")


@pytest.mark.parametrize("order", ORDERS)
def test_a_sync_failing_on_a_later_agent_resumes_with_nothing_lost_or_twice(order, tmp_path):
    with Sandbox(seed_demo=False, listing_order=order) as sandbox:
        first_agent, second_agent = two_agents(sandbox)
        sandbox.add_fault(rf"^/api/v1/billing/agents/{second_agent}/", "503", times=1000)
        config = config_for(sandbox, content_streams=False, max_retries=0)
        failed = run_cli(["--config", str(write_json(tmp_path / "c.json", config))])
        assert failed.returncode == 1 and "503" in failed.stderr.strip().splitlines()[-1]
        messages = parse_messages(failed.stdout)
        costs = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "run_costs"]
        assert {c["agentId"] for c in costs} == {first_agent} and len(costs) == 30
        sandbox.clear_faults()
        state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
        resumed = sync(config, state=state)
        assert sorted(c["runId"] for c in costs) + sorted(resumed.ids("run_costs", "runId")) == billed(
            sandbox
        )


@pytest.mark.parametrize("order", ORDERS)
def test_the_credit_history_stopped_by_sigterm_resumes_with_nothing_lost_or_twice(order, tmp_path):
    with Sandbox(listing_order=order) as sandbox:
        config = config_for(sandbox, content_streams=False)
        stopped = run_cli(
            ["--config", str(write_json(tmp_path / "c.json", config))],
            stdout=SignalAfter("credit_transactions", 50),
        )
        assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr
        messages = parse_messages(stopped.stdout)
        before = [
            m["record"]["id"]
            for m in messages
            if m["type"] == "RECORD" and m["stream"] == "credit_transactions"
        ]
        state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
        resumed = sync(config, state=state)
        everything = before + resumed.ids("credit_transactions")
        assert len(everything) == len(set(everything)) == 112


@pytest.mark.parametrize(
    ("order", "warned"), [("documented", False), *((o, o != "newest-first") for o in ORDERS)]
)
def test_a_credit_history_not_newest_first_is_read_whole_with_one_warning(order, warned, tmp_path):
    """Its early stop assumed newest first: an oldest-first server's first page is all below the bookmark,
    so an incremental sync saw no new transaction."""
    with Sandbox(listing_order=order) as sandbox:
        config_file = write_json(tmp_path / "c.json", config_for(sandbox, content_streams=False))
        first = run_cli(["--config", str(config_file)])
        state = [m["value"] for m in parse_messages(first.stdout) if m["type"] == "STATE"][-1]
        sandbox.add_run(1002)
        credit = sandbox.data.add_credit("Adjustment", "2.5", "2026-12-31T00:00:00Z")
        second = run_cli(
            ["--config", str(config_file), "--state", str(write_json(tmp_path / "s.json", state))]
        )
        assert second.returncode == 0, second.stderr
        new = [
            m["record"]
            for m in parse_messages(second.stdout)
            if m["type"] == "RECORD" and m["stream"] == "credit_transactions"
        ]
        assert len(new) == 2 and new[-1]["id"] == credit.id
        for proc in (first, second):
            lines = [line for line in proc.stderr.splitlines() if "not listed newest first" in line]
            assert len(lines) == (1 if warned else 0), proc.stderr
        pages = [r for r in sandbox.requests if r.path == "/api/v1/billing/history"]
        assert len(pages) == (4 if warned else 3)  # two pages in full, then all or one of them


@pytest.mark.parametrize(
    ("order", "warned"), [("documented", False), *((o, o != "newest-first") for o in ORDERS)]
)
def test_a_full_runs_list_that_is_not_newest_first_is_said_once(order, warned, tmp_path):
    """The API keeps the newest maxRecords runs and lists them newest first; a full list in another order may
    hold others, which no client can tell apart: one warning per agent, however many streams read it."""
    with Sandbox(seed_demo=False, listing_order=order) as sandbox:
        two_agents(sandbox)
        config = write_json(tmp_path / "c.json", config_for(sandbox, runs_max_records=5))
        proc = run_cli(["--config", str(config)])
        assert proc.returncode == 0, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if "is full (5 runs) and not newest first" in line]
        assert len(lines) == (2 if warned else 0), proc.stderr


@pytest.mark.parametrize("order", ORDERS)
def test_an_interrupted_content_sync_resumes_without_gaps_or_duplicates(order, tmp_path):
    with Sandbox(seed_demo=False, listing_order=order) as sandbox:
        agent = sandbox.add_agent("trap shop")["id"]
        files = {}
        for day in (1, 2, 3):
            body = "day,n\n" + "".join(f"{day},{i}\n" for i in range(3))
            created = f"2026-05-0{day}T00:00:00Z"
            run = sandbox.add_run(agent, created=created, files=[(f"trap_shop_{day}.csv", body.encode())])
            files[day] = run
        broken = sandbox.data.runs[files[2]["id"]].files[0].id
        sandbox.add_fault(rf"/file/{broken}/download$", "503", times=1000)
        config = config_for(sandbox, agent_ids=[agent], max_retries=0)
        failed = run_cli(["--config", str(write_json(tmp_path / "c.json", config))])
        assert failed.returncode == 1
        lines = [json.loads(line) for line in failed.stdout.splitlines()]
        emitted = [m["record"]["day"] for m in lines if m["type"] == "RECORD" and m["stream"] == "trap_shop"]
        assert emitted == [1, 1, 1]
        sandbox.clear_faults()
        resumed = sync(config, state=[m["value"] for m in lines if m["type"] == "STATE"][-1])
        assert [(r["day"], r["n"]) for r in resumed.records["trap_shop"]] == [
            (d, n) for d in (2, 3) for n in range(3)
        ]
