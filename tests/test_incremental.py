"""Run bookkeeping: which runs are emitted and where the bookmark goes, as tables of cases."""

from __future__ import annotations

import pytest

from tap_sequentum.incremental import plan_runs

DONE, RUNNING, FAILED, QUEUED = 9, 1, 7, 4


def run(run_id: int, day: int, status: int = DONE) -> dict:
    return {"id": run_id, "created": f"2025-01-{day:02d}T00:00:00Z", "status": status}


def ts(day: int) -> str:
    return f"2025-01-{day:02d}T00:00:00.000000Z"


def ids(plan) -> list[int]:
    return [r["id"] for r in plan.emit]


def test_first_sync_emits_everything_and_bookmarks_newest():
    plan = plan_runs([run(3, 3), run(2, 2), run(1, 1)])
    assert ids(plan) == [3, 2, 1]
    assert plan.bookmark == ts(3)
    assert plan.finished_ids == [3]


def test_bookmark_stops_at_oldest_unfinished_run():
    plan = plan_runs([run(3, 3), run(2, 2, RUNNING), run(1, 1)])
    assert ids(plan) == [3, 2, 1]
    assert plan.bookmark == ts(2)
    assert plan.finished_ids == [3]


def test_second_sync_re_emits_the_finished_run_but_not_its_newer_neighbour():
    first = plan_runs([run(3, 3), run(2, 2, RUNNING), run(1, 1)])
    second = plan_runs(
        [run(4, 4), run(3, 3), run(2, 2, DONE), run(1, 1)],
        bookmark=first.bookmark,
        finished_ids=first.finished_ids,
    )
    assert ids(second) == [4, 2]
    assert second.bookmark == ts(4)
    assert second.finished_ids == [4]


def test_still_running_run_is_emitted_again_and_holds_the_bookmark():
    first = plan_runs([run(2, 2, RUNNING), run(1, 1)])
    second = plan_runs([run(3, 3), run(2, 2, RUNNING), run(1, 1)], bookmark=first.bookmark)
    assert ids(second) == [3, 2]
    assert second.bookmark == ts(2)
    third = plan_runs(
        [run(3, 3), run(2, 2, FAILED), run(1, 1)],
        bookmark=second.bookmark,
        finished_ids=second.finished_ids,
    )
    assert ids(third) == [2]
    assert third.bookmark == ts(3)


def test_nothing_new_keeps_bookmark_and_emits_nothing():
    first = plan_runs([run(2, 2), run(1, 1)])
    second = plan_runs([run(2, 2), run(1, 1)], bookmark=first.bookmark, finished_ids=first.finished_ids)
    assert ids(second) == []
    assert second.bookmark == first.bookmark
    assert second.finished_ids == [2]


def test_same_timestamp_new_run_is_not_lost():
    first = plan_runs([run(2, 2), run(1, 1)])
    second = plan_runs(
        [run(5, 2), run(2, 2), run(1, 1)], bookmark=first.bookmark, finished_ids=first.finished_ids
    )
    assert ids(second) == [5]


def test_start_date_filters_old_runs():
    plan = plan_runs([run(3, 3), run(2, 2), run(1, 1)], start_date="2025-01-02T00:00:00Z")
    assert ids(plan) == [3, 2]


def test_state_wins_over_start_date():
    plan = plan_runs([run(3, 3), run(2, 2)], bookmark=ts(3), finished_ids=[3], start_date="2024-01-01")
    assert ids(plan) == []


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
    assert plan_runs(runs, bookmark=bookmark, max_records=max_records).gap is gap


def test_sentinel_and_missing_dates_are_skipped_not_fatal():
    plan = plan_runs([run(2, 2), {"id": 9, "created": "0001-01-01T00:00:00", "status": DONE}])
    assert ids(plan) == [2]
    assert plan.skipped_no_date == 1


def test_naive_and_offset_timestamps_compare_in_utc():
    runs = [
        {"id": 2, "created": "2025-01-02T01:00:00+02:00", "status": DONE},  # 2025-01-01T23:00Z
        {"id": 1, "created": "2025-01-01T22:00:00", "status": DONE},
    ]
    plan = plan_runs(runs, bookmark="2025-01-01T22:30:00Z")
    assert ids(plan) == [2]
    assert plan.bookmark == "2025-01-01T23:00:00.000000Z"
