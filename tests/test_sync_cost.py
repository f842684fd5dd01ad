"""What a sync costs, over HTTP (issue 19): an agent whose list entry did not change costs no request, and the
STATE stays small whatever the history, without losing a run that becomes visible late within the window."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import re

import pytest
from support import SyncResult, config_for, parse_messages, run_cli, write_json
from support import sync as sync_once

from sequentum_emulator import Sandbox
from tap_sequentum.incremental import check_time
from tap_sequentum.tap import TapSequentum

RUNS_LIST = re.compile(r"/agent/(\d+)/runs$")
#: Streams of the organisation, not of its agents.
ORGANISATION_STREAMS = ("credit_transactions", "file_errors", "spaces")


@pytest.fixture
def empty():
    """A sandbox without demo data (whose running and queued runs keep their agents listed), never throttling
    (a first sync of 1,000 runs makes more than its default 1,000 requests a minute)."""
    with Sandbox(seed_demo=False, rate_limit=1_000_000) as sandbox:
        yield sandbox


def csv(n: int) -> bytes:
    return f"sku,qty\n{n:05d},{n}\n".encode()


def shop(sandbox, name: str, runs: int = 2, start: str = "2026-05-01T00:00:00Z") -> int:
    """An agent with `runs` finished runs an hour apart, each delivering one row of its own table."""
    agent = sandbox.add_agent(name)["id"]
    first = dt.datetime.fromisoformat(start)
    for n in range(runs):
        sandbox.add_run(agent, 9, first + dt.timedelta(hours=n), files=[(f"{name}_{n}.csv", csv(n))])
    return agent


@pytest.fixture
def sync(tmp_path):
    """A sync with the catalog of one discovery per config, as Meltano caches it (a sync without a catalog
    discovers its content streams, which reads every agent's runs list: issue 19's part A)."""
    catalogs: dict[str, dict] = {}

    def run(config: dict, state: dict | None = None):
        key = json.dumps(config, sort_keys=True)
        if key not in catalogs:
            path = write_json(tmp_path / f"config{len(catalogs)}.json", config)
            catalogs[key] = json.loads(run_cli(["--config", str(path), "--discover"]).stdout)
        return sync_once(json.loads(key), state, catalogs[key])  # a copy: the tap reads settings in place

    return run


def listed(sandbox) -> list[int]:
    """The agents whose runs list was read since the request log was cleared (each once per sync)."""
    return sorted(int(m.group(1)) for r in sandbox.requests if (m := RUNS_LIST.search(r.path)))


def stamped(state: dict, at: dt.datetime, keys: tuple[str, ...] = ("checked_at",)) -> dict:
    """The state as if every agent's last full check had been at `at`: of its runs (`checked_at`), and with
    `read_at` of its schedules too."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = json.dumps(state)
    for key in keys:
        text = re.sub(rf'"{key}": "[^"]+"', f'"{key}": "{stamp}"', text)
    return json.loads(text)


def test_an_unchanged_agent_costs_no_request_and_a_changed_one_only_its_own(empty, sync):
    shops = [shop(empty, f"shop{i}") for i in range(3)]
    config = config_for(empty)
    first = sync(config)
    assert len(first.records["runs"]) == 6

    empty.clear_requests()
    unchanged = sync(config, state=first.state)
    assert listed(empty) == []
    paths = sorted(r.path.removeprefix("/api/v1/") for r in empty.requests)
    # The agent list, the credit history, spaces and the upcoming scheduled runs: nothing per agent.
    assert paths == ["agent/all", "analytics/schedules/upcoming", "billing/history", "spaces"]
    assert not any(unchanged.records.get(name) for name in ("runs", "run_costs", "shop1"))

    new = empty.add_run(shops[1], 9, "2026-05-01T05:00:00Z", files=[("shop1_9.csv", csv(9))])
    empty.clear_requests()
    changed = sync(config, state=unchanged.state)
    assert listed(empty) == [shops[1]]  # one runs list, shared by runs, its content stream and run_costs
    assert changed.ids("runs") == [new["id"]]
    assert [r["qty"] for r in changed.records["shop1"]] == [9]
    assert changed.ids("run_costs", "runId") == [new["id"]]

    empty.clear_requests()
    sync(config, state=changed.state)
    assert listed(empty) == []


def test_an_agent_the_list_gives_no_hint_for_is_listed_on_every_sync(empty, sync):
    plain, hinted = shop(empty, "plain"), shop(empty, "hinted")
    empty.set_list_hints(plain, False)
    config = config_for(empty)
    first = sync(config)
    for _ in range(2):
        empty.clear_requests()
        first = sync(config, state=first.state)
        assert listed(empty) == [plain]
    empty.set_list_hints(hinted, False)  # hints that disappear never skip anything
    empty.clear_requests()
    sync(config, state=first.state)
    assert listed(empty) == [plain, hinted]


def test_an_active_run_keeps_its_agent_listed_until_it_ends_though_the_list_entry_stays(empty, sync):
    """The newest run is finished, so the list entry (lastActivity, status) does not change when an older
    run still running ends: the run is watched, and its agent listed until it is out."""
    agent = empty.add_agent("slow")["id"]
    running = empty.add_run(agent, 1, "2026-05-01T00:00:00Z")
    empty.add_run(agent, 9, "2026-05-01T01:00:00Z", files=[("slow_1.csv", csv(1))])
    config = config_for(empty)
    first = sync(config)
    empty.clear_requests()
    second = sync(config, state=first.state)
    assert listed(empty) == [agent]
    assert second.ids("runs") == [running["id"]]  # still running: emitted until it ends
    empty.set_run_status(agent, running["id"], 9, files=[("slow_0.csv", csv(0))])
    third = sync(config, state=second.state)
    assert third.ids("runs") == [running["id"]]
    assert [r["qty"] for r in third.records["slow"]] == [0]
    assert third.ids("run_costs", "runId") == [running["id"]]
    empty.clear_requests()
    sync(config, state=third.state)
    assert listed(empty) == []


def test_a_late_run_the_list_entry_does_not_show_waits_for_the_full_check_then_comes_once(empty, sync):
    """A run that becomes visible late changes neither `lastActivity` (its newest run's) nor `status`:
    it waits for the next full check (runs_full_check_hours) and then comes once; a run later than the
    lateness window (late_runs_window_minutes) counts as synced."""
    agent = shop(empty, "late", runs=3)  # 00:00, 01:00, 02:00
    config = config_for(empty)
    first = sync(config)
    inside = empty.add_run(agent, 9, "2026-05-01T01:30:00Z", files=[("late_8.csv", csv(8))])
    empty.add_run(agent, 9, "2026-05-01T00:30:00Z", files=[("late_7.csv", csv(7))])  # 90 min late
    quiet = sync(config, state=first.state)
    assert not quiet.records.get("runs")

    # The agent's full check comes once a day at its own time (`incremental.check_time`).
    now = dt.datetime.now(dt.UTC)
    latest = check_time(now, dt.timedelta(hours=24), agent)
    for state in (stamped(quiet.state, latest + (now - latest) / 2), quiet.state | {}):
        assert not sync(config, state=state).records.get("runs")  # checked since its check time: not read
    checked = sync(config, state=stamped(quiet.state, latest - dt.timedelta(minutes=1)))
    assert checked.ids("runs") == [inside["id"]]
    assert [r["qty"] for r in checked.records["late"]] == [8]
    assert checked.ids("run_costs", "runId") == [inside["id"]]
    again = sync(config, state=stamped(checked.state, now - dt.timedelta(hours=24)))
    assert (
        not again.records.get("runs") and not again.records.get("late") and not again.records.get("run_costs")
    )


def test_agents_checked_together_come_to_their_full_checks_at_their_own_times(empty, sync):
    """A first sync checks every agent at once; their next full checks are spread over the day (each agent's
    check time, `incremental.check_time`), so a sync 12 hours later reads about half of them, not all, and an
    agent's schedules are read in the same sync as its runs list (one check time per agent)."""
    agents = [shop(empty, f"shop{i}", runs=1) for i in range(20)]
    config = config_for(empty)
    first = sync(config)
    now = dt.datetime.now(dt.UTC)
    half_a_day_ago = now - dt.timedelta(hours=12)
    state = stamped(first.state, half_a_day_ago, ("checked_at", "read_at"))
    due = sorted(a for a in agents if check_time(now, dt.timedelta(hours=24), a) > half_a_day_ago)
    assert 0 < len(due) < len(agents)  # agents 1001-1020's check times are at most 2.2 h apart: at any hour
    empty.clear_requests()
    sync(config, state=state)
    assert listed(empty) == due
    schedules = sorted(int(r.path.split("/")[-2]) for r in empty.requests if r.path.endswith("/schedules"))
    assert schedules == due


def test_a_run_started_by_trigger_is_extracted_though_the_agent_list_was_read_before(sync, tmp_path):
    """The agent list read before the trigger (as a tap whose streams are built first reads it) says nothing
    of the run the trigger starts: a triggered agent counts as one without a hint."""
    with Sandbox(seed_demo=False, run_duration=0.6) as sandbox:
        agent = shop(sandbox, "triggered")
        config = config_for(sandbox, agent_ids=[agent])
        first = sync(config)
        catalog = json.loads(
            run_cli(["--config", str(write_json(tmp_path / "c.json", config)), "--discover"]).stdout
        )
        triggering = {**config, "trigger": [{"agent_id": agent, "timeout": 30}], "trigger_poll_interval": 1}
        tap = TapSequentum(config=triggering, state=first.state, catalog=catalog)
        assert tap.list_hint(agent)  # the agent list is read now, before the trigger
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            tap.sync_all()
        second = SyncResult(parse_messages(out.getvalue()), out.getvalue())
        (new,) = second.records["runs"]
        assert new["status_name"] == "Completed"
        assert {r["_sdc_run_id"] for r in second.records["triggered"]} == {new["id"]}


def agent_state(state: dict, agent: int) -> dict[str, int]:
    """Bytes of the STATE kept for one agent, per stream (its partitions and its entry in `agents`)."""
    sizes: dict[str, int] = {}
    for name, bookmarks in state["bookmarks"].items():
        if name in ORGANISATION_STREAMS or not bookmarks:
            continue
        if name == "agents":
            sizes[name] = len(json.dumps({str(agent): bookmarks["agents"][str(agent)]}))
        elif "partitions" in bookmarks:
            mine = [p for p in bookmarks["partitions"] if agent in p["context"].values()]
            sizes[name] = len(json.dumps(mine))
        else:
            sizes[name] = len(json.dumps(bookmarks))  # a content stream of this agent alone
    return sizes


def test_a_thousand_runs_of_history_keep_the_state_small_and_a_late_run_in_the_window_comes_once(empty, sync):
    """About 2 KB of STATE per agent whatever its history (issue 19: 18.5 KB for 1,000 runs before), and the
    runs of the last hour are still known by id: one that becomes visible late inside it comes once."""
    agent = empty.add_agent("history")["id"]
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for n in range(1000):  # every 10 minutes; the newest three deliver a file
        files = [(f"history_{n}.csv", csv(n))] if n >= 997 else None
        empty.add_run(agent, 9, start + dt.timedelta(minutes=10 * n), files=files)
    newest = start + dt.timedelta(minutes=10 * 999)
    config = config_for(empty, runs_full_check_hours=0)  # every sync reads the runs list
    first = sync(config)
    assert len(first.records["runs"]) == 1000 and len(first.records["history"]) == 3
    sizes = agent_state(first.state, agent)
    assert set(sizes) == {"agents", "runs", "history", "run_costs", "schedules"}
    assert sum(sizes.values()) <= 2048, sizes
    largest = max(len(json.dumps(m["value"])) for m in first.messages if m["type"] == "STATE")
    assert largest <= 2048 + len(json.dumps({k: first.state["bookmarks"][k] for k in ORGANISATION_STREAMS}))
    runs_state = next(iter(first.state["bookmarks"]["runs"]["partitions"]))
    assert len(runs_state["seen_run_ids"]) == 7  # the newest run and the six of the hour before it

    late = empty.add_run(agent, 9, newest - dt.timedelta(minutes=45), files=[("history_5000.csv", csv(5000))])
    second = sync(config, state=first.state)
    assert second.ids("runs") == [late["id"]]
    assert [r["qty"] for r in second.records["history"]] == [5000]
    assert second.ids("run_costs", "runId") == [late["id"]]
    third = sync(config, state=second.state)
    assert (
        not third.records.get("runs")
        and not third.records.get("history")
        and not third.records.get("run_costs")
    )
    assert sum(agent_state(third.state, agent).values()) <= 2048


def only(catalog: dict, *names: str) -> dict:
    """The catalog with only these streams (and every content stream, when `content` is named) selected."""
    chosen = json.loads(json.dumps(catalog))
    for entry in chosen["streams"]:
        content = any(m["metadata"].get("tap-sequentum.agent-ids") for m in entry["metadata"])
        keep = entry["tap_stream_id"] in names or (content and "content" in names)
        for item in entry["metadata"]:
            if not item["breadcrumb"]:
                item["metadata"]["selected"] = keep
    return chosen


@pytest.mark.parametrize(
    ("streams", "per_agent"),
    [
        # The data itself: the runs list, the new run's file list, its one data file.
        (("runs", "content"), ["agent/{a}/runs", "agent/{a}/run/{r}/files", "download"]),
        # Each further stream of an agent pays its own read: `agents` the detail of an agent whose entry
        # changed, `run_costs` its billing page, `schedules` its schedules (it ran: its next run may move).
        (
            ("agents", "runs", "content", "run_costs", "schedules"),
            [
                "agent/{a}",
                "agent/{a}/runs",
                "agent/{a}/run/{r}/files",
                "agent/{a}/schedules",
                "billing/agents/{a}/runs",
                "download",
            ],
        ),
    ],
)
def test_a_changed_agent_costs_three_requests_for_its_data_and_one_per_further_stream(
    empty, tmp_path, streams, per_agent
):
    """Issue 19's "about 3 requests per changed agent": the data path costs exactly 3 (runs list, file list,
    download) beside what the organisation costs every sync; each other per-agent stream selected adds one."""
    agents = [shop(empty, f"shop{i}") for i in range(4)]
    config = config_for(empty)
    path = write_json(tmp_path / "config.json", config)
    catalog = only(json.loads(run_cli(["--config", str(path), "--discover"]).stdout), *streams)
    state = sync_once(config, None, catalog).state
    agent = agents[2]
    run = empty.add_run(agent, 9, "2026-05-01T05:00:00Z", files=[("shop2_9.csv", csv(9))])
    empty.clear_requests()
    changed = sync_once(config, state, catalog)
    assert [r["qty"] for r in changed.records["shop2"]] == [9]
    organisation = {"agent/all", "analytics/schedules/upcoming", "billing/history", "spaces"}
    # A download goes to the signed storage URL the sandbox redirects to: counted as one "download".
    paths = [
        r.path.removeprefix("/api/v1/") if r.path.startswith("/api/v1/") else "download"
        for r in empty.requests
    ]
    own = sorted("download" if "download" in p else p for p in paths if p not in organisation)
    assert own == sorted(p.format(a=agent, r=run["id"]) for p in per_agent)
