"""Which runs a sync emits, and where the bookmark goes: pure functions, tested as tables.

The runs endpoint answers newest first, without offsets, and runs change status after they are listed.
A single "max created" bookmark would either skip a run that finishes later or re-emit finished runs,
so the bookmark stops at the oldest unfinished run and the ids of finished runs at or after it are kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tap_sequentum.domain import format_timestamp, is_finished, parse_timestamp


@dataclass
class RunPlan:
    """The runs to emit (newest first, as listed) and the state to keep afterwards."""

    emit: list[dict] = field(default_factory=list)
    bookmark: str | None = None
    finished_ids: list[int] = field(default_factory=list)
    gap: bool = False
    skipped_no_date: int = 0


def plan_runs(
    runs: Sequence[dict],
    *,
    bookmark: Any = None,
    finished_ids: Iterable[int] = (),
    start_date: Any = None,
    max_records: int | None = None,
) -> RunPlan:
    """Decide what to emit from one agent's run list.

    Emitted: every run created at or after the bookmark (or start_date) that was not already emitted in
    a finished state. Next bookmark: the `created` of the oldest unfinished emitted run, else the newest
    `created` seen. `gap` is true when the list was full and even its oldest run is newer than the
    bookmark: older runs exist that the API can no longer list.
    """
    floor = parse_timestamp(bookmark) or parse_timestamp(start_date)
    known_finished = {int(i) for i in finished_ids}
    plan = RunPlan()
    candidates: list[tuple[dt.datetime, dict]] = []
    for run in runs:
        created = parse_timestamp(run.get("created"))
        if created is None:
            plan.skipped_no_date += 1
            continue
        if floor is not None and created < floor:
            continue
        candidates.append((created, run))

    for _, run in candidates:
        if is_finished(run.get("status")) and int(run["id"]) in known_finished:
            continue
        plan.emit.append(run)

    dated = [parse_timestamp(r.get("created")) for r in runs]
    oldest = min((d for d in dated if d is not None), default=None)
    plan.gap = bool(
        floor is not None
        and max_records
        and len(runs) >= max_records
        and oldest is not None
        and oldest > floor
    )

    unfinished = [created for created, run in candidates if not is_finished(run.get("status"))]
    if unfinished:
        new_floor: dt.datetime | None = min(unfinished)
    elif candidates:
        new_floor = max(created for created, _ in candidates)
    else:
        new_floor = parse_timestamp(bookmark)
    plan.bookmark = format_timestamp(new_floor) if new_floor else None
    if new_floor is not None:
        plan.finished_ids = sorted(
            int(run["id"])
            for created, run in candidates
            if created >= new_floor and is_finished(run.get("status"))
        )
    return plan
