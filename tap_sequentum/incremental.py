"""Which runs a sync handles, and what it keeps in state: pure functions, tested as tables.

The runs endpoint answers the newest `maxRecords` runs only, without offsets (newest first, though nothing
here relies on the order: runs are planned oldest first whatever order they came in), and runs change after
they are listed: they finish, a run in Failure (6) is restarted, a run becomes visible late (servers with
different clocks). So whether a listed run is new is decided by its *id*, not by its `created` alone:

- an *active* run (not finished) is handled on every sync until it finishes, and watched meanwhile (an empty
  fingerprint: whatever it ends as is a change), so it is handled when it ends whatever its `created`;
- a *watched* run (finished as Failure, but Sequentum may still restart it: `tableType` is `run`, or
  absent) is handled when first seen and again whenever it changes (status, end, export count); once
  restarted it is active and stays watched until it ends;
- a *final* run (finished and `history`) is handled once: its id joins `seen_run_ids`.

**Lateness is bounded, so the state is too.** A final run created before `seen_since` counts as handled;
`seen_run_ids` lists the handled ones at or after it. `seen_since` is the newest listed run's `created` minus
`Lateness.window`, raised so that at most `Lateness.cap` ids are kept, and never lowered. A run becomes
visible late because the server that stamped its `created` has another clock than the one that stamped the
runs listed before it (API facts): the lateness is about twice the clock skew plus the time a new run takes
to be listed, seconds to minutes, so a window of an hour loses nothing real. Runs that do change later are
not bounded by it: active and watched runs are handled by id whatever their `created`.

**Requests proportional to what changed.** The agent list says what changed (`domain.list_hint`): with the
hint present and equal to the one kept when the agent's runs were last listed, nothing pending, and the
full check not due (once per `every`, at a time of the period the agent's id sets, so that agents read
together are not all checked again together), an agent's runs list is not read (`why_list`).

State per agent: `seen_run_ids`, `seen_since`, `watched_runs` (id -> fingerprint), the bookmark
(`replication_key_value`: the `created` of the oldest active run, else of the newest run, kept as the
replication key and for the gap warning), and `list_hint` and `checked_at` of the last listing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tap_sequentum.domain import format_timestamp, is_finished, parse_timestamp, status_code
from tap_sequentum.listings import dated_key

SEEN = "seen_run_ids"
SINCE = "seen_since"
WATCHED = "watched_runs"
BOOKMARK = "replication_key_value"
HINT = "list_hint"
CHECKED = "checked_at"
FAILURE = 6
#: At most this many run ids are kept per agent and stream, whatever the window: about 450 bytes.
MAX_SEEN = 50

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


# -- which agents need their runs list -----------------------------------------------------------


def why_list(
    hint: str | None,
    state: Mapping[str, Any],
    *,
    now: dt.datetime,
    every: dt.timedelta,
    pending: Iterable[str] = (WATCHED,),
    key: int = 0,
) -> str | None:
    """Why an agent's runs list must be read now (a reason for the log), or None when it can be skipped.

    Skipped only when the agent list gives a hint (`domain.list_hint`), the stream kept one from its last
    listing and it is the same, none of the state keys in `pending` (runs not final yet, a file half
    emitted, runs not billed yet) holds anything, and agent `key`'s full check is not due (`full_check_due`).
    So a hint that does not change when it should delays a run by at most `every` (plus the time to the next
    sync), and a missing one skips nothing.
    """
    if hint is None:
        return "the agent list gives no hint"
    if HINT not in state:
        return "not listed with a hint before"
    busy = [key for key in pending if state.get(key)]
    if busy:
        return f"{busy[0]} pending"
    if state[HINT] != hint:
        return "its list entry changed"
    if check_due(state, now=now, every=every, key=key):
        return "full check due"
    return None


def check_due(state: Mapping[str, Any], *, now: dt.datetime, every: dt.timedelta, key: int = 0) -> bool:
    """Whether agent `key`'s full check is due (`full_check_due`; unknown: due)."""
    return full_check_due(parse_timestamp(state.get(CHECKED)), now=now, every=every, key=key)


#: A full check younger than this is not due again: a check time falling just after one is taken by the first
#: sync after this, not skipped (so tests and back-to-back syncs never meet a check time by chance).
RECHECK_AFTER = dt.timedelta(minutes=5)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)


#: Fibonacci hashing's multiplier (2**64 / the golden ratio): consecutive ids, as Sequentum gives agents, get
#: phases as evenly spread as they can be (1,000 agents: 40 to 43 in each hour of a day; a CRC gave 24 to 60).
GOLDEN = 0x9E3779B97F4A7C15


def check_time(now: dt.datetime, every: dt.timedelta, key: int) -> dt.datetime:
    """The latest of agent `key`'s full-check times at or before `now`: `phase + k * every`, its phase a hash
    of the key spread evenly over the period. Every agent is checked once per period, but not all at once."""
    period = every // MICROSECOND
    phase = (key * GOLDEN % 2**64) * period >> 64
    elapsed = (now - EPOCH) // MICROSECOND
    return EPOCH + MICROSECOND * ((elapsed - phase) // period * period + phase)


def full_check_due(checked: dt.datetime | None, *, now: dt.datetime, every: dt.timedelta, key: int) -> bool:
    """Whether an agent's runs list (or schedules) must be read in full although nothing says it changed.

    Due when the last check is older than the agent's latest check time (`check_time`), unknown, or in the
    future (a clock set back). So a hint that lies delays a run by at most `every` plus the time to the next
    sync, as with one check `every` after the last; but the checks of agents first read together (a first
    sync) fall at their own times over the next period: 1,000 agents synced hourly with `every` 24 h cost
    about 42 runs lists a sync, not 1,000 in one sync a day (`every` 0: checked on every sync)."""
    if checked is None or checked > now or every <= dt.timedelta(0):
        return True
    if now - checked < min(RECHECK_AFTER, every):
        return False
    return checked < check_time(now, every, key)


@dataclass(frozen=True)
class Listing:
    """An agent's runs as listed, with what the agent list (read before) said then, when, and whether a full
    check was due."""

    runs: list[dict]
    hint: str | None
    at: dt.datetime
    due: bool = True

    def remember(self, state: dict) -> None:
        """Record the listing once everything it planned is handled (`why_list` reads it next time).

        The time is recorded with a new hint or when a check was due, not when the agent was listed only for
        a run pending or for want of a hint: so a sync that changed nothing else leaves the STATE as it was
        (and is not written), at the cost of one full check sooner than needed."""
        if self.hint is None:
            state.pop(HINT, None)
            state.pop(CHECKED, None)  # nothing to skip by, nothing to keep
        elif self.due or state.get(HINT) != self.hint:
            state[HINT] = self.hint
            state[CHECKED] = format_timestamp(self.at)


# -- how late a run may become visible ------------------------------------------------------------


@dataclass(frozen=True)
class Lateness:
    """A run that becomes visible after newer ones were handled is taken when it was created at most
    `window` before the newest listed run; `cap` bounds the ids kept to say so."""

    window: dt.timedelta = dt.timedelta(hours=1)
    cap: int = MAX_SEEN


#: The `late_runs_window_minutes` setting's default.
LATENESS = Lateness()


def next_since(
    created: Iterable[dt.datetime], previous: dt.datetime | None, lateness: Lateness
) -> dt.datetime | None:
    """The `seen_since` to keep once the listed runs (their `created`) are handled: the newest minus the
    window, raised so that at most `cap` runs are at or after it (more only when several share its
    instant), never below `previous` (runs before it were counted as handled already)."""
    dates = sorted(created, reverse=True)
    if not dates:
        return previous
    since = dates[0] - lateness.window
    if len(dates) > lateness.cap:
        since = max(since, dates[lateness.cap - 1])
    return since if previous is None else max(since, previous)


def kept_seen(
    final: Mapping[int, dt.datetime | None], since: dt.datetime | None, pending: Collection[int] = ()
) -> tuple[dt.datetime | None, list[int]]:
    """What the state keeps of the listed final runs (id -> `created`) while `pending` of them are still
    to be handled: the floor (`since`, lowered to the oldest pending run: runs before the floor count as
    handled) and the ids of the handled runs at or after it (an undated run always)."""
    waiting = [final[i] for i in pending if final.get(i) is not None]
    floor = min([since, *waiting]) if since is not None and waiting else since
    kept = [
        run_id
        for run_id, created in final.items()
        if run_id not in pending and (floor is None or created is None or created >= floor)
    ]
    return floor, sorted(kept)


def store_seen(state: dict, since: dt.datetime | None, seen: list[int]) -> None:
    """Write what `kept_seen` says into a stream's state (`seen_since` absent when there is none)."""
    state[SEEN] = seen
    if since is None:
        state.pop(SINCE, None)
    else:
        state[SINCE] = format_timestamp(since)


# -- the plan ----------------------------------------------------------------------------------------


@dataclass
class RunPlan:
    """The runs to handle now (oldest first, whatever the listing's order) and the state to keep as they
    are handled: `mark_handled` after each, `save` once all are."""

    handle: list[dict] = field(default_factory=list)
    watched: dict[str, str] = field(default_factory=dict)
    bookmark: str | None = None
    gap: bool = False
    skipped_no_date: int = 0
    late: list[int] = field(default_factory=list)
    #: The `seen_since` once every planned run is handled.
    since: dt.datetime | None = None
    #: Every listed final run's `created`, and those of them new by id, planned but not handled yet.
    final: dict[int, dt.datetime] = field(default_factory=dict)
    pending: set[int] = field(default_factory=set)
    #: The listing planned, recorded by `save` (set by the stream that listed).
    listing: Listing | None = None

    def mark_handled(self, state: dict, run: Mapping[str, Any]) -> None:
        """Record one handled run in `state` at once, so an interrupted sync does not handle it again; the
        ids kept stay bounded on the way (runs are handled oldest first, so the floor follows them)."""
        run_id = int(run["id"])
        kind = finality(run)
        if kind == "final":
            self.pending.discard(run_id)
            store_seen(state, *kept_seen(self.final, self.since, self.pending))
            (state.get(WATCHED) or {}).pop(str(run_id), None)
        elif kind == "watched":
            state.setdefault(WATCHED, {})[str(run_id)] = fingerprint(run)
        else:
            state.setdefault(WATCHED, {}).setdefault(str(run_id), "")

    def save(self, state: dict, replication_key: str) -> None:
        """Write the plan's state; call it once everything the plan handles was emitted."""
        store_seen(state, *kept_seen(self.final, self.since, self.pending))
        if self.watched:
            state[WATCHED] = self.watched
        else:
            state.pop(WATCHED, None)
        if self.bookmark is not None:
            state["replication_key"] = replication_key
            state[BOOKMARK] = self.bookmark
        if self.listing is not None:
            self.listing.remember(state)


def active_runs(plan: RunPlan) -> list[dict]:
    """The planned runs that are running (handled again on every sync until they finish)."""
    return [run for run in plan.handle if finality(run) == "active"]


def keep_watching(plan: RunPlan, state: dict, run_id: int) -> None:
    """A run that was interrupted mid-way and runs again stays watched until it ends (an empty fingerprint:
    whatever it ends as is a change), so what it delivered before is not taken again."""
    plan.watched.setdefault(str(run_id), state.setdefault(WATCHED, {}).setdefault(str(run_id), ""))


@dataclass(frozen=True)
class _Before:
    """What the state says was handled before this sync."""

    seen: frozenset[int]
    since: dt.datetime | None
    watched: Mapping[str, str]
    bookmark: dt.datetime | None

    @classmethod
    def of(cls, state: Mapping[str, Any]) -> _Before:
        return cls(
            frozenset(int(i) for i in state.get(SEEN) or ()),
            parse_timestamp(state.get(SINCE)),
            {str(k): str(v) for k, v in (state.get(WATCHED) or {}).items()},
            parse_timestamp(state.get(BOOKMARK)),
        )

    def handled(self, run_id: int, created: dt.datetime) -> bool:
        """Whether a final run was handled: by id, or created before the floor."""
        return run_id in self.seen or (self.since is not None and created < self.since)


def plan_runs(
    runs: Sequence[dict],
    state: Mapping[str, Any] | None = None,
    *,
    start_date: Any = None,
    max_records: int | None = None,
    lateness: Lateness = LATENESS,
) -> RunPlan:
    """Decide, from one agent's run listing and its state, which runs to handle and what to keep."""
    before = _Before.of(state or {})
    plan = RunPlan()
    dated = _dated(sorted(runs, key=dated_key("created")), parse_timestamp(start_date), plan)
    for created, run in dated:
        _plan_one(plan, run, created, before)
    plan.since = next_since((created for created, _ in dated), before.since, lateness)
    plan.bookmark = _next_bookmark(dated, before.bookmark)
    oldest = min((created for created, _ in dated), default=None)
    floor = before.bookmark or parse_timestamp(start_date)
    plan.gap = bool(
        floor is not None
        and max_records
        and len(runs) >= max_records
        and oldest is not None
        and oldest > floor
    )
    return plan


def _dated(runs: Sequence[dict], start: dt.datetime | None, plan: RunPlan) -> list[tuple[dt.datetime, dict]]:
    """The listed runs with their `created`, from `start_date` on (runs without a date are counted)."""
    dated: list[tuple[dt.datetime, dict]] = []
    for run in runs:
        created = parse_timestamp(run.get("created"))
        if created is None:
            plan.skipped_no_date += 1
        elif start is None or created >= start:
            dated.append((created, run))
    return dated


def _plan_one(plan: RunPlan, run: dict, created: dt.datetime, before: _Before) -> None:
    """Whether one listed run is handled now, and what the state keeps of it."""
    run_id = int(run["id"])
    kind = finality(run)
    previous = before.watched.get(str(run_id))
    if kind == "active":
        plan.handle.append(run)
        # Watched until it ends (an empty fingerprint: whatever it ends as is a change); a watched run
        # restarted keeps what was seen of it, so what it delivered before the restart (`watched_files`
        # of content streams) is not taken again when it ends.
        plan.watched[str(run_id)] = previous if previous is not None else ""
    elif kind == "watched":
        if previous != fingerprint(run) and run_id not in before.seen:
            plan.handle.append(run)
        plan.watched[str(run_id)] = fingerprint(run)
    else:
        plan.final[run_id] = created
        handled = before.handled(run_id, created)
        if not handled:
            plan.handle.append(run)
            plan.pending.add(run_id)  # the floor stays below it until it is out
            if before.bookmark is not None and created < before.bookmark and previous is None:
                plan.late.append(run_id)
        elif previous is not None and previous != fingerprint(run):
            plan.handle.append(run)  # watched until now: its watched entry stays until it is out


def _next_bookmark(dated: list[tuple[dt.datetime, dict]], bookmark: dt.datetime | None) -> str | None:
    """The `created` of the oldest active run, else of the newest run, else the bookmark kept."""
    active = [created for created, run in dated if finality(run) == "active"]
    if active:
        return format_timestamp(min(active))
    if dated:
        return format_timestamp(max(created for created, _ in dated))
    return format_timestamp(bookmark) if bookmark is not None else None
