"""The schedules stream: when an agent's schedules are read (tables), what is emitted (tables), and syncs
against the sandbox over HTTP: records and types, older versions' text types, a key that may not read
schedules, the requests an unchanged sync costs, what makes a sync read again, tombstones, and the measured
figures."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from support import config_for, run_cli, sync, write_json

from sequentum_emulator import Sandbox
from tap_sequentum.incremental import check_time
from tap_sequentum.schedules import (
    DELETED,
    FULL_CHECK,
    LastRead,
    read_reason,
    schedule_record,
    tombstones,
    upcoming_views,
)

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
HINT = "2026-12-07T08:00:00.000000Z|9|3|"
STEAM, SOCGEN, ACDELCO, PRICE_JSON = 1001, 1002, 1003, 1006
#: Only the schedules stream and what it needs (the agent list): fast syncs whose requests are easy to count.
SCHEDULES_ONLY = {"content_streams": False}


def last(hint=HINT, upcoming="v1", read=NOW - HOUR, ids=(1,)) -> LastRead:
    return LastRead(hint, upcoming, read, tuple(ids))


# --- when to read (pure) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seen", "hint", "upcoming", "now", "reason"),
    [
        (None, HINT, "v1", NOW, "new"),
        (None, None, None, NOW, "new"),
        (last(), HINT, "v1", NOW, None),  # nothing changed
        (last(), HINT, None, NOW, None),  # no upcoming listing: no signal, not a change
        (last(), None, "v1", NOW, "no list hint"),  # the list says nothing: always read
        (last(hint=None), None, "v1", NOW, "no list hint"),
        (last(), HINT.replace("|9|", "|6|"), "v1", NOW, "list entry changed"),
        (last(hint=None), HINT, "v1", NOW, "list entry changed"),
        (last(), HINT, "v2", NOW, "upcoming runs changed"),
        (last(), HINT, "", NOW, "upcoming runs changed"),  # its schedules left the listing
        (last(upcoming=None), HINT, "v1", NOW, "upcoming runs changed"),  # a listing for the first time
        (last(upcoming=""), HINT, "", NOW, None),
        # Agent 0's full check falls at midnight each day (`incremental.check_time`): read since, nothing due.
        (last(read=check_time(NOW, FULL_CHECK, 0) + HOUR), HINT, "v1", NOW, None),
        (last(read=check_time(NOW, FULL_CHECK, 0) - HOUR), HINT, "v1", NOW, "full check"),
        (last(read=NOW - FULL_CHECK), HINT, "v1", NOW, "full check"),
        (last(read=NOW - 3 * FULL_CHECK), HINT, None, NOW, "full check"),
        (last(read=NOW + HOUR), HINT, "v1", NOW, "full check"),  # read "in the future": the clock moved
        (last(), HINT.replace("|9|", "|6|"), "v2", NOW - 2 * FULL_CHECK, "list entry changed"),  # first wins
    ],
)
def test_read_reason(seen, hint, upcoming, now, reason):
    assert read_reason(seen, hint, upcoming, now) == reason


def test_read_reason_takes_the_full_check_period_and_the_agent():
    seen = last(read=NOW - 2 * HOUR)
    assert read_reason(seen, HINT, "v1", NOW, full_check=HOUR) == "full check"  # a period ago
    # Within 3 hours: due once the agent's own check time passed since the read.
    reasons = {}
    for agent in range(1001, 1021):
        reasons[agent] = read_reason(seen, HINT, "v1", NOW, full_check=3 * HOUR, key=agent)
        assert (reasons[agent] == "full check") is (check_time(NOW, 3 * HOUR, agent) > seen.at)
    assert set(reasons.values()) == {"full check", None}  # some agents' check time came, others' did not


def test_the_last_read_round_trips_through_the_state():
    state: dict = {"context": {"configId": 7}}
    LastRead(HINT, "abc", NOW, (12, 3)).save(state)
    assert state == {
        "context": {"configId": 7},
        "hint": HINT,
        "upcoming": "abc",
        "read_at": "2026-12-07T12:00:00.000000Z",
        "schedule_ids": [3, 12],
    }
    assert LastRead.of(state) == LastRead(HINT, "abc", NOW, (3, 12))


@pytest.mark.parametrize(
    "state",
    [{}, {"context": {"configId": 7}}, {"read_at": "yesterday"}, {"hint": HINT, "schedule_ids": [1]}],
)
def test_a_state_without_a_readable_last_read_is_a_new_agent(state):
    assert LastRead.of(state) is None


def entry(schedule, agent=1, when="2026-12-08T06:00:00Z", name="Daily", enabled=True) -> dict:
    return {
        "scheduleId": schedule,
        "agentId": agent,
        "agentName": "a",
        "scheduleName": name,
        "nextRunTime": when,
        "timezone": "UTC",
        "isEnabled": enabled,
    }


BASE = [entry(10), entry(20, agent=2, when="2026-12-09T00:00:00Z")]


@pytest.mark.parametrize(
    ("listing", "same"),
    [
        (BASE, True),
        (BASE[::-1], True),  # any order
        ([*BASE, entry(10, when="2026-12-07T01:00:00Z")], True),  # a run before now: a listing cut by days
        ([*BASE, entry(10, when="2026-12-09T06:00:00Z")], True),  # each run listed: the next one counts
        ([*BASE, {"scheduleId": "x", "agentId": 1}, {"agentId": 1}], True),  # lines without ids
        ([entry(10, when="2026-12-08T07:00:00Z"), BASE[1]], False),  # moved
        ([entry(10, name="Nightly"), BASE[1]], False),  # renamed
        ([*BASE, entry(11)], False),  # added
        (BASE[1:], False),  # disabled or deleted: gone from the listing
        ([entry(10, when=None, enabled=False), BASE[1]], False),  # listed disabled
        ([entry(10, agent=3), BASE[1]], False),  # (moved to another agent)
    ],
)
def test_upcoming_views_change_only_when_agent_1s_schedules_do(listing, same):
    before = upcoming_views(BASE, NOW)
    after = upcoming_views(listing, NOW)
    assert (after.get(1, "") == before[1]) is same
    assert after[2] == before[2]  # the other agent's view is its own


def test_an_agent_the_listing_does_not_show_has_no_view():
    views = upcoming_views([entry(10, when="2026-12-07T11:00:00Z")], NOW)  # only a run before now
    assert views == {}
    assert len(upcoming_views(BASE, NOW)[1]) == 12  # a short digest per agent, kept in the state


# --- what is emitted (pure) -------------------------------------------------------------------------


def raw(**fields) -> dict:
    return {"id": 5, "configId": 9, "name": "s", "scheduleType": 3, "runEveryPeriod": None, **fields}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (raw(), {"scheduleType": 3, "scheduleTypeName": "CRON", "runEveryPeriod": None}),
        (raw(scheduleType="CRON"), {"scheduleType": 3, "scheduleTypeName": "CRON"}),
        (raw(scheduleType="runEvery", runEveryPeriod=2), {"scheduleType": 2, "runEveryPeriodName": "Hours"}),
        (raw(scheduleType=2, runEveryPeriod="Days"), {"runEveryPeriod": 3, "runEveryPeriodName": "Days"}),
        (raw(scheduleType=2, runEveryPeriod=0), {"runEveryPeriod": 1, "runEveryPeriodName": "Minutes"}),
        (raw(scheduleType=3, runEveryPeriod=0), {"runEveryPeriod": None, "runEveryPeriodName": None}),
        (raw(scheduleType="Weekly"), {"scheduleType": None, "scheduleTypeName": "Weekly"}),
        (raw(configId=None), {"configId": 4}),  # the partition's agent when the schedule does not say
        (raw(configId="9"), {"configId": 9}),
        (raw(inputParameters='{"a": 1}'), {"inputParameters": '{"a": 1}'}),  # free-form: the stream's job
        (raw(), {DELETED: None}),
    ],
)
def test_schedule_record(given, expected):
    record = schedule_record(given, agent_id=4)
    assert {key: record[key] for key in expected} == expected
    assert record["id"] == 5 and record["name"] == "s"


def test_tombstones_are_the_ids_read_before_and_gone_now():
    assert tombstones([3, 1, 2], [2], 9, "2026-12-07T12:00:00.000000Z") == [
        {"id": 1, "configId": 9, DELETED: "2026-12-07T12:00:00.000000Z"},
        {"id": 3, "configId": 9, DELETED: "2026-12-07T12:00:00.000000Z"},
    ]
    assert tombstones([], [1], 9, "x") == tombstones([1], [1, 2], 9, "x") == []


# --- syncs against the sandbox ----------------------------------------------------------------------


def schedule_requests(sandbox: Sandbox) -> list[str]:
    """Requests of one agent's schedules, by path."""
    return [r.path for r in sandbox.requests if r.path.endswith("/schedules")]


def upcoming_requests(sandbox: Sandbox) -> list[str]:
    return [r.path for r in sandbox.requests if r.path.endswith("/analytics/schedules/upcoming")]


def partitions(state: dict) -> dict[int, dict]:
    return {p["context"]["configId"]: p for p in state["bookmarks"]["schedules"]["partitions"]}


def aged(state: dict, by: dt.timedelta) -> dict:
    """The state as if every agent's schedules had been read `by` earlier."""
    state = json.loads(json.dumps(state))
    for partition in partitions(state).values():
        read = dt.datetime.fromisoformat(partition["read_at"].replace("Z", "+00:00"))
        partition["read_at"] = (read - by).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return state


def soon(hours: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def demo_schedules():
    with Sandbox() as sandbox:
        yield sandbox, sync(config_for(sandbox, **SCHEDULES_ONLY))


def test_every_schedule_of_the_demo_with_codes_names_and_types(demo_schedules):
    sandbox, result = demo_schedules
    records = {r["id"]: r for r in result.records["schedules"]}
    served = {s.id: s for agent in sandbox.data.agents.values() for s in agent.schedules.values()}
    assert sorted(records) == sorted(served) and len(records) == 7
    quarterly = records[3002]
    assert quarterly | {"updated": None} == {
        "id": 3002,
        "configId": SOCGEN,
        "name": "Fin de trimestre",
        "schedule": "Every 3 months",
        "localSchedule": "Every 3 months",
        "timezone": "Europe/Paris",
        "nextRunTime": "2026-04-30T15:45:00.000000Z",
        "startTime": "2025-04-30T15:45:00.000000Z",
        "scheduleType": 2,
        "scheduleTypeName": "RunEvery",
        "isEnabled": True,
        "runEveryCount": 3,
        "runEveryPeriod": 5,
        "runEveryPeriodName": "Months",
        "inputParameters": {"market": "XPAR"},  # JSON text, emitted as the object (as agents' are)
        "parallelism": 1,
        "parallelMaxConcurrency": 1,
        "parallelExport": "Combined",
        "proxyPoolId": None,
        "logLevel": "Info",
        "logMode": "Text",
        "created": "2025-04-02T16:31:07.118830Z",
        "updated": None,
        DELETED: None,
    }
    disabled = records[3003]
    assert (disabled["configId"], disabled["isEnabled"], disabled["nextRunTime"]) == (ACDELCO, False, None)
    assert {r["scheduleTypeName"] for r in records.values()} == {"RunOnce", "RunEvery", "CRON"}
    schema = next(m for m in result.messages if m["type"] == "SCHEMA" and m["stream"] == "schedules")
    assert schema["key_properties"] == ["id"] and schema["bookmark_properties"] == ["updated"]
    properties = schema["schema"]["properties"]
    assert properties["scheduleType"]["type"] == ["integer", "null"]
    assert properties[DELETED] == {"format": "date-time", "type": ["string", "null"]}


def test_the_first_sync_reads_each_agent_once_and_the_listing_once(demo_schedules):
    sandbox, result = demo_schedules
    assert sorted(schedule_requests(sandbox)) == sorted(
        f"/api/v1/agent/{agent}/schedules" for agent in sandbox.data.agents
    )
    assert len(upcoming_requests(sandbox)) == 1
    state = partitions(result.state)
    assert set(state) == set(sandbox.data.agents)
    assert state[PRICE_JSON]["schedule_ids"] == [3006, 3007]
    assert set(state[PRICE_JSON]) == {"context", "hint", "upcoming", "read_at", "schedule_ids"}


@pytest.mark.parametrize("form", ["naive", "7digit"])
def test_older_versions_text_types_and_other_date_forms_give_the_same_records(demo_schedules, form):
    _, numeric = demo_schedules
    with Sandbox(schedule_type_text=True, date_form=form) as older:
        texts = sync(config_for(older, **SCHEDULES_ONLY))
        assert {s["scheduleType"] for agent in (1001, 1002, 1006) for s in _served(older, agent)} == {
            "CRON",
            "RunEvery",
            "RunOnce",
        }

    def comparable(records):
        return sorted(({**r, "created": r["created"][:19], "updated": None} for r in records), key=str)

    assert comparable(texts.records["schedules"]) == comparable(numeric.records["schedules"])


def _served(sandbox: Sandbox, agent: int) -> list[dict]:
    schedules = sandbox.data.agent(agent).schedules.values()
    return [sandbox.data.schedule_json(s, type_as_text=sandbox.schedule_type_text) for s in schedules]


def test_an_unchanged_sync_reads_no_agents_schedules(sandbox):
    config = config_for(sandbox, **SCHEDULES_ONLY)
    first = sync(config)
    sandbox.clear_requests()
    again = sync(config, first.state)
    assert schedule_requests(sandbox) == [] and len(upcoming_requests(sandbox)) == 1
    assert "schedules" not in again.records
    assert again.state == first.state  # nothing changed, nothing kept anew


def test_an_agent_that_ran_is_read_again(sandbox):
    config = config_for(sandbox, **SCHEDULES_ONLY)
    first = sync(config)
    sandbox.add_run(SOCGEN, 9)
    sandbox.clear_requests()
    again = sync(config, first.state)
    assert schedule_requests(sandbox) == [f"/api/v1/agent/{SOCGEN}/schedules"]
    assert again.ids("schedules") == [3002]  # the agent's schedules, again (targets upsert on id)
    assert partitions(again.state)[SOCGEN]["hint"] != partitions(first.state)[SOCGEN]["hint"]


def test_schedules_edited_within_the_week_are_read_at_the_next_sync(sandbox):
    """The upcoming runs show a schedule added, disabled, moved or deleted; the agent list does not."""
    config = config_for(sandbox, **SCHEDULES_ONLY)
    state = sync(config).state
    steps = [
        lambda: sandbox.add_schedule(STEAM, name="Soon", schedule="0 * * * *", nextRunTime=soon(30)),
        lambda: sandbox.update_schedule(STEAM, 3001, nextRunTime=soon(5)),
        lambda: sandbox.update_schedule(STEAM, 3001, isEnabled=False),
    ]
    for step in steps:
        step()
        sandbox.clear_requests()
        result = sync(config, state)
        assert schedule_requests(sandbox) == [f"/api/v1/agent/{STEAM}/schedules"]
        state = result.state
    assert {r["id"]: r["isEnabled"] for r in result.records["schedules"]} == {3001: False, 3008: True}
    sandbox.clear_requests()
    sync(config, state)
    assert schedule_requests(sandbox) == []


def test_a_schedule_edited_beyond_the_week_waits_for_the_full_check(sandbox):
    config = config_for(sandbox, **SCHEDULES_ONLY)
    first = sync(config)
    sandbox.update_schedule(SOCGEN, 3002, inputParameters={"market": "XETR"})  # runs in months: not listed
    sandbox.clear_requests()
    assert "schedules" not in sync(config, first.state).records
    later = sync(config, aged(first.state, FULL_CHECK))
    assert sorted(schedule_requests(sandbox)) == sorted(
        f"/api/v1/agent/{agent}/schedules" for agent in sandbox.data.agents
    )
    records = {r["id"]: r for r in later.records["schedules"]}
    assert records[3002]["inputParameters"] == {"market": "XETR"}
    assert partitions(later.state)[SOCGEN]["read_at"] > partitions(first.state)[SOCGEN]["read_at"]


def test_a_deleted_schedule_is_emitted_once_as_a_tombstone(sandbox):
    config = config_for(sandbox, **SCHEDULES_ONLY)
    first = sync(config)
    sandbox.delete_schedule(PRICE_JSON, 3007)  # disabled: not in the upcoming runs
    sandbox.add_run(PRICE_JSON, 9)
    again = sync(config, first.state)
    by_id = {r["id"]: r for r in again.records["schedules"]}
    assert by_id[3007] == {"id": 3007, "configId": PRICE_JSON, DELETED: by_id[3007][DELETED]}
    assert by_id[3007][DELETED].endswith("Z") and by_id[3006][DELETED] is None
    assert partitions(again.state)[PRICE_JSON]["schedule_ids"] == [3006]
    checked = sync(config, aged(again.state, FULL_CHECK))  # read again: no second tombstone
    assert 3007 not in checked.ids("schedules") and 3006 in checked.ids("schedules")


def test_without_hints_in_the_agent_list_the_newest_run_tells_and_costs_no_request_more(sandbox):
    """The reference page's shape (lastActivity and status null): an agent's newest run, from the runs list
    every stream of the sync shares, says whether it ran; an agent that did not costs no schedules request
    (issue 19: without hints, at most one request per agent in a sync)."""
    sandbox.list_hints = False
    config = config_for(sandbox, **SCHEDULES_ONLY)
    first = sync(config)
    sandbox.clear_requests()
    again = sync(config, first.state)
    assert schedule_requests(sandbox) == []
    runs_lists = [r.path for r in sandbox.requests if r.path.endswith("/runs")]
    assert len(runs_lists) == len(set(runs_lists)) <= len(sandbox.data.agents)  # one per agent at most
    agent = min(sandbox.data.agents)
    sandbox.add_run(agent, status=9, files=[("ran.csv", b"a\n1\n")])
    sandbox.clear_requests()
    sync(config, again.state)
    assert schedule_requests(sandbox) == [f"/api/v1/agent/{agent}/schedules"]


@pytest.mark.parametrize(
    ("kind", "line"),
    [
        ("404", "INFO No upcoming scheduled runs (NotFoundError)"),
        ("403", "INFO No upcoming scheduled runs (PermissionDeniedError)"),
        ("400", "WARNING The upcoming scheduled runs were not read (Sequentum rejected the request for"),
    ],
)
def test_without_the_upcoming_listing_the_list_hint_and_the_full_check_still_read(
    sandbox, caplog, kind, line
):
    sandbox.add_fault(r"/analytics/schedules/upcoming$", kind, times=3)
    config = config_for(sandbox, **SCHEDULES_ONLY)
    with caplog.at_level("INFO"):
        first = sync(config)
    assert len(first.records["schedules"]) == 7
    level, _, text = line.partition(" ")
    assert [r.levelname for r in caplog.records if r.getMessage().startswith(text)] == [level], caplog.text
    assert {p["upcoming"] for p in partitions(first.state).values()} == {None}
    sandbox.update_schedule(STEAM, 3001, isEnabled=False)  # only the listing would show it
    sandbox.add_run(SOCGEN, 9)
    sandbox.clear_requests()
    sync(config, first.state)
    assert schedule_requests(sandbox) == [f"/api/v1/agent/{SOCGEN}/schedules"]
    sandbox.clear_requests()
    sync(config, aged(first.state, FULL_CHECK))
    assert len(schedule_requests(sandbox)) == len(sandbox.data.agents)


def test_a_key_that_may_not_read_schedules_skips_the_stream_with_one_warning(sandbox, tmp_path):
    sandbox.add_fault(r"/agent/\d+/schedules$", "403", times=1000)
    config = write_json(tmp_path / "config.json", config_for(sandbox))
    proc = run_cli(["--config", str(config)])
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines() if '"type":"RECORD"' in line]
    streams = {m["stream"] for m in records}
    assert {"agents", "runs", "run_files", "run_costs", "spaces", "steam"} <= streams
    assert "schedules" not in streams
    lines = [line for line in proc.stderr.splitlines() if "skipped" in line]
    assert len(lines) == 1, proc.stderr
    assert "Stream schedules skipped: the API key lacks permission (HTTP 403 insufficient_scope" in lines[0]
    assert len(schedule_requests(sandbox)) == 1  # the first refusal ends the stream


def test_discovery_lists_the_stream(demo_sandbox, tmp_path):
    config = write_json(tmp_path / "config.json", config_for(demo_sandbox, **SCHEDULES_ONLY))
    proc = run_cli(["--config", str(config), "--discover"])
    assert proc.returncode == 0, proc.stderr
    catalog = {s["tap_stream_id"]: s for s in json.loads(proc.stdout)["streams"]}
    schedules = catalog["schedules"]
    assert schedules["key_properties"] == ["id"] and schedules["replication_key"] == "updated"
    assert schedules["replication_method"] == "INCREMENTAL"  # targets keep the agents not read this time
    assert {"scheduleTypeName", "runEveryPeriodName", DELETED} <= set(schedules["schema"]["properties"])


def test_parquet_batches_hold_input_parameters_as_json_text(demo_sandbox, tmp_path):
    import pyarrow.parquet as pq

    batch_config = {"encoding": {"format": "parquet"}, "storage": {"root": f"file://{tmp_path}"}}
    result = sync(config_for(demo_sandbox, agent_ids=[SOCGEN], batch_config=batch_config, **SCHEDULES_ONLY))
    batches = [m for m in result.messages if m["type"] == "BATCH" and m["stream"] == "schedules"]
    urls = [url for message in batches for url in message["manifest"]]
    rows = [row for url in urls for row in pq.read_table(url.removeprefix("file://")).to_pylist()]
    assert [(row["id"], row["inputParameters"]) for row in rows] == [(3002, '{"market":"XPAR"}')]


# --- the measure: requests per sync, with and without the upcoming listing --------------------------

AGENTS = 20
#: (agents' schedules read, upcoming listings asked) per sync, for AGENTS agents with one schedule each that
#: runs within the week: docs/large-organisations.md quotes these.
WITH_LISTING = {
    "first sync": (AGENTS, 1),
    "unchanged": (0, 1),
    "one schedule disabled": (1, 1),
    "one agent ran": (1, 1),
    "full check": (AGENTS, 1),
}
WITHOUT_LISTING = {  # Sequentum answers 404: one refused request, no signal
    "first sync": (AGENTS, 1),
    "unchanged": (0, 1),
    "one schedule disabled": (0, 1),  # not seen until the full check
    "one agent ran": (1, 1),
    "full check": (AGENTS, 1),
}


def measure(listing: bool) -> tuple[dict[str, tuple[int, int]], bool]:
    """Schedule requests of each sync of the scenario, and whether the disabled schedule was seen at once."""
    with Sandbox(seed_demo=False, rate_limit=1_000_000) as sandbox:
        if not listing:
            sandbox.add_fault(r"/analytics/schedules/upcoming$", "404", times=100)
        agents = [sandbox.add_agent(f"agent {n}")["id"] for n in range(AGENTS)]
        schedules = []
        for n, agent in enumerate(agents):
            sandbox.add_run(agent, 9, "2026-12-01T00:00:00Z")
            daily = {"scheduleType": "RunEvery", "runEveryCount": 1, "runEveryPeriod": "Days"}
            schedules.append(
                sandbox.add_schedule(agent, name="Daily", nextRunTime=soon(1 + n), **daily)["id"]
            )
        config = config_for(sandbox, **SCHEDULES_ONLY)
        counts, state, seen = {}, None, False

        def step(name: str, change=lambda: None, age: dt.timedelta | None = None) -> None:
            nonlocal state, seen
            change()
            sandbox.clear_requests()
            result = sync(config, aged(state, age) if age else state)
            counts[name] = (len(schedule_requests(sandbox)), len(upcoming_requests(sandbox)))
            state = result.state
            if name == "one schedule disabled":
                seen = any(r["id"] == schedules[0] for r in result.records.get("schedules", []))

        step("first sync")
        step("unchanged")
        off = {"isEnabled": False}
        step("one schedule disabled", lambda: sandbox.update_schedule(agents[0], schedules[0], **off))
        step("one agent ran", lambda: sandbox.add_run(agents[1], 9))
        step("full check", age=FULL_CHECK)
        return counts, seen


def test_requests_per_sync_with_and_without_the_upcoming_listing():
    assert measure(listing=True) == (WITH_LISTING, True)
    assert measure(listing=False) == (WITHOUT_LISTING, False)
