"""Run bookkeeping: which runs a sync handles, what it keeps, and which agents' runs lists it reads, as
tables of cases (pure, no HTTP)."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_sequentum.domain import parse_timestamp
from tap_sequentum.incremental import (
    RECHECK_AFTER,
    Lateness,
    Listing,
    check_time,
    finality,
    fingerprint,
    full_check_due,
    kept_seen,
    next_since,
    plan_runs,
    why_list,
)

DONE, RUNNING, FAILURE, FAILED, QUEUED = 9, 1, 6, 7, 4
DAY = dt.timedelta(days=1)
#: Lateness wide enough that no test of what runs are handled meets its bound (those tests say so).
WIDE = Lateness(window=365 * DAY, cap=1000)


def run(run_id: int, day: int, status: int = DONE, table_type: str | None = "auto", **extra) -> dict:
    if table_type == "auto":
        table_type = "history" if status in (6, 7, 8, 9, 10, 11) else "run"
    record = {"id": run_id, "created": f"2025-01-{day:02d}T00:00:00Z", "status": status, **extra}
    if table_type is not None:
        record["tableType"] = table_type
    return record


def ts(day: int) -> str:
    return f"2025-01-{day:02d}T00:00:00.000000Z"


def at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2025, 1, day, hour, tzinfo=dt.UTC)


def ids(plan) -> list[int]:
    return [r["id"] for r in plan.handle]


def sync(runs: list[dict], state: dict | None = None, **kwargs) -> tuple[list[int], dict]:
    """One sync as the streams run it: plan, handle every planned run, save."""
    state = {} if state is None else state
    kwargs.setdefault("lateness", WIDE)
    plan = plan_runs(runs, state, **kwargs)
    for item in plan.handle:
        plan.mark_handled(state, item)
    plan.save(state, "created")
    return ids(plan), state


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (run(1, 1, DONE), "final"),
        (run(1, 1, FAILED), "final"),
        (run(1, 1, FAILURE), "final"),  # Failure listed as history: Sequentum will not restart it
        (run(1, 1, FAILURE, table_type="run"), "watched"),  # waiting to retry (isWaitOnFailure)
        (run(1, 1, FAILURE, table_type=None), "watched"),  # no tableType: it may still be restarted
        (run(1, 1, DONE, table_type=None), "final"),
        (run(1, 1, DONE, table_type="run"), "watched"),  # finished but still listed as active
        (run(1, 1, RUNNING), "active"),
        (run(1, 1, QUEUED), "active"),
        ({"id": 1, "status": None}, "active"),  # unknown status: re-read, never bookmarked past
        ({"id": 1, "status": 42}, "active"),
    ],
)
def test_finality(record, expected):
    assert finality(record) == expected


def test_first_sync_handles_everything_and_bookmarks_newest():
    handled, state = sync([run(3, 3), run(2, 2), run(1, 1)])
    assert handled == [1, 2, 3]  # oldest first: an interrupted sync has handled a prefix of history
    assert state["replication_key_value"] == ts(3)
    assert state["seen_run_ids"] == [1, 2, 3]


def test_an_active_run_is_handled_until_it_finishes_then_once():
    handled, state = sync([run(3, 3), run(2, 2, RUNNING), run(1, 1)])
    assert handled == [1, 2, 3]
    assert state["replication_key_value"] == ts(2)  # the oldest active run holds the bookmark
    assert state["seen_run_ids"] == [1, 3]
    assert state["watched_runs"] == {"2": ""}  # watched until it ends: whatever it ends as is a change
    handled, state = sync([run(4, 4), run(3, 3), run(2, 2, RUNNING), run(1, 1)], state)
    assert handled == [2, 4]
    handled, state = sync([run(4, 4), run(3, 3), run(2, 2, DONE), run(1, 1)], state)
    assert handled == [2]
    assert state["replication_key_value"] == ts(4)
    handled, _ = sync([run(4, 4), run(3, 3), run(2, 2, DONE), run(1, 1)], state)
    assert handled == []


def test_a_late_run_within_the_window_is_handled():
    _, state = sync([run(5, 5), run(3, 3)])
    plan = plan_runs([run(5, 5), run(4, 4), run(3, 3)], state, lateness=WIDE)  # 4 became visible late
    assert ids(plan) == [4]
    assert plan.late == [4]


def test_a_same_timestamp_new_run_is_not_lost():
    _, state = sync([run(2, 2), run(1, 1)])
    handled, _ = sync([run(5, 2), run(2, 2), run(1, 1)], state)
    assert handled == [5]


def test_a_restarted_failure_is_handled_again_when_it_changes_then_once_when_final():
    waiting = run(2, 2, FAILURE, table_type="run", endTime="2025-01-02T00:10:00Z", exportCount=3)
    handled, state = sync([run(3, 3), waiting])
    assert handled == [2, 3]
    assert state["watched_runs"] == {"2": fingerprint(waiting)}
    assert 2 not in state["seen_run_ids"]
    handled, state = sync([run(3, 3), waiting], state)
    assert handled == []  # unchanged: costs nothing
    restarted = run(2, 2, RUNNING, endTime=None)
    handled, state = sync([run(3, 3), restarted], state)
    assert handled == [2]
    # Running again, it stays watched: what it delivered before the restart is not taken again.
    assert state["watched_runs"] == {"2": fingerprint(waiting)}
    finished = run(2, 2, DONE, endTime="2025-01-02T05:00:00Z", exportCount=40)
    handled, state = sync([run(3, 3), finished], state)
    assert handled == [2]
    assert "watched_runs" not in state and state["seen_run_ids"] == [2, 3]
    handled, _ = sync([run(3, 3), finished], state)
    assert handled == []


def test_a_watched_run_that_ends_as_history_without_other_change_is_handled_once_more():
    _, state = sync([run(2, 2, FAILURE, table_type="run")])
    handled, state = sync([run(2, 2, FAILURE, table_type="history")], state)
    assert handled == [2]
    handled, _ = sync([run(2, 2, FAILURE, table_type="history")], state)
    assert handled == []


def test_state_keeps_only_ids_still_listed():
    _, state = sync([run(3, 3), run(2, 2), run(1, 1)])
    _, state = sync([run(5, 5), run(4, 4), run(3, 3)], state)  # 1 and 2 left the listing window
    assert state["seen_run_ids"] == [3, 4, 5]


def test_start_date_filters_old_runs():
    handled, _ = sync([run(3, 3), run(2, 2), run(1, 1)], start_date="2025-01-02T00:00:00Z")
    assert handled == [2, 3]


def test_state_wins_over_start_date():
    _, state = sync([run(3, 3), run(2, 2)])
    handled, _ = sync([run(3, 3), run(2, 2)], state, start_date="2024-01-01")
    assert handled == []


@pytest.mark.parametrize(
    ("runs", "bookmark", "max_records", "gap"),
    [
        ([run(5, 5), run(4, 4)], ts(2), 2, True),  # full list, all newer than bookmark
        ([run(5, 5), run(4, 4)], ts(4), 2, False),  # the bookmark run is still listed
        ([run(5, 5)], ts(2), 2, False),  # the list is not full: nothing older exists
        ([run(5, 5), run(4, 4)], None, 2, False),  # first sync: nothing to miss
    ],
)
def test_gap_detection(runs, bookmark, max_records, gap):
    state = {"replication_key_value": bookmark, "seen_run_ids": []} if bookmark else {}
    assert plan_runs(runs, state, max_records=max_records).gap is gap


def test_sentinel_and_missing_dates_are_skipped_not_fatal():
    plan = plan_runs([run(2, 2), {"id": 9, "created": "0001-01-01T00:00:00", "status": DONE}], lateness=WIDE)
    assert ids(plan) == [2]
    assert plan.skipped_no_date == 1


def test_naive_offset_and_seven_digit_timestamps_compare_in_utc():
    runs = [
        {"id": 3, "created": "2025-01-02T23:59:59.9999999Z", "status": DONE},
        {"id": 2, "created": "2025-01-02T01:00:00+02:00", "status": DONE},  # 2025-01-01T23:00Z
        {"id": 1, "created": "2025-01-01T22:00:00", "status": DONE},
    ]
    plan = plan_runs(runs)
    assert ids(plan) == [1, 2, 3]
    assert plan.bookmark.startswith("2025-01-02T23:59:59.999999")


def arranged(listing: list[dict], order: str, rng: random.Random) -> list[dict]:
    """A newest-first listing as a server might order it."""
    if order == "oldest first":
        return listing[::-1]
    if order == "shuffled":
        return rng.sample(listing, len(listing))
    return listing


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 28), st.sampled_from([DONE, FAILED, FAILURE, RUNNING, QUEUED]), st.booleans()
        ),
        max_size=12,
    ),
    st.randoms(use_true_random=False),
    st.sampled_from([None, 5, 14]),
)
def test_the_plan_does_not_depend_on_the_listings_order(specs, rng, bookmark_day):
    """Whatever order the server lists runs in, the same runs are handled, in the same order, with the
    same state to keep."""
    runs = [
        run(i, day, status, table_type=None if blank else "auto")
        for i, (day, status, blank) in enumerate(specs)
    ]
    state = {"replication_key_value": ts(bookmark_day), "seen_run_ids": [0, 2]} if bookmark_day else {}
    expected = plan_runs(
        sorted(runs, key=lambda r: (r["created"], r["id"]), reverse=True), state, max_records=10
    )
    for _ in range(3):
        assert plan_runs(rng.sample(runs, len(runs)), state, max_records=10) == expected


WINDOW = 3 * DAY


@dataclass
class History:
    """Runs that appear late, finish out of order, fail and restart, and what each sync listed."""

    rng: random.Random
    runs: dict[int, dict] = field(default_factory=dict)
    visible_from: dict[int, int] = field(default_factory=dict)
    first_seen: dict[int, tuple[int, str]] = field(default_factory=dict)  # round, finality when first listed
    newest_listed: list[dt.datetime | None] = field(default_factory=list)  # per round, so far

    def advance(self, now: int) -> list[dict]:
        """New runs with any created, visible only some rounds later; some runs move on. The listing."""
        for _ in range(self.rng.randint(0, 3)):
            run_id = len(self.runs) + 1
            self.runs[run_id] = run(
                run_id, self.rng.randint(1, 28), self.rng.choice([RUNNING, QUEUED, DONE, FAILED, FAILURE])
            )
            if self.runs[run_id]["status"] == FAILURE and self.rng.random() < 0.5:
                self.runs[run_id]["tableType"] = "run"
            self.visible_from[run_id] = now + self.rng.choice([0, 0, 1, 3])
        for record in self.runs.values():
            if finality(record) != "final" and self.rng.random() < 0.4:
                status = self.rng.choice([DONE, FAILED, RUNNING])
                record.update(run(record["id"], int(record["created"][8:10]), status))
        return self.listed(now)

    def settle(self, now: int) -> list[dict]:
        """Everything finished and visible."""
        for record in self.runs.values():
            if finality(record) != "final":
                record.update(run(record["id"], int(record["created"][8:10]), DONE))
        self.visible_from = dict.fromkeys(self.runs, 0)
        return self.listed(now)

    def listed(self, now: int) -> list[dict]:
        listing = sorted(self.runs.values(), key=lambda r: (r["created"], r["id"]), reverse=True)
        visible = [r for r in listing if self.visible_from[r["id"]] <= now]
        for record in visible:
            self.first_seen.setdefault(record["id"], (now, finality(record)))
        dates = [dt.datetime.fromisoformat(r["created"]) for r in visible] + self.newest_listed[-1:]
        self.newest_listed.append(max(filter(None, dates), default=None))
        return visible

    def too_late(self, run_id: int, window: dt.timedelta) -> bool:
        """First listed as final more than the window older than the newest run listed before it."""
        seen_round, kind = self.first_seen[run_id]
        before = self.newest_listed[seen_round - 1] if seen_round else None
        created = dt.datetime.fromisoformat(self.runs[run_id]["created"])
        return kind == "final" and before is not None and created < before - window


@pytest.mark.parametrize("order", ["newest first", "oldest first", "shuffled"])
@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_random_histories_handle_every_run_within_the_lateness_bound_exactly_once(order, seed):
    """Listed in any order, no sync handles a final run it already handled, and every run ends up handled in
    a final state, except one first listed as final more than the window older than the newest run listed
    before it (counted as handled: the bound)."""
    history = History(random.Random(seed))
    lateness = Lateness(3 * DAY, cap=1000)
    state: dict = {}
    handled: list[int] = []
    for now in range(13):
        listing = history.advance(now) if now < 12 else history.settle(now)
        plan = plan_runs(arranged(listing, order, history.rng), state, lateness=lateness)
        for record in plan.handle:
            if finality(record) == "final":
                assert record["id"] not in handled, "a final run was handled twice"
                handled.append(record["id"])
            plan.mark_handled(state, record)
        plan.save(state, "created")
    assert sorted(handled) == [i for i in sorted(history.runs) if not history.too_late(i, lateness.window)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 28), st.integers(0, 23), st.sampled_from([DONE, FAILED, RUNNING])),
             min_size=1, max_size=40),
    st.integers(0, 60),
    st.integers(1, 8),
    st.sampled_from([dt.timedelta(hours=1), DAY, 10 * DAY]),
)  # fmt: skip
def test_a_sync_stopped_after_any_run_resumes_from_its_state_handling_each_run_once(specs, stop, cap, window):
    """Every STATE written between two handled runs is a place to resume from, and the ids it keeps stay
    bounded on the way: a sync stopped anywhere, then resumed, handles each final run exactly once."""
    lateness = Lateness(window, cap)
    runs = [
        {**run(i, day, status), "created": at(day, hour).isoformat()}
        for i, (day, hour, status) in enumerate(specs, start=1)
    ]
    state: dict = {}
    plan = plan_runs(runs, state, lateness=lateness)
    ties = max(collections.Counter(r["created"] for r in runs).values())
    handled = []
    for record in plan.handle[:stop]:
        plan.mark_handled(state, record)
        handled.append(record["id"])
        assert len(state.get("seen_run_ids", [])) <= cap + 2 * ties  # bounded on the way, not only at the end
    resumed = plan_runs(runs, state, lateness=lateness)
    handled += ids(resumed)
    final = [r["id"] for r in runs if finality(r) == "final"]
    assert sorted(i for i in handled if i in final) == sorted(final)
    for record in resumed.handle:
        resumed.mark_handled(state, record)
    resumed.save(state, "created")
    assert not [i for i in ids(plan_runs(runs, state, lateness=lateness)) if i in final]


# -- the lateness bound --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created", "previous", "lateness", "since"),
    [
        ([], None, Lateness(DAY, 5), None),  # nothing listed, nothing kept
        ([], at(3), Lateness(DAY, 5), at(3)),  # nothing listed: the floor stays
        ([at(10), at(9), at(5)], None, Lateness(DAY, 5), at(9)),  # the newest minus the window
        ([at(5), at(10), at(9)], None, Lateness(DAY, 5), at(9)),  # in any order
        ([at(10), at(9), at(5)], at(9, 12), Lateness(DAY, 5), at(9, 12)),  # never lowered
        ([at(d) for d in range(1, 11)], None, Lateness(30 * DAY, 3), at(8)),  # at most 3 at or after it
        ([at(10), at(10), at(10), at(9)], None, Lateness(30 * DAY, 2), at(10)),  # ties: all kept
        ([at(10)], None, Lateness(dt.timedelta(0), 5), at(10)),  # no window: only the newest instant
    ],
)
def test_next_since(created, previous, lateness, since):
    assert next_since(created, previous, lateness) == since


@pytest.mark.parametrize(
    ("final", "since", "pending", "expected"),
    [
        ({1: at(1), 2: at(2), 3: at(3)}, None, (), (None, [1, 2, 3])),  # no floor: every id
        ({1: at(1), 2: at(2), 3: at(3)}, at(2), (), (at(2), [2, 3])),  # from the floor on
        ({1: at(1), 2: at(2), 3: at(3)}, at(3), (2,), (at(2), [3])),  # lowered to a run not out yet
        ({1: at(1), 2: at(2), 3: at(3)}, at(3), (1, 2), (at(1), [3])),
        ({1: at(1), 2: None, 3: at(3)}, at(3), (), (at(3), [2, 3])),  # an undated run: by id always
    ],
)
def test_kept_seen(final, since, pending, expected):
    assert kept_seen(final, since, pending) == expected


HOURLY = [run(i, 1) | {"created": (at(1) + dt.timedelta(hours=i)).isoformat()} for i in range(1000)]


def test_the_state_keeps_the_window_only_whatever_the_history():
    """1,000 runs an hour apart, a one-hour window: two ids (the newest instant and the one an hour
    before), and a floor; the next sync handles nothing."""
    handled, state = sync(HOURLY, lateness=Lateness(dt.timedelta(hours=1)))
    assert len(handled) == 1000
    assert state["seen_run_ids"] == [998, 999]
    assert state["seen_since"] == "2025-02-11T14:00:00.000000Z"
    assert sync(HOURLY, state, lateness=Lateness(dt.timedelta(hours=1)))[0] == []


def test_the_cap_bounds_the_ids_when_many_runs_fall_in_the_window():
    handled, state = sync(HOURLY, lateness=Lateness(365 * DAY, cap=50))
    assert len(handled) == 1000
    assert state["seen_run_ids"] == list(range(950, 1000))
    assert sync(HOURLY, state, lateness=Lateness(365 * DAY, cap=50))[0] == []


@pytest.mark.parametrize(
    ("late", "handled"),
    [
        (run(7, 9) | {"created": at(9, 23).isoformat()}, [7]),  # an hour before the newest: in the window
        (run(7, 9) | {"created": at(9, 22).isoformat()}, []),  # two hours before: counted as handled
        (run(7, 9, RUNNING) | {"created": at(1).isoformat()}, [7]),  # active: by id whatever its created
        (run(7, 9, FAILURE, table_type="run") | {"created": at(1).isoformat()}, [7]),  # watched: likewise
    ],
)
def test_a_late_run_is_handled_within_the_window_only(late, handled):
    one_hour = Lateness(dt.timedelta(hours=1))
    listed = [run(1, 10) | {"created": at(10).isoformat()}, run(2, 9) | {"created": at(9).isoformat()}]
    _, state = sync(listed, lateness=one_hour)
    assert state["seen_since"] == "2025-01-09T23:00:00.000000Z" and state["seen_run_ids"] == [1]
    assert sync([*listed, late], state, lateness=one_hour)[0] == handled


def test_a_run_active_when_first_listed_is_handled_when_it_ends_whatever_its_created():
    one_hour = Lateness(dt.timedelta(hours=1))
    _, state = sync([run(1, 10), run(2, 1, RUNNING)], lateness=one_hour)
    assert state["seen_since"] == "2025-01-09T23:00:00.000000Z" and state["watched_runs"] == {"2": ""}
    handled, state = sync([run(1, 10), run(2, 1, DONE)], state, lateness=one_hour)
    assert handled == [2]
    assert "watched_runs" not in state and state["seen_run_ids"] == [1]
    assert sync([run(1, 10), run(2, 1, DONE)], state, lateness=one_hour)[0] == []


def test_a_state_written_before_the_window_is_read_and_bounded():
    """Without `seen_since` every id is a run handled: nothing is handled again, and the ids shrink."""
    old = {"seen_run_ids": [r["id"] for r in HOURLY], "replication_key_value": "2025-02-11T15:00:00.000000Z"}
    handled, state = sync(HOURLY, old, lateness=Lateness(dt.timedelta(hours=1)))
    assert handled == []
    assert state["seen_run_ids"] == [998, 999]


# -- which agents' runs lists a sync reads ----------------------------------------------------------

NOW = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
HINT = "2026-05-01T10:00:00.000000Z|9|3|"
CHECKED = "2026-05-01T00:00:00.000000Z"  # 12 hours ago
KEPT = {"list_hint": HINT, "checked_at": CHECKED}


@pytest.mark.parametrize(
    ("hint", "state", "every", "pending", "reason"),
    [
        (HINT, KEPT, DAY, ("watched_runs",), None),  # unchanged, nothing pending, checked lately: skipped
        (None, KEPT, DAY, ("watched_runs",), "the agent list gives no hint"),  # never skips without one
        (HINT, {}, DAY, ("watched_runs",), "not listed with a hint before"),  # an agent never seen
        (HINT, {"checked_at": CHECKED}, DAY, ("watched_runs",), "not listed with a hint before"),
        ("2026-05-01T11:00:00.000000Z|1|3|", KEPT, DAY, ("watched_runs",), "its list entry changed"),
        (HINT, {**KEPT, "watched_runs": {"7": ""}}, DAY, ("watched_runs",), "watched_runs pending"),
        (HINT, {**KEPT, "watched_runs": {}}, DAY, ("watched_runs",), None),  # empty: nothing pending
        (HINT, {**KEPT, "current": {"run_id": 7}}, DAY, ("watched_runs", "current"), "current pending"),
        (HINT, {**KEPT, "current": {"run_id": 7}}, DAY, ("watched_runs",), None),  # not this stream's
        (HINT, {**KEPT, "unbilled_run_ids": [7]}, DAY, ("unbilled_run_ids",), "unbilled_run_ids pending"),
        (HINT, KEPT, dt.timedelta(hours=12), ("watched_runs",), "full check due"),  # a period ago: due
        (HINT, KEPT, dt.timedelta(0), ("watched_runs",), "full check due"),  # 0: every sync
        (HINT, {"list_hint": HINT}, DAY, ("watched_runs",), "full check due"),  # never checked
        (HINT, {**KEPT, "checked_at": "2026-05-02T00:00:00Z"}, DAY, (), "full check due"),  # clock went back
    ],
)
def test_why_list(hint, state, every, pending, reason):
    # Agent 0's full check falls at midnight, when CHECKED was: none since, so only the rows above say "due".
    assert check_time(NOW, DAY, 0) <= parse_timestamp(CHECKED)
    assert why_list(hint, state, now=NOW, every=every, pending=pending) == reason


# -- when an agent's full check is due: once a period, at the agent's own time ------------------------

MINUTE = dt.timedelta(minutes=1)
AGENT = 1005


@pytest.mark.parametrize(
    ("checked", "every", "due"),
    [
        (None, DAY, True),  # never checked
        (NOW + MINUTE, DAY, True),  # checked "in the future": the clock was set back
        (NOW - MINUTE, dt.timedelta(0), True),  # 0: every sync
        (NOW - DAY, DAY, True),  # a whole period ago: due whatever the agent's time
        (NOW - 3 * DAY, DAY, True),
        (check_time(NOW, DAY, AGENT) - MINUTE, DAY, True),  # its check time passed since
        (check_time(NOW, DAY, AGENT) + MINUTE, DAY, False),  # checked after its latest check time
        (NOW - RECHECK_AFTER + MINUTE, DAY, False),  # a check minutes old is never due again
    ],
)
def test_full_check_due(checked, every, due):
    assert full_check_due(checked, now=NOW, every=every, key=AGENT) is due


def test_check_times_are_one_period_apart_and_differ_between_agents():
    latest = check_time(NOW, DAY, AGENT)
    assert NOW - DAY < latest <= NOW
    assert check_time(latest + DAY, DAY, AGENT) == latest + DAY
    assert check_time(latest + DAY - MINUTE, DAY, AGENT) == latest
    assert len({check_time(NOW, DAY, agent) for agent in range(1001, 1101)}) == 100


def checks(key: int, every: dt.timedelta, step: dt.timedelta, syncs: int) -> list[dt.datetime]:
    """When syncs every `step` from NOW check an agent in full (the first sync checks it: never checked)."""
    checked: dt.datetime | None = None
    done = []
    for n in range(syncs):
        now = NOW + n * step
        if full_check_due(checked, now=now, every=every, key=key):
            checked = now
            done.append(now)
    return done


@settings(max_examples=200, deadline=None)
@given(
    key=st.integers(1, 10**7),
    every=st.integers(1, 72).map(lambda h: dt.timedelta(hours=h)),
    step=st.integers(1, 240).map(lambda m: dt.timedelta(minutes=m)),
)
def test_every_agent_is_checked_once_a_period_at_most_a_period_and_a_sync_apart(key, every, step):
    """What `runs_full_check_hours` promises: a hint that lies delays a run by at most the period plus the
    time to the next sync, and checks cost no more than one a period (plus the first)."""
    syncs = int(6 * every / step) + 2
    done = checks(key, every, step, syncs)
    gaps = [b - a for a, b in itertools.pairwise(done)]
    assert all(gap <= every + step for gap in gaps)
    assert len(done) <= 1 + (syncs * step) // every + 1


def test_agents_first_checked_together_are_checked_again_spread_over_the_day():
    """1,000 agents read by one full sync, then synced hourly: each hourly sync checks about 1/24 of them,
    never all of them in one sync (before: 1,000 runs lists and 1,000 schedules once a day)."""
    per_sync = collections.Counter(
        moment for agent in range(1001, 2001) for moment in checks(agent, DAY, dt.timedelta(hours=1), 49)[1:]
    )
    first_day = [per_sync[NOW + n * dt.timedelta(hours=1)] for n in range(1, 25)]
    assert sum(first_day) == 1000  # every agent once within the day after the full sync
    assert max(per_sync.values()) <= 45  # about 42 a sync (1,000 / 24), never a day's worth at once


NEW_HINT = "2026-05-01T11:00:00.000000Z|9|3|"
LATER = "2026-05-01T12:00:00.000000Z"


@pytest.mark.parametrize(
    ("state", "hint", "due", "kept"),
    [
        ({}, HINT, True, {"list_hint": HINT, "checked_at": LATER}),  # first listing with a hint
        ({}, HINT, False, {"list_hint": HINT, "checked_at": LATER}),
        (KEPT, HINT, True, {"list_hint": HINT, "checked_at": LATER}),  # the full check
        (KEPT, NEW_HINT, False, {"list_hint": NEW_HINT, "checked_at": LATER}),  # the entry changed
        (KEPT, HINT, False, KEPT),  # listed for a pending run only: the STATE stays as it was
        (KEPT, None, True, {}),  # no hint any more: nothing to skip by, nothing kept
    ],
)
def test_what_a_listing_leaves_in_the_state(state, hint, due, kept):
    state = dict(state)
    Listing([], hint, NOW, due=due).remember(state)
    assert state == kept


def test_a_listing_is_remembered_with_its_hint_when_the_plan_is_saved():
    plan = plan_runs([run(1, 1)])
    plan.listing = Listing([run(1, 1)], HINT, NOW)
    state: dict = {}
    plan.mark_handled(state, run(1, 1))
    assert "list_hint" not in state  # not before everything planned is out
    plan.save(state, "created")
    assert state["list_hint"] == HINT and state["checked_at"] == "2026-05-01T12:00:00.000000Z"
    assert why_list(HINT, state, now=NOW + dt.timedelta(hours=1), every=DAY) is None
