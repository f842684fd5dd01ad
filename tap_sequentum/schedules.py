"""The schedules stream: when Sequentum runs each agent by itself, and when it runs next.

No field says a schedule changed, and reading every agent's schedules on every sync would cost a request per
agent. So an agent's schedules are read (`read_reason`, pure and table-tested) when:

- the agent is new to the stream;
- it ran or was edited (`SequentumStream.activity`: its entry in the agent list, or where that gives no hint
  its newest run in the runs list every stream of the sync shares);
- the organisation's upcoming scheduled runs (`analytics/schedules/upcoming`, one request per sync for every
  agent, the week from now) show its schedules differently than last time: a schedule added, deleted,
  enabled, disabled, renamed or moved that runs within the week. A 404 or 403 there only means no such
  signal;
- the full check is due: read at least every `runs_full_check_hours` (24 by default), at the agent's own
  time of the period as its runs list (`incremental.full_check_due`), for what no signal shows (a schedule's
  input parameters, one that runs later than the week).

The state keeps, per agent, the list hint and the upcoming runs' view at the last read, when that was, and
the schedule ids read. A schedule gone since the last read is emitted once more as a tombstone: its `id` and
`configId` with `_sdc_deleted_at` (Singer's convention: loaders keep the column; pipelinewise ones delete the
row with `hard_delete`), so a warehouse does not keep a deleted schedule alive.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import typing as th

from tap_sequentum import errors
from tap_sequentum.domain import (
    format_timestamp,
    parse_timestamp,
    run_every_period,
    schedule_type,
)
from tap_sequentum.incremental import full_check_due
from tap_sequentum.listings import by_key
from tap_sequentum.streams import (
    JSON_OBJECT,
    PARALLELISM,
    TIMESTAMP,
    PerAgentStream,
    ScopedStream,
    coded,
    properties,
)

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

#: `read_reason`'s default full check; a sync passes `runs_full_check_hours`, as the runs lists do.
FULL_CHECK = dt.timedelta(hours=24)
#: How far ahead the upcoming runs are listed: Sequentum's own default, so every schedule that runs at least
#: weekly is always in it.
UPCOMING_WINDOW = dt.timedelta(days=7)
#: Singer's column for a row deleted at the source.
DELETED = "_sdc_deleted_at"
HINT, UPCOMING, READ_AT, IDS = "hint", "upcoming", "read_at", "schedule_ids"
WITHOUT_UPCOMING = "an agent's schedules are read when its list entry changes and at the full check."

# -- when to read (pure) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LastRead:
    """What the state keeps of an agent's schedules: the agent's list hint and the upcoming runs' view when
    they were last read, when that was, and the schedule ids then."""

    hint: str | None
    upcoming: str | None
    at: dt.datetime
    ids: tuple[int, ...] = ()

    @classmethod
    def of(cls, state: Mapping[str, Any]) -> LastRead | None:
        """The last read kept in an agent's state; None when there is none (or none this tap could read)."""
        at = parse_timestamp(state.get(READ_AT))
        if at is None:
            return None
        ids = tuple(int(i) for i in state.get(IDS) or () if isinstance(i, int | str) and str(i).isdigit())
        return cls(state.get(HINT), state.get(UPCOMING), at, ids)

    def save(self, state: dict) -> None:
        state[HINT] = self.hint
        state[UPCOMING] = self.upcoming
        state[READ_AT] = format_timestamp(self.at)
        state[IDS] = sorted(self.ids)


def read_reason(
    last: LastRead | None,
    hint: str | None,
    upcoming: str | None,
    now: dt.datetime,
    *,
    full_check: dt.timedelta = FULL_CHECK,
    key: int = 0,
) -> str | None:
    """Why an agent's schedules must be read now, or None when nothing says they changed.

    `hint` is what the agent list says of the agent now (None: it says nothing, so the schedules are read),
    `upcoming` what the upcoming runs show of its schedules now (None: no such listing, no signal).
    """
    if last is None:
        return "new"
    if hint is None:
        return "no list hint"
    if hint != last.hint:
        return "list entry changed"
    if upcoming is not None and upcoming != last.upcoming:
        return "upcoming runs changed"
    if full_check_due(last.at, now=now, every=full_check, key=key):
        return "full check"
    return None


def upcoming_views(listing: Iterable[Mapping[str, Any]], since: dt.datetime) -> dict[int, str]:
    """What the upcoming runs show of each agent's schedules, as a short text that changes when they do:
    per schedule its id, name, whether it is enabled and its earliest next run from `since` on.

    Runs before `since` are left out and each schedule counts once, so a listing cut by days, or one that
    lists every run of a schedule rather than its next, shows the same view until a schedule changes or
    runs. An agent the listing does not show has no entry (its view is "").
    """
    shown: dict[int, dict[int, list[Any]]] = {}
    for entry in listing:
        try:
            agent_id, schedule_id = int(entry["agentId"]), int(entry["scheduleId"])
        except (KeyError, TypeError, ValueError):
            continue
        when = parse_timestamp(entry.get("nextRunTime"))
        if when is not None and when < since:
            continue
        line = [format_timestamp(when) if when else None, entry.get("scheduleName"), entry.get("isEnabled")]
        schedules = shown.setdefault(agent_id, {})
        known = schedules.get(schedule_id)
        if known is None or (line[0] is not None and (known[0] is None or line[0] < known[0])):
            schedules[schedule_id] = line
    return {agent_id: _digest(sorted(schedules.items())) for agent_id, schedules in shown.items()}


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]


# -- what is emitted (pure) ---------------------------------------------------------------------------


def schedule_record(raw: Mapping[str, Any], agent_id: int) -> dict[str, Any]:
    """One schedule as the stream emits it: the type and the RunEvery period as integer codes with their
    names beside them (older Sequentum versions send the type's name), its agent, not deleted."""
    kind, kind_name = schedule_type(raw.get("scheduleType"))
    period, period_name = run_every_period(raw.get("runEveryPeriod"), kind)
    config_id = raw.get("configId")
    return {
        **raw,
        "configId": int(config_id) if config_id is not None else agent_id,
        "scheduleType": kind,
        "scheduleTypeName": kind_name,
        "runEveryPeriod": period,
        "runEveryPeriodName": period_name,
        DELETED: None,
    }


def tombstones(before: Iterable[int], now: Iterable[int], agent_id: int, deleted_at: str) -> list[dict]:
    """The schedules read last time that are gone now, by id, each as its tombstone."""
    gone = sorted(set(before) - set(now))
    return [{"id": schedule_id, "configId": agent_id, DELETED: deleted_at} for schedule_id in gone]


# -- the stream ---------------------------------------------------------------------------------------


class SchedulesStream(PerAgentStream, ScopedStream):
    """The schedules of each agent: when Sequentum runs it by itself (CRON, RunEvery or RunOnce) and when
    next.

    An agent's schedules are read when it is new, when its agent list entry changed, when the upcoming
    scheduled runs show its schedules changed, and at the full check (`read_reason`); a deleted schedule is
    emitted once as a tombstone with `_sdc_deleted_at`. A key that may not read schedules (403) skips the
    stream with one warning.
    """

    name = "schedules"
    primary_keys = ("id",)
    replication_key = "updated"
    is_sorted = False
    agent_key = "configId"
    state_partitioning_keys: ClassVar[list[str]] = ["configId"]
    timestamp_fields = ("nextRunTime", "startTime", "created", "updated")
    free_form_fields = ("inputParameters",)
    schema = th.PropertiesList(
        *properties(th.IntegerType, "id", "configId", required=True),
        *properties(th.StringType, "name", "schedule", "localSchedule", "timezone"),
        *properties(TIMESTAMP, "nextRunTime", "startTime"),
        *coded("scheduleType", "scheduleTypeName"),
        th.Property("isEnabled", th.BooleanType),
        th.Property("runEveryCount", th.IntegerType),
        *coded("runEveryPeriod", "runEveryPeriodName"),
        th.Property("inputParameters", JSON_OBJECT),
        *PARALLELISM,
        th.Property("proxyPoolId", th.IntegerType),
        *properties(th.StringType, "logLevel", "logMode"),
        *properties(TIMESTAMP, "created", "updated", DELETED),
    ).to_dict()

    def record_written(self, record: Record, context: Context | None) -> None:
        """No SDK bookmark: `scoped_records` keeps what it read once an agent's schedules are out."""

    @cached_property
    def _now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    @cached_property
    def _upcoming(self) -> dict[int, str] | None:
        """The upcoming runs' view of every agent, from one request; None when Sequentum has no such listing
        for this key (404, 403), or refuses the request or answers it in a shape the tap does not know (the
        signal is one of several: the sync goes on without it)."""
        start, end = self._now, self._now + UPCOMING_WINDOW
        try:
            listing = self.client.list_upcoming_schedules(format_timestamp(start), format_timestamp(end))
        except (errors.NotFoundError, errors.PermissionDeniedError) as exc:
            self.logger.info("No upcoming scheduled runs (%s): %s", type(exc).__name__, WITHOUT_UPCOMING)
            return None
        except (errors.RequestRejectedError, errors.ResponseFormatError) as exc:
            self.logger.warning("The upcoming scheduled runs were not read (%s): %s", exc, WITHOUT_UPCOMING)
            return None
        return upcoming_views(listing, start)

    def scoped_records(self, context: Context | None) -> Iterator[dict]:
        agent_id = self.agent_of(context)
        state = self.get_context_state(context)
        last = LastRead.of(state)
        hint = self.activity(agent_id)  # without a hint in the agent list, its newest run (shared runs list)
        views = self._upcoming
        upcoming = None if views is None else views.get(agent_id, "")
        every = self.services.settings.full_check
        reason = read_reason(last, hint, upcoming, self._now, full_check=every, key=agent_id)
        if reason is None:
            return
        self.logger.debug("Reading the schedules of agent %s: %s.", agent_id, reason)
        listed = [raw for raw in by_key(self.client.list_schedules(agent_id)) if raw.get("id") is not None]
        for raw in listed:
            yield self.normalize(schedule_record(raw, agent_id))
        ids = tuple(int(raw["id"]) for raw in listed)
        yield from tombstones(last.ids if last else (), ids, agent_id, format_timestamp(self._now))
        if upcoming is None and last is not None:
            upcoming = last.upcoming  # no listing this time: compare with the last one it gave
        LastRead(hint, upcoming, self._now, ids).save(state)


SCHEDULE_STREAM_TYPES = [SchedulesStream]
