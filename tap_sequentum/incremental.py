"""Which runs a sync handles, and what it keeps in state: pure functions, tested as tables.

The runs endpoint answers newest first, without offsets, for the newest `maxRecords` runs only, and runs
change after they are listed: they finish, a run in Failure (6) is restarted, a run becomes visible late
(servers with different clocks). So whether a listed run is new is decided by its *id* within the listing
window, not by its `created` alone:

- an *active* run (not finished) is handled on every sync until it finishes;
- a *watched* run (finished as Failure, but Sequentum may still restart it: `tableType` is `run`, or
  absent) is handled when first seen and again whenever it changes (status, end, export count); once
  restarted it is active and stays watched until it ends;
- a *final* run (finished and `history`) is handled once: its id joins `seen_run_ids`.

State per agent: `seen_run_ids` (final runs handled, within the listing window, so it stays bounded),
`watched_runs` (id -> fingerprint) and the bookmark (`replication_key_value`: the `created` of the oldest
active run, else of the newest run), kept as the replication key and for the gap warning. State written
before `seen_run_ids` existed (a bookmark plus `finished_run_ids`/`done_run_ids`) is read as "every run
created before the bookmark was handled".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tap_sequentum.domain import format_timestamp, is_finished, parse_timestamp, status_code

SEEN = "seen_run_ids"
WATCHED = "watched_runs"
BOOKMARK = "replication_key_value"
#: Keys of state written by tap-sequentum 0.1 (read once, then replaced by SEEN).
LEGACY_IDS = ("finished_run_ids", "done_run_ids")
FAILURE = 6

Finality = Literal["active", "watched", "final"]


def finality(run: Mapping[str, Any]) -> Finality:
    """Whether a run can still change: active (running), watched (may be restarted) or final."""
    status = run.get("status")
    if not is_finished(status):
        return "active"
    table_type = run.get("tableType")
    if table_type == "run":
        return "watched"  # Sequentum still lists it among active runs (wait-on-failure retry)
    if status_code(status) == FAILURE and table_type is None:
        return "watched"  # without tableType a Failure may still be restarted
    return "final"


def fingerprint(run: Mapping[str, Any]) -> str:
    """What changes when a watched run is restarted, finishes again or gains files."""
    fields = ("status", "tableType", "endTime", "exportCount", "dataCount")
    return "|".join("" if run.get(name) is None else str(run.get(name)) for name in fields)


@dataclass
class RunPlan:
    """The runs to handle now (newest first, as listed) and the state to keep once they are handled."""

    handle: list[dict] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)
    watched: dict[str, str] = field(default_factory=dict)
    bookmark: str | None = None
    gap: bool = False
    skipped_no_date: int = 0
    late: list[int] = field(default_factory=list)

    def save(self, state: dict, replication_key: str) -> None:
        """Write the plan's state; call it once everything the plan handles was emitted."""
        for key in LEGACY_IDS:
            state.pop(key, None)
        state[SEEN] = self.seen
        if self.watched:
            state[WATCHED] = self.watched
        else:
            state.pop(WATCHED, None)
        if self.bookmark is not None:
            state["replication_key"] = replication_key
            state[BOOKMARK] = self.bookmark


def mark_handled(state: dict, run: Mapping[str, Any]) -> None:
    """Record one handled run in `state` at once, so an interrupted sync does not handle it again."""
    run_id = int(run["id"])
    if finality(run) == "final":
        seen = state.setdefault(SEEN, [])
        if run_id not in seen:
            seen.append(run_id)
        (state.get(WATCHED) or {}).pop(str(run_id), None)
    elif finality(run) == "watched":
        state.setdefault(WATCHED, {})[str(run_id)] = fingerprint(run)


# issue 18: being split
def plan_runs(  # noqa: C901
    runs: Sequence[dict],
    state: Mapping[str, Any] | None = None,
    *,
    start_date: Any = None,
    max_records: int | None = None,
) -> RunPlan:
    """Decide, from one agent's run listing and its state, which runs to handle and what to keep."""
    state = state or {}
    start = parse_timestamp(start_date)
    bookmark = parse_timestamp(state.get(BOOKMARK))
    seen = {int(i) for i in state.get(SEEN) or ()}
    legacy = SEEN not in state and bookmark is not None
    legacy_ids = {int(i) for key in LEGACY_IDS for i in state.get(key) or ()}
    watched = {str(k): str(v) for k, v in (state.get(WATCHED) or {}).items()}

    plan = RunPlan()
    dated: list[tuple[dt.datetime, dict]] = []
    for run in runs:
        created = parse_timestamp(run.get("created"))
        if created is None:
            plan.skipped_no_date += 1
            continue
        if start is not None and created < start:
            continue
        dated.append((created, run))

    for created, run in dated:
        run_id = int(run["id"])
        kind = finality(run)
        previous = watched.get(str(run_id))
        if kind == "active":
            plan.handle.append(run)
            if previous is not None:
                # A watched run restarted: it stays watched, so what it delivered before the restart
                # (`watched_files` of content streams) is not taken again when it ends.
                plan.watched[str(run_id)] = previous
        elif kind == "watched":
            if previous != fingerprint(run) and run_id not in seen:
                plan.handle.append(run)
            plan.watched[str(run_id)] = fingerprint(run)
        else:
            handled_before = run_id in seen or (
                legacy and bookmark is not None and (created < bookmark or run_id in legacy_ids)
            )
            if not handled_before or (previous is not None and previous != fingerprint(run)):
                plan.handle.append(run)
                if bookmark is not None and created < bookmark and previous is None:
                    plan.late.append(run_id)
            plan.seen.append(run_id)
    plan.seen.sort()

    active = [created for created, run in dated if finality(run) == "active"]
    if active:
        plan.bookmark = format_timestamp(min(active))
    elif dated:
        plan.bookmark = format_timestamp(max(created for created, _ in dated))
    elif bookmark is not None:
        plan.bookmark = format_timestamp(bookmark)

    oldest = min((created for created, _ in dated), default=None)
    floor = bookmark or start
    plan.gap = bool(
        floor is not None
        and max_records
        and len(runs) >= max_records
        and oldest is not None
        and oldest > floor
    )
    return plan
