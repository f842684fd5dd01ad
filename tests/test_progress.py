"""The content stream's bookkeeping (`contents/progress.py`): transitions as tables, and a property that an
interrupted sync, resumed from any STATE it wrote, emits every row exactly once. Pure: no HTTP."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_sequentum.contents.progress import (
    Current,
    Progress,
    begin_file,
    emission_order,
    file_out,
    keep_watched,
    park_restarted,
    resume_slices,
    rows_out,
    run_out,
    taken,
)

DONE, RUNNING, FAILURE = 9, 1, 6


def run(run_id: int, day: int = 1, status: int = DONE, table_type: str = "history") -> dict:
    return {
        "id": run_id,
        "created": f"2025-01-{day:02d}T00:00:00Z",
        "status": status,
        "tableType": table_type,
    }


def roundtrip(progress: Progress) -> Progress:
    """Through a JSON STATE, as a sync hands it to the next one."""
    state: dict = {}
    progress.store(state)
    return Progress.load(json.loads(json.dumps(state)))


@pytest.mark.parametrize(
    ("progress", "state"),
    [
        (Progress(), {}),
        (Progress(Current(7)), {"current": {"run_id": 7, "files_done": []}}),
        (
            Progress(Current(7, frozenset({71, 70}), 72, 5000)),
            {"current": {"run_id": 7, "files_done": [70, 71], "file_id": 72, "rows": 5000}},
        ),
        (Progress(None, {6: frozenset({61, 60})}), {"watched_files": {"6": [60, 61]}}),
    ],
)
def test_state_shape(progress, state):
    written: dict = {"other": 1}
    progress.store(written)
    assert written == {"other": 1, **state}
    assert Progress.load(written) == progress


def test_store_removes_what_is_empty_now():
    state = {"current": {"run_id": 1, "files_done": []}, "watched_files": {"2": [3]}}
    Progress().store(state)
    assert state == {}


@pytest.mark.parametrize(
    ("progress", "run_id", "file_id", "resume", "current"),
    [
        (Progress(), 7, 70, 0, Current(7, frozenset(), 70, 0)),
        (Progress(Current(7, frozenset({70}))), 7, 71, 0, Current(7, frozenset({70}), 71, 0)),
        (Progress(Current(7, frozenset({70}), 71, 40)), 7, 71, 40, Current(7, frozenset({70}), 71, 40)),
        # Another file of the same run than the interrupted one: nothing of it is out.
        (Progress(Current(7, frozenset(), 71, 40)), 7, 72, 0, Current(7, frozenset(), 72, 0)),
        # Another run: the interrupted run's progress is not this run's.
        (Progress(Current(7, frozenset({70}), 71, 40)), 8, 71, 0, Current(8, frozenset(), 71, 0)),
    ],
)
def test_begin_file(progress, run_id, file_id, resume, current):
    after, rows = begin_file(progress, run_id, file_id)
    assert (rows, after.current) == (resume, current)


def test_a_file_then_a_run_out():
    progress, _ = begin_file(Progress(), 7, 70)
    progress = rows_out(progress, 10)
    assert progress.current == Current(7, frozenset(), 70, 10)
    progress = file_out(progress)
    assert progress.current == Current(7, frozenset({70}))
    assert taken(progress, 7) == {70}
    assert run_out(progress, run(7), [70]) == Progress()


@pytest.mark.parametrize(
    ("progress", "record", "files", "watched"),
    [
        (
            Progress(Current(6, frozenset({60}))),
            run(6, status=FAILURE, table_type="run"),
            [60, 61],
            {6: {60, 61}},
        ),
        # Taken before a restart, plus what it delivered since.
        (Progress(None, {6: frozenset({60})}), run(6, status=FAILURE, table_type="run"), [62], {6: {60, 62}}),
        # Final now: its watched files are forgotten.
        (Progress(None, {6: frozenset({60}), 5: frozenset({50})}), run(6), [62], {5: {50}}),
    ],
)
def test_run_out(progress, record, files, watched):
    after = run_out(progress, record, files)
    assert after.current is None
    assert after.watched_files == watched


@pytest.mark.parametrize(
    ("progress", "active", "parked", "after"),
    [
        (Progress(), [7], None, Progress()),
        (
            Progress(Current(7, frozenset({70}), 71, 5)),
            [8],
            None,
            Progress(Current(7, frozenset({70}), 71, 5)),
        ),
        (Progress(Current(7, frozenset({70}), 71, 5)), [7], 7, Progress(None, {7: frozenset({70})})),
        (
            Progress(Current(7, frozenset({71})), {6: frozenset({60}), 7: frozenset({70})}),
            [7],
            7,
            Progress(None, {6: frozenset({60}), 7: frozenset({70, 71})}),
        ),
    ],
)
def test_park_restarted(progress, active, parked, after):
    assert park_restarted(progress, active) == (after, parked)


def test_keep_watched():
    progress = Progress(Current(1), {6: frozenset({60}), 7: frozenset({70})})
    assert keep_watched(progress, [7, 8]) == Progress(Current(1), {7: frozenset({70})})


def test_emission_order_puts_the_interrupted_run_first_then_oldest_first_without_active_runs():
    runs = [run(4, 4), run(3, 3, RUNNING, "run"), run(2, 2), run(1, 1)]
    assert [r["id"] for r in emission_order(runs, Progress())] == [1, 2, 4]
    assert [r["id"] for r in emission_order(runs, Progress(Current(4)))] == [4, 1, 2]


class Rows:
    """A batch of row numbers with the two members `resume_slices` uses."""

    def __init__(self, numbers: list[int]) -> None:
        self.numbers = numbers

    @property
    def num_rows(self) -> int:
        return len(self.numbers)

    def slice(self, offset: int = 0, length: int | None = None) -> Rows:
        return Rows(self.numbers[offset:] if length is None else self.numbers[offset : offset + length])


@pytest.mark.parametrize(
    ("sizes", "skip", "expected"),
    [
        ([3, 3], 0, [(1, [1, 2, 3]), (4, [4, 5, 6])]),
        ([3, 3], 2, [(3, [3]), (4, [4, 5, 6])]),
        ([3, 3], 3, [(4, [4, 5, 6])]),
        ([3, 0, 3], 4, [(5, [5, 6])]),
        ([3, 3], 6, []),
        ([], 0, []),
    ],
)
def test_resume_slices(sizes, skip, expected):
    batches, number = [], 1
    for size in sizes:
        batches.append(Rows(list(range(number, number + size))))
        number += size
    assert [(first, batch.numbers) for batch, first in resume_slices(batches, skip)] == expected


# -- the property: interrupted anywhere, resumed from the last STATE, every row exactly once --------


class Interrupted(Exception):
    pass


def sync(runs: dict[int, dict[int, int]], saved: list, budget: int, out: list) -> None:
    """One sync as the stream runs it over runs (id -> file id -> rows), in batches of 2 rows.

    `saved[0]` is the STATE: (progress, runs handled), stored through JSON after every transition. A row
    counts as out once a stored STATE covers it (`out`); rows written after the last stored STATE are
    written again by the next sync (at-least-once past the checkpoint, which a target's key absorbs).
    After `budget` transitions the sync stops, as on a signal or a broken pipe.
    """
    progress, handled = saved[0]
    pending: list = []
    steps = 0

    def store(value: Progress, done: frozenset[int]) -> tuple[Progress, frozenset[int]]:
        nonlocal steps
        steps += 1
        if steps > budget:
            raise Interrupted
        out.extend(pending)
        pending.clear()
        saved[0] = (roundtrip(value), done)
        return saved[0]

    records = [run(run_id, day=run_id) for run_id in runs if run_id not in handled]
    for record in emission_order(records, progress):
        run_id = int(record["id"])
        files = [file_id for file_id in sorted(runs[run_id]) if file_id not in taken(progress, run_id)]
        for file_id in files:
            progress, resume = begin_file(progress, run_id, file_id)
            rows = runs[run_id][file_id]
            for start in range(resume + 1, rows + 1, 2):
                chunk = range(start, min(start + 2, rows + 1))
                pending.extend((run_id, file_id, row) for row in chunk)
                progress, handled = store(rows_out(progress, chunk[-1]), handled)
            progress, handled = store(file_out(progress), handled)
        progress, handled = store(run_out(progress, record, files), handled | {run_id})


@settings(max_examples=300, deadline=None)
@given(
    shape=st.dictionaries(
        st.integers(1, 5),
        st.dictionaries(st.integers(1, 4), st.integers(0, 5), max_size=3),
        min_size=1,
        max_size=4,
    ),
    budgets=st.lists(st.integers(0, 15), max_size=5),
)
def test_interrupted_syncs_emit_every_row_exactly_once(shape, budgets):
    # File ids are unique across runs, as Sequentum's are.
    runs = {run_id: {run_id * 10 + f: n for f, n in files.items()} for run_id, files in shape.items()}
    out: list = []
    saved: list = [(Progress(), frozenset())]
    for budget in [*budgets, 10**6]:
        with contextlib.suppress(Interrupted):
            sync(runs, saved, budget, out)
    expected = [
        (r, f, n) for r, files in runs.items() for f, rows in files.items() for n in range(1, rows + 1)
    ]
    assert sorted(out) == sorted(expected)
    assert saved[0] == (Progress(), frozenset(runs))
