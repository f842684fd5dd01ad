"""The billing streams: spaces, run_costs and credit_transactions, their bookkeeping as tables, and syncs
against the sandbox over HTTP (pages, exact costs, incremental state, requests saved, keys without
billing:read)."""

from __future__ import annotations

import datetime as dt
import json
import signal
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import SignalAfter, config_for, parse_messages, run_cli, sync, write_json

from sequentum_emulator import NOBILLING_API_KEY, Sandbox
from sequentum_emulator import billing as sandbox_billing
from sequentum_emulator.billing import RUN_DEBIT_BASE
from tap_sequentum import errors
from tap_sequentum.billing import (
    AT_BOOKMARK,
    SEEN,
    SINCE,
    UNBILLED,
    Bookmark,
    CostPlan,
    costs_to_emit,
    is_new,
    new_transactions,
    plan_costs,
)
from tap_sequentum.client import SequentumClient
from tap_sequentum.incremental import Lateness

BILLING_STREAMS = ("spaces", "run_costs", "credit_transactions")
STEAM = 1001
T = "2026-03-01T08:00:00.000000Z"
DAY, HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def run(
    run_id: int, status: int = 9, created: str = T, end: str | None = T, table: str | None = "history"
) -> dict:
    return {"id": run_id, "status": status, "created": created, "endTime": end, "tableType": table}


def billing_requests(sandbox, kind: str = "") -> list:
    return [r for r in sandbox.requests if r.path.startswith(f"/api/v1/billing/{kind}")]


# --- bookkeeping (pure) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bookmark", "ids", "when", "item", "start", "new"),
    [
        (None, [], "2026-01-01T00:00:00Z", 1, None, True),  # no bookmark, no start: everything
        (None, [], "2026-01-01T00:00:00Z", 1, "2026-02-01T00:00:00Z", False),  # before start_date
        (None, [], "2026-02-01T00:00:00Z", 1, "2026-02-01T00:00:00Z", True),  # start_date is inclusive
        (T, [1], "2026-03-01T08:00:00Z", 1, None, False),  # at the bookmark, emitted
        (T, [1], "2026-03-01T08:00:00Z", 2, None, True),  # at the bookmark, not emitted yet
        (T, [1], "2026-03-01T08:00:00.000001Z", 3, None, True),  # after it
        (T, [1], "2026-03-01T07:59:59.999999Z", 4, None, False),  # before it
        (T, [1], "2026-01-01T00:00:00Z", 5, "2026-02-01T00:00:00Z", False),  # state wins over start_date
        (T, [1], None, 6, None, True),  # undated: never skipped
    ],
)
def test_is_new(bookmark, ids, when, item, start, new):
    mark = Bookmark(at(bookmark) if bookmark else None, set(ids))
    assert is_new(mark, at(when) if when else None, item, at(start) if start else None) is new


def test_bookmark_advances_and_keeps_the_ids_at_its_instant():
    mark = Bookmark()
    for when, item in [(T, 1), ("2026-02-01T00:00:00Z", 2), (T, 3), (None, 4)]:
        mark.advance(at(when) if when else None, item)
    assert (mark.value, mark.ids) == (at(T), {1, 3})
    mark.advance(at("2026-03-02T00:00:00Z"), 5)
    state: dict = {}
    mark.save(state, "date")
    assert state == {
        "replication_key": "date",
        "replication_key_value": "2026-03-02T00:00:00.000000Z",
        AT_BOOKMARK: [5],
    }
    assert Bookmark.of(state) == mark


LATER, EARLIER = "2026-03-02T00:00:00Z", "2026-02-01T00:00:00Z"
STATE = {"replication_key_value": T, AT_BOOKMARK: [1]}


@pytest.mark.parametrize(
    ("runs", "state", "start", "ask", "from_", "late", "unbilled"),
    [
        # first sync: any final run asks, from start_date
        ([run(1)], {}, None, True, None, set(), []),
        ([run(1, end=EARLIER)], {}, T, False, T, set(), []),
        ([run(1, end=LATER)], {}, T, True, T, set(), []),
        # later syncs: only a final run after the bookmark asks, from the bookmark
        ([run(1)], STATE, None, False, T, set(), []),
        ([run(2), run(1)], STATE, None, True, T, set(), []),  # same instant, not emitted yet
        ([run(2, end=LATER), run(1)], STATE, None, True, T, set(), []),
        ([run(2, end=EARLIER), run(1)], STATE, None, False, T, set(), []),
        ([run(2, end=None), run(1)], STATE, None, True, T, set(), []),  # no end: never skip
        # runs not final yet are kept, not asked for; once final they are asked for from their created
        ([run(3, status=1, end=None, table="run"), run(1)], STATE, None, False, T, set(), [3]),
        ([run(3, status=6, end=EARLIER, table="run"), run(1)], STATE, None, False, T, set(), [3]),
        ([run(3, status=6, end=LATER, table="run"), run(1)], STATE, None, False, T, set(), [3]),
        # a Failure without tableType may be final: billing tells when it ended after the bookmark
        ([run(3, status=6, end=LATER, table=None), run(1)], STATE, None, True, T, set(), [3]),
        ([run(3, status=6, end=EARLIER, table=None), run(1)], STATE, None, False, T, set(), [3]),
        (
            [run(3, status=9, created="2026-01-15T00:00:00Z", end=EARLIER), run(1)],
            {**STATE, UNBILLED: [3]},
            None,
            True,
            "2026-01-15T00:00:00.000000Z",
            {3},
            [],
        ),
        # a final run never seen before, ended before the bookmark (it became visible late): asked for
        (
            [run(2, created="2026-01-20T00:00:00Z", end=EARLIER), run(1)],
            {**STATE, SEEN: [1]},
            None,
            True,
            "2026-01-20T00:00:00.000000Z",
            {2},
            [],
        ),
        (
            [run(2, end=EARLIER), run(1)],
            {**STATE, SEEN: [1, 2]},
            None,
            False,
            T,
            set(),
            [],
        ),  # seen: not again
        (
            [run(2, end=EARLIER), run(1)],
            {**STATE, SEEN: [1]},
            LATER,
            False,
            T,
            set(),
            [],
        ),  # before start_date
        # never seen but created before seen_since (beyond the lateness window): counted as seen, as in runs
        (
            [run(2, created="2026-01-20T00:00:00Z", end=EARLIER), run(1)],
            {**STATE, SEEN: [1], SINCE: "2026-02-01T00:00:00.000000Z"},
            None,
            False,
            T,
            set(),
            [],
        ),
        (
            [run(2, created="2026-02-20T00:00:00Z", end=EARLIER), run(1)],
            {**STATE, SEEN: [1], SINCE: "2026-02-01T00:00:00.000000Z"},
            None,
            True,
            "2026-02-20T00:00:00.000000Z",
            {2},
            [],
        ),  # after it: late, asked for
    ],
)
def test_plan_costs(runs, state, start, ask, from_, late, unbilled):
    plan = plan_costs(runs, state, start_date=start, max_records=1000)
    assert (plan.ask, plan.start, plan.late, plan.unbilled) == (ask, from_, late, unbilled)


@pytest.mark.parametrize(
    ("runs", "state", "lateness", "since", "seen"),
    [
        # the newest listed run's created minus the window, as in runs; active runs are not kept
        (
            [run(3, created=LATER), run(2, created=T), run(1, created=EARLIER)],
            {},
            Lateness(DAY),
            at(LATER) - DAY,
            [2, 3],
        ),
        (
            [run(3, created=LATER), run(2, created=T)],
            {},
            Lateness(dt.timedelta(hours=1)),
            at(LATER) - HOUR,
            [3],
        ),
        (
            [run(3, status=1, created=LATER, end=None, table="run"), run(2, created=T)],
            {},
            Lateness(DAY),
            at(LATER) - DAY,
            [2],
        ),
        # at most `cap` ids, never a floor lowered
        ([run(3, created=LATER), run(2, created=T)], {}, Lateness(60 * DAY, cap=1), at(LATER), [3]),
        ([run(2, created=T)], {SINCE: LATER}, Lateness(DAY), at(LATER), []),
        ([], {SINCE: LATER}, Lateness(DAY), at(LATER), []),
    ],
)
def test_plan_costs_keeps_the_runs_of_the_lateness_window_only(runs, state, lateness, since, seen):
    plan = plan_costs(runs, {**STATE, SEEN: [], **state}, lateness=lateness)
    assert (plan.since, plan.seen) == (since, seen)


def test_plan_costs_asks_when_older_runs_are_not_listed():
    """A list full of runs still running, all newer than the bookmark: a run finished before them may
    not be listed any more, so only billing can tell."""
    runs = [run(i, status=1, created=LATER, end=None, table="run") for i in (5, 4)]
    assert plan_costs(runs, STATE, max_records=2).ask
    assert not plan_costs(runs, STATE, max_records=3).ask
    assert not plan_costs(runs, {**STATE, "replication_key_value": LATER}, max_records=2).ask


@pytest.mark.parametrize("reverse", [False, True])
def test_plan_costs_finds_the_oldest_run_wherever_it_is_listed(reverse):
    """The oldest listed run is still the bookmark's own: the list reaches back far enough. It used to be
    read as the list's last entry, so an oldest-first list looked like a gap and asked for nothing new."""
    runs = [run(5, status=1, created=LATER, end=None, table="run"), run(1, created=T)]
    runs = runs[::-1] if reverse else runs
    assert not plan_costs(runs, STATE, max_records=2).ask


def cost(run_id: int, date: str | None) -> dict:
    return {"runId": run_id, "date": date, "cost": Decimal("0.0125")}


DAY = {d: f"2026-03-0{d}T08:00:00Z" for d in range(1, 10)}
OLDEST_FIRST = [cost(1, DAY[1]), cost(2, DAY[2]), cost(3, DAY[3]), cost(4, DAY[3]), cost(5, DAY[5])]


@pytest.mark.parametrize(
    ("listing", "bookmark", "ids", "late", "start", "emitted"),
    [
        # a first sync emits everything in date order (then run id), whatever order the listing has
        (OLDEST_FIRST, None, [], set(), None, [1, 2, 3, 4, 5]),
        (OLDEST_FIRST[::-1], None, [], set(), None, [1, 2, 3, 4, 5]),  # newest first: was [5] only
        ([OLDEST_FIRST[i] for i in (3, 0, 4, 2, 1)], None, [], set(), None, [1, 2, 3, 4, 5]),
        (OLDEST_FIRST[::-1], None, [], set(), DAY[3], [3, 4, 5]),  # start_date is inclusive
        # later: after the bookmark, and at its instant what it does not hold yet
        (OLDEST_FIRST[::-1], DAY[3], [3], set(), None, [4, 5]),
        (OLDEST_FIRST[::-1], DAY[3], [3, 4], set(), None, [5]),
        (OLDEST_FIRST[::-1], DAY[5], [5], set(), None, []),
        # a late run comes dated before the bookmark: first, as it is the oldest
        (OLDEST_FIRST[::-1], DAY[3], [3, 4], {2}, None, [2, 5]),
        # a listing that shifted while paged repeats an entry: once
        ([*OLDEST_FIRST[::-1], cost(5, DAY[5]), cost(4, DAY[3])], None, [], set(), None, [1, 2, 3, 4, 5]),
        # an undated cost is never skipped, and goes first
        ([cost(9, None), *OLDEST_FIRST[::-1]], DAY[5], [5], set(), None, [9]),
    ],
)
def test_costs_to_emit(listing, bookmark, ids, late, start, emitted):
    mark = Bookmark(at(bookmark) if bookmark else None, set(ids))
    found = costs_to_emit(listing, CostPlan(late=late), mark, start=at(start) if start else None)
    assert [c["runId"] for c in found] == emitted


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(0, 12))
def test_costs_interrupted_anywhere_and_resumed_are_emitted_once(rng, stop_after):
    """Emit the costs of a listing in any order, stop after any of them, resume from the bookmark kept so
    far with the listing in another order: every cost is out exactly once."""
    listing = [cost(i, DAY[1 + i // 2]) for i in range(12)]  # two costs per instant
    mark, out = Bookmark(), []
    for entry in costs_to_emit(rng.sample(listing, len(listing)), CostPlan(), mark, start=None)[:stop_after]:
        out.append(entry["runId"])
        mark.advance(at(entry["date"]), entry["runId"])
    state: dict = {}
    mark.save(state, "date")
    resumed = Bookmark.of(state)
    out += [
        c["runId"] for c in costs_to_emit(rng.sample(listing, len(listing)), CostPlan(), resumed, start=None)
    ]
    assert sorted(out) == list(range(12))


def transaction(tid: int, created: str) -> dict:
    return {"id": tid, "created": created, "amount": Decimal("-0.0125")}


class Listing:
    """A newest-first listing that counts how many items were read (pages are read lazily)."""

    def __init__(self, items: list[dict]) -> None:
        self.items, self.read = items, 0

    def __iter__(self):
        for item in self.items:
            self.read += 1
            yield item


NEWEST_FIRST = [transaction(9 - i, f"2026-03-0{9 - i}T00:00:00Z") for i in range(8)]  # 9..2


def test_new_transactions_stop_at_the_first_page_that_reaches_below_the_bookmark():
    listing = Listing(NEWEST_FIRST)
    mark = Bookmark(at("2026-03-06T00:00:00Z"), {6})
    new = new_transactions(listing, mark, start=None, page_size=2)
    assert [t["id"] for t in new.items] == [7, 8, 9]  # oldest first
    assert listing.read == 6  # pages [9, 8], [7, 6] (6 is at the bookmark, not older), [5, 4]
    assert (new.pages, new.unordered) == (3, False)
    listing = Listing(NEWEST_FIRST)
    new_transactions(listing, Bookmark(at("2026-03-06T12:00:00Z"), {99}), start=None, page_size=2)
    assert listing.read == 4  # page [7, 6] reaches below the bookmark


@pytest.mark.parametrize(
    "order",
    [
        NEWEST_FIRST[::-1],  # oldest first: its first page is all below the bookmark
        [NEWEST_FIRST[i] for i in (6, 5, 0, 7, 3, 1, 4, 2)],  # shuffled across pages
        [NEWEST_FIRST[i] for i in (7, 6, 1, 0, 5, 4, 3, 2)],  # newest first on the first page only
    ],
)
def test_new_transactions_read_a_listing_that_is_not_newest_first_whole(order):
    listing = Listing(order)
    new = new_transactions(listing, Bookmark(at("2026-03-06T00:00:00Z"), {6}), start=None, page_size=2)
    assert [t["id"] for t in new.items] == [7, 8, 9]
    assert listing.read == 8 and new.unordered


def test_new_transactions_do_not_stop_on_a_page_that_says_nothing_about_the_order():
    """A first page at one instant, below the bookmark, may begin an oldest-first listing: the next page
    tells."""
    same = [transaction(i, "2026-03-01T00:00:00Z") for i in (1, 2)]
    listing = Listing([*same, transaction(3, "2026-03-09T00:00:00Z")])
    new = new_transactions(listing, Bookmark(at("2026-03-06T00:00:00Z"), {6}), start=None, page_size=2)
    assert [t["id"] for t in new.items] == [3] and new.unordered
    newest = Listing([*same, transaction(0, "2026-02-01T00:00:00Z"), transaction(-1, "2026-01-01T00:00:00Z")])
    new = new_transactions(newest, Bookmark(at("2026-03-06T00:00:00Z"), {6}), start=None, page_size=2)
    assert newest.read == 4 and not new.items and not new.unordered


def test_new_transactions_keep_every_one_at_the_bookmarks_instant_and_each_once():
    items = [
        transaction(12, "2026-03-02T00:00:00Z"),
        transaction(11, T),
        transaction(11, T),  # pushed down a page by a new one while reading
        transaction(10, T),
        transaction(9, "2026-02-01T00:00:00Z"),
    ]
    new = new_transactions(items, Bookmark(at(T), {10}), start=None, page_size=2)
    assert [t["id"] for t in new.items] == [11, 12]
    everything = new_transactions(items, Bookmark(), start=None, page_size=2)
    assert [t["id"] for t in everything.items] == [9, 10, 11, 12]
    from_start = new_transactions(items, Bookmark(), start=at(T), page_size=2)
    assert [t["id"] for t in from_start.items] == [10, 11, 12]


# --- syncs against the sandbox ----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_sync():
    """One sync of the demo data, with the requests it made."""
    with Sandbox() as sandbox:
        result = sync(config_for(sandbox))
        yield sandbox, result


def test_discovery_lists_the_billing_streams_whatever_the_key_may_do(demo_sandbox, tmp_path):
    config = write_json(tmp_path / "config.json", config_for(demo_sandbox, api_key=NOBILLING_API_KEY))
    proc = run_cli(["--config", str(config), "--discover"])
    assert proc.returncode == 0, proc.stderr
    catalog = {s["tap_stream_id"]: s for s in json.loads(proc.stdout)["streams"]}
    assert set(BILLING_STREAMS) <= set(catalog)
    assert catalog["run_costs"]["key_properties"] == ["runId"]
    assert catalog["run_costs"]["replication_key"] == "date"
    assert catalog["run_costs"]["schema"]["properties"]["cost"]["type"] == ["number", "null"]
    assert catalog["credit_transactions"]["replication_key"] == "created"
    assert catalog["spaces"]["key_properties"] == ["id"]


def test_spaces(demo_sync):
    _, result = demo_sync
    assert [(s["id"], s["name"]) for s in result.records["spaces"]] == [(7, "Pricing"), (12, "Research")]
    assert result.records["spaces"][0]["created"].endswith("Z")


def test_run_costs_are_every_billed_run_at_its_exact_cost(demo_sync):
    sandbox, result = demo_sync
    costs = result.records["run_costs"]
    billed = {r.id: r for r in sandbox.data.runs.values() if sandbox_billing.billed(r)}
    assert sorted(c["runId"] for c in costs) == sorted(billed) and len(costs) == 24
    for cost in costs:
        run = billed[cost["runId"]]
        assert cost["agentId"] == run.agent_id
        assert isinstance(cost["cost"], Decimal)
        assert cost["cost"] == sandbox_billing.run_cost(run) > 0
        assert cost["date"] == cost["endTime"] and cost["date"].endswith("Z")
    # one request per agent: six agents, fewer than 100 billed runs each
    assert len(billing_requests(sandbox, "agents")) == 6


def test_the_client_keeps_the_digits_of_costs():
    with Sandbox(seed_demo=False) as sandbox:
        agent = sandbox.add_agent("busy")["id"]
        ran = sandbox.add_run(agent, pageCount=123_456_789)
        client = SequentumClient(sandbox.api_key, sandbox.base_url)
        (cost,) = client.list_run_costs(agent)
        assert cost["runId"] == ran["id"]
        expected = sandbox_billing.run_cost(sandbox.data.runs[ran["id"]])
        assert isinstance(cost["cost"], Decimal) and cost["cost"] == expected > 300_000


def test_credit_transactions_come_oldest_first_over_two_pages(demo_sync):
    sandbox, result = demo_sync
    rows = result.records["credit_transactions"]
    assert len(rows) == len({r["id"] for r in rows}) == 112
    assert [r["created"] for r in rows] == sorted(r["created"] for r in rows)
    pages = [(r.query["pageIndex"], r.query["recordsPerPage"]) for r in billing_requests(sandbox, "history")]
    assert pages == [("1", "100"), ("2", "100")]
    balance = Decimal(0)
    for row in rows:
        assert isinstance(row["amount"], Decimal)
        balance += row["amount"]
        assert row["balance"] == balance  # exact: no float ever in between
    assert result.state["bookmarks"]["credit_transactions"]["replication_key_value"] == rows[-1]["created"]


def test_run_costs_page_through_more_than_a_hundred_runs():
    with Sandbox(seed_demo=False) as sandbox:
        agent = sandbox.add_agent("daily")["id"]
        start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        for day in range(130):
            sandbox.add_run(agent, created=start + dt.timedelta(days=day))
        result = sync(config_for(sandbox, content_streams=False))
        assert len(result.records["run_costs"]) == len(set(result.ids("run_costs", "runId"))) == 130
        pages = [r.query["pageIndex"] for r in billing_requests(sandbox, "agents")]
        assert pages == ["1", "2"]
        state = result.state["bookmarks"]["run_costs"]["partitions"][0]
        assert state["context"] == {"agentId": agent}
        assert state["replication_key_value"] == max(result.ids("run_costs", "date"))


def test_a_second_sync_emits_only_new_costs_and_transactions_and_asks_only_for_agents_with_new_runs(sandbox):
    config = config_for(sandbox)
    first = sync(config)
    sandbox.clear_requests()
    unchanged = sync(config, state=first.state)
    assert not unchanged.records.get("run_costs") and not unchanged.records.get("credit_transactions")
    assert billing_requests(sandbox, "agents") == []  # no agent has a new final run
    assert len(billing_requests(sandbox, "history")) == 1  # its first page reaches below the bookmark

    new_run = sandbox.add_run(STEAM, files=[("steam.csv", b"rank,name\n1,Dota 2\n")])
    sandbox.clear_requests()
    second = sync(config, state=unchanged.state)
    assert second.ids("run_costs", "runId") == [new_run["id"]]
    assert second.ids("credit_transactions") == [RUN_DEBIT_BASE + new_run["id"]]
    assert second.records["credit_transactions"][0]["amount"] == -second.records["run_costs"][0]["cost"]
    (asked,) = billing_requests(sandbox, "agents")
    bookmarks = {p["context"]["agentId"]: p for p in first.state["bookmarks"]["run_costs"]["partitions"]}
    assert asked.path == f"/api/v1/billing/agents/{STEAM}/runs"
    assert asked.query["startDate"] == bookmarks[STEAM]["replication_key_value"]

    third = sync(config, state=second.state)
    assert not third.records.get("run_costs") and not third.records.get("credit_transactions")


def test_a_run_ending_at_the_bookmarks_instant_is_emitted_once(sandbox):
    agent = sandbox.add_agent("twins")["id"]
    config = config_for(sandbox, agent_ids=[agent], content_streams=False)
    end = "2026-02-01T10:00:00Z"
    one = sandbox.add_run(agent, created="2026-02-01T09:00:00Z", endTime=end)
    first = sync(config)
    assert first.ids("run_costs", "runId") == [one["id"]]
    two = sandbox.add_run(agent, created="2026-02-01T09:30:00Z", endTime=end)
    second = sync(config, state=first.state)
    assert second.ids("run_costs", "runId") == [two["id"]]
    (partition,) = second.state["bookmarks"]["run_costs"]["partitions"]
    assert partition[AT_BOOKMARK] == sorted([one["id"], two["id"]])
    sandbox.clear_requests()
    assert not sync(config, state=second.state).records.get("run_costs")
    assert billing_requests(sandbox, "agents") == []


def test_a_run_billed_later_with_an_older_date_is_not_missed(sandbox):
    """A failure waiting to be retried is not billed; given up on, it is billed dated by its old end,
    before a bookmark that other runs moved on meanwhile."""
    agent = sandbox.add_agent("retries")["id"]
    config = config_for(sandbox, agent_ids=[agent], content_streams=False)
    waiting = sandbox.add_run(agent, status=6, created="2026-02-01T09:00:00Z", waiting_retry=True)
    waiting_end = sandbox.data.runs[waiting["id"]].end_time
    first = sync(config)
    assert not first.records.get("run_costs")
    assert first.state["bookmarks"]["run_costs"]["partitions"][0][UNBILLED] == [waiting["id"]]
    later = sandbox.add_run(agent, created="2026-02-02T09:00:00Z")
    second = sync(config, state=first.state)
    assert second.ids("run_costs", "runId") == [later["id"]]
    sandbox.set_run_status(agent, waiting["id"], 6)  # given up: final, in billing
    with sandbox.data.lock:
        sandbox.data.runs[waiting["id"]].end_time = waiting_end  # dated by the end it had
    sandbox.clear_requests()
    third = sync(config, state=second.state)
    assert third.ids("run_costs", "runId") == [waiting["id"]]
    assert third.records["run_costs"][0]["date"] < second.records["run_costs"][0]["date"]
    (asked,) = billing_requests(sandbox, "agents")
    assert asked.query["startDate"] == "2026-02-01T09:00:00.000000Z"
    (partition,) = third.state["bookmarks"]["run_costs"]["partitions"]
    assert UNBILLED not in partition
    assert partition["replication_key_value"] == second.records["run_costs"][0]["date"]
    assert not sync(config, state=third.state).records.get("run_costs")


def test_a_sync_stopped_among_an_agents_costs_remembers_its_unbilled_runs(sandbox, tmp_path):
    """The bookmark moves with each cost emitted, so the runs not billed yet must be in the state from the
    first one on: a sync stopped (SIGTERM) half-way through an agent's costs may not forget the waiting
    failure."""
    agent = sandbox.add_agent("retries")["id"]
    waiting = sandbox.add_run(agent, status=6, created="2026-02-01T09:00:00Z", waiting_retry=True)
    waiting_end = sandbox.data.runs[waiting["id"]].end_time
    start = dt.datetime(2026, 2, 2, tzinfo=dt.UTC)
    for hour in range(101):  # two pages of costs
        sandbox.add_run(agent, created=start + dt.timedelta(hours=hour))
    config = config_for(sandbox, agent_ids=[agent], content_streams=False)
    proc = run_cli(
        ["--config", str(write_json(tmp_path / "c.json", config))], stdout=SignalAfter("run_costs", 60)
    )
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    messages = parse_messages(proc.stdout)
    assert len([m for m in messages if m["type"] == "RECORD" and m["stream"] == "run_costs"]) == 60
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    (partition,) = state["bookmarks"]["run_costs"]["partitions"]
    assert partition[UNBILLED] == [waiting["id"]]

    sandbox.set_run_status(agent, waiting["id"], 6)  # given up: final, in billing
    with sandbox.data.lock:
        sandbox.data.runs[waiting["id"]].end_time = waiting_end  # dated by the end it had
    resumed = sync(config, state=state)
    assert waiting["id"] in resumed.ids("run_costs", "runId")
    assert len(resumed.records["run_costs"]) == 101 - 60 + 1


def test_a_run_visible_only_after_the_bookmark_passed_its_end_is_billed_once(sandbox):
    """runs and the content streams take a run that becomes visible late (servers with different clocks);
    its cost, dated before the bookmark, must come too, and once."""
    agent = sandbox.add_agent("late runs")["id"]
    config = config_for(sandbox, agent_ids=[agent], content_streams=False, runs_full_check_hours=0)
    sandbox.add_run(agent, created="2026-04-10T00:00:00Z")
    first = sync(config)
    late = sandbox.add_run(agent, created="2026-04-09T23:10:00Z")  # in the window, ended before the bookmark
    second = sync(config, state=first.state)
    assert second.ids("runs") == [late["id"]]
    assert second.ids("run_costs", "runId") == [late["id"]]
    (partition,) = second.state["bookmarks"]["run_costs"]["partitions"]
    assert partition["replication_key_value"] == first.records["run_costs"][0]["date"]  # not moved back
    sandbox.clear_requests()
    third = sync(config, state=second.state)
    assert not third.records.get("run_costs")
    assert billing_requests(sandbox, "agents") == []


def test_a_transaction_at_the_bookmarks_instant_is_emitted_once(sandbox):
    config = config_for(sandbox, content_streams=False)
    first = sync(config)
    newest = first.records["credit_transactions"][-1]
    credit = sandbox.data.add_credit("Adjustment", "0.0001", newest["created"], message="same instant")
    second = sync(config, state=first.state)
    assert second.ids("credit_transactions") == [credit.id]
    assert second.records["credit_transactions"][0]["amount"] == Decimal("0.0001")
    assert sorted(second.state["bookmarks"]["credit_transactions"][AT_BOOKMARK]) == sorted(
        [newest["id"], credit.id]
    )
    assert not sync(config, state=second.state).records.get("credit_transactions")


def test_start_date_applies_to_costs_and_transactions(demo_sandbox):
    cutoff = "2026-01-01T00:00:00.000000Z"  # monthly credits land at exactly this instant: kept
    result = sync(config_for(demo_sandbox, start_date=cutoff, content_streams=False))
    assert result.records["run_costs"] and result.records["credit_transactions"]
    assert all(c["date"] >= cutoff for c in result.records["run_costs"])
    assert all(t["created"] >= cutoff for t in result.records["credit_transactions"])
    everything = sync(config_for(demo_sandbox, content_streams=False))
    assert len(result.records["credit_transactions"]) < len(everything.records["credit_transactions"])
    assert cutoff in result.ids("credit_transactions", "created")


def test_a_key_without_billing_read_skips_the_billing_streams_with_one_line_each(sandbox, tmp_path):
    config = write_json(tmp_path / "config.json", config_for(sandbox, api_key=NOBILLING_API_KEY))
    proc = run_cli(["--config", str(config)])
    assert proc.returncode == 0, proc.stderr
    streams = {m["stream"] for m in parse_messages(proc.stdout) if m["type"] == "RECORD"}
    assert {"agents", "agent_versions", "runs", "run_files", "spaces", "steam"} <= streams
    assert not {"run_costs", "credit_transactions"} & streams
    skipped = sorted(line.partition("Stream ")[2] for line in proc.stderr.splitlines() if "skipped" in line)
    assert len(skipped) == 2, proc.stderr
    for stream, line in zip(("credit_transactions", "run_costs"), skipped, strict=True):
        assert line.startswith(f"{stream} skipped: the API key lacks the billing:read scope (HTTP 403")
        assert "insufficient_scope" in line
    # the first refusal ends the stream: one billing request each, not one per agent
    assert len(billing_requests(sandbox, "agents")) == len(billing_requests(sandbox, "history")) == 1


def test_a_refusal_carries_what_the_key_lacks(sandbox):
    client = SequentumClient(NOBILLING_API_KEY, sandbox.base_url)
    with pytest.raises(errors.PermissionDeniedError) as caught:
        next(client.list_credit_transactions())
    assert (caught.value.error_code, caught.value.scope) == ("insufficient_scope", "billing:read")
    assert "billing:read" in caught.value.detail
    assert "HTTP 403, insufficient_scope" in str(caught.value)
