"""Run bookkeeping: which runs a sync handles and what it keeps, as tables of cases (pure, no HTTP)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_sequentum.incremental import finality, fingerprint, mark_handled, plan_runs

DONE, RUNNING, FAILURE, FAILED, QUEUED = 9, 1, 6, 7, 4


def run(run_id: int, day: int, status: int = DONE, table_type: str | None = "auto", **extra) -> dict:
    if table_type == "auto":
        table_type = "history" if status in (6, 7, 8, 9, 10, 11) else "run"
    record = {"id": run_id, "created": f"2025-01-{day:02d}T00:00:00Z", "status": status, **extra}
    if table_type is not None:
        record["tableType"] = table_type
    return record


def ts(day: int) -> str:
    return f"2025-01-{day:02d}T00:00:00.000000Z"


def ids(plan) -> list[int]:
    return [r["id"] for r in plan.handle]


def sync(runs: list[dict], state: dict | None = None, **kwargs) -> tuple[list[int], dict]:
    """One sync as the streams run it: plan, handle every planned run, save."""
    state = {} if state is None else state
    plan = plan_runs(runs, state, **kwargs)
    for item in plan.handle:
        mark_handled(state, item)
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
    assert handled == [3, 2, 1]
    assert state["replication_key_value"] == ts(3)
    assert state["seen_run_ids"] == [1, 2, 3]


def test_an_active_run_is_handled_until_it_finishes_then_once():
    handled, state = sync([run(3, 3), run(2, 2, RUNNING), run(1, 1)])
    assert handled == [3, 2, 1]
    assert state["replication_key_value"] == ts(2)  # the oldest active run holds the bookmark
    assert state["seen_run_ids"] == [1, 3]
    handled, state = sync([run(4, 4), run(3, 3), run(2, 2, RUNNING), run(1, 1)], state)
    assert handled == [4, 2]
    handled, state = sync([run(4, 4), run(3, 3), run(2, 2, DONE), run(1, 1)], state)
    assert handled == [2]
    assert state["replication_key_value"] == ts(4)
    handled, _ = sync([run(4, 4), run(3, 3), run(2, 2, DONE), run(1, 1)], state)
    assert handled == []


def test_a_late_run_is_handled_whatever_its_created():
    _, state = sync([run(5, 5), run(3, 3)])
    plan = plan_runs([run(5, 5), run(4, 4), run(3, 3)], state)  # 4 became visible after 5 was handled
    assert ids(plan) == [4]
    assert plan.late == [4]


def test_a_same_timestamp_new_run_is_not_lost():
    _, state = sync([run(2, 2), run(1, 1)])
    handled, _ = sync([run(5, 2), run(2, 2), run(1, 1)], state)
    assert handled == [5]


def test_a_restarted_failure_is_handled_again_when_it_changes_then_once_when_final():
    waiting = run(2, 2, FAILURE, table_type="run", endTime="2025-01-02T00:10:00Z", exportCount=3)
    handled, state = sync([run(3, 3), waiting])
    assert handled == [3, 2]
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
    assert handled == [3, 2]


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
    plan = plan_runs([run(2, 2), {"id": 9, "created": "0001-01-01T00:00:00", "status": DONE}])
    assert ids(plan) == [2]
    assert plan.skipped_no_date == 1


def test_naive_offset_and_seven_digit_timestamps_compare_in_utc():
    runs = [
        {"id": 3, "created": "2025-01-02T23:59:59.9999999Z", "status": DONE},
        {"id": 2, "created": "2025-01-02T01:00:00+02:00", "status": DONE},  # 2025-01-01T23:00Z
        {"id": 1, "created": "2025-01-01T22:00:00", "status": DONE},
    ]
    plan = plan_runs(runs)
    assert ids(plan) == [3, 2, 1]
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


@pytest.mark.parametrize("order", ["newest first", "oldest first", "shuffled"])
@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_random_histories_handle_every_final_run_exactly_once(order, seed):
    """Runs appear late, finish out of order, fail and restart, listed in any order; every run ends up
    handled exactly once in a final state, and no sync handles a final run it already handled."""
    rng = random.Random(seed)
    runs: dict[int, dict] = {}
    state: dict = {}
    handled_final: list[int] = []
    visible_from: dict[int, int] = {}
    next_id = 1
    for now in range(12):
        for _ in range(rng.randint(0, 3)):  # new runs with any created, visible only some rounds later
            day = rng.randint(1, 28)
            runs[next_id] = run(next_id, day, rng.choice([RUNNING, QUEUED, DONE, FAILED, FAILURE]))
            if runs[next_id]["status"] == FAILURE and rng.random() < 0.5:
                runs[next_id]["tableType"] = "run"
            visible_from[next_id] = now + rng.choice([0, 0, 1, 3])
            next_id += 1
        for record in runs.values():  # some runs move on
            if finality(record) != "final" and rng.random() < 0.4:
                record.update(
                    run(record["id"], int(record["created"][8:10]), rng.choice([DONE, FAILED, RUNNING]))
                )
        listing = sorted(runs.values(), key=lambda r: (r["created"], r["id"]), reverse=True)
        visible = [r for r in listing if visible_from[r["id"]] <= now]
        plan = plan_runs(arranged(visible, order, rng), state)
        for record in plan.handle:
            if finality(record) == "final":
                assert record["id"] not in handled_final, "a final run was handled twice"
                handled_final.append(record["id"])
            mark_handled(state, record)
        plan.save(state, "created")
    # A last sync once everything settled and is visible.
    for record in runs.values():
        if finality(record) != "final":
            record.update(run(record["id"], int(record["created"][8:10]), DONE))
    listing = sorted(runs.values(), key=lambda r: (r["created"], r["id"]), reverse=True)
    plan = plan_runs(arranged(listing, order, rng), state)
    handled_final += [r["id"] for r in plan.handle]
    assert sorted(handled_final) == sorted(runs)
