"""What scraping costs: run_costs, credit_transactions and spaces.

Their endpoints need scopes that not every key has (billing:read): a 403 skips the stream with one
warning and every other stream syncs. The bookkeeping (an inclusive bookmark, which agents need a billing
request at all, which costs and transactions to emit and in which order) is pure functions and a small value
class at the top, tested as tables; the streams are declarations over the client below them. Nothing
documents the order of the billing listings, so none is relied on (docs/http.md): costs are read whole and
emitted in date order, and the credit history's early stop is taken only while it shows itself newest first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import typing as th

from tap_sequentum.domain import format_timestamp, parse_timestamp
from tap_sequentum.incremental import (
    BOOKMARK,
    LATENESS,
    SEEN,
    SINCE,
    Lateness,
    finality,
    kept_seen,
    next_since,
    store_seen,
)
from tap_sequentum.listings import by_key, dated_key, order_of
from tap_sequentum.streams import JSON_ANY, TIMESTAMP, PerAgentStream, ScopedStream, properties

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

BILLING_READ = "billing:read"
#: Billing lists give at most 100 items per page.
PAGE_SIZE = 100
#: Ids already emitted with exactly the bookmark's timestamp: the APIs' date bounds are inclusive.
AT_BOOKMARK = "bookmark_ids"
#: Runs listed as not final yet when the bookmark was set: billed later, possibly dated before it.
UNBILLED = "unbilled_run_ids"

# -- bookkeeping (pure) -------------------------------------------------------------------------------


@dataclass
class Bookmark:
    """An inclusive bookmark: the newest timestamp emitted and the ids emitted at exactly that instant."""

    value: dt.datetime | None = None
    ids: set[Any] = field(default_factory=set)

    @classmethod
    def of(cls, state: Mapping[str, Any]) -> Bookmark:
        return cls(parse_timestamp(state.get(BOOKMARK)), set(state.get(AT_BOOKMARK) or ()))

    def covers(self, when: dt.datetime | None, item_id: Any) -> bool:
        """Whether an item dated `when` was emitted already (an undated item never counts as emitted)."""
        if self.value is None or when is None:
            return False
        return when < self.value or (when == self.value and item_id in self.ids)

    def advance(self, when: dt.datetime | None, item_id: Any) -> None:
        """Count an item as emitted."""
        if when is None:
            return
        if self.value is None or when > self.value:
            self.value, self.ids = when, {item_id}
        elif when == self.value:
            self.ids.add(item_id)

    def save(self, state: dict, replication_key: str) -> None:
        if self.value is not None:
            state["replication_key"] = replication_key
            state[BOOKMARK] = format_timestamp(self.value)
            state[AT_BOOKMARK] = sorted(self.ids, key=str)


def is_new(bookmark: Bookmark, when: dt.datetime | None, item_id: Any, start: dt.datetime | None) -> bool:
    """After the bookmark, or, before there is one, at or after `start_date`."""
    if bookmark.value is None:
        return start is None or when is None or when >= start
    return not bookmark.covers(when, item_id)


@dataclass
class CostPlan:
    """For one agent: whether to ask for its run costs, from when, and which runs may come dated before
    the bookmark; `unbilled` is what the state keeps once the costs asked for are out."""

    ask: bool = False
    start: str | None = None
    late: set[int] = field(default_factory=set)
    unbilled: list[int] = field(default_factory=list)
    #: The final runs listed at or after `since` (runs created before it count as seen, as in `runs`): once
    #: the costs asked for are out, a final run not among them and not before `since` is new.
    seen: list[int] = field(default_factory=list)
    since: dt.datetime | None = None

    def save(self, state: dict) -> None:
        """Write what was seen, once the costs asked for are out (`unbilled` is written apart)."""
        store_seen(state, self.since, self.seen)


def plan_costs(
    runs: Sequence[Mapping[str, Any]],
    state: Mapping[str, Any],
    *,
    start_date: Any = None,
    max_records: int | None = None,
    lateness: Lateness = LATENESS,
) -> CostPlan:
    """Decide from an agent's runs list (in any order) whether its run costs must be asked for.

    A run is billed once final, dated by its end: only a final run that ends after the bookmark is new.
    A run that was not final when the bookmark passed its end (a failure waiting to be retried) can be
    billed later with an older date, so such runs are kept (`unbilled`) and asked for from their
    `created` once final. So is a final run never seen before that ended before the bookmark (it became
    visible late: servers with different clocks, within the same `lateness` as `runs`: a final run
    created before `seen_since` counts as seen). A run without an end, a Failure without `tableType`
    (final or not, only billing can tell) or a full list whose oldest run is newer than the bookmark asks
    too: a missing hint never skips a cost.
    """
    bookmark = Bookmark.of(state)
    start = parse_timestamp(start_date)
    waiting = {int(i) for i in state.get(UNBILLED) or ()}
    # No `seen_run_ids` yet (the agent's first sync was stopped before it ended): the runs before the bookmark
    # are those it emitted, not late ones.
    seen = {int(i) for i in state.get(SEEN) or ()} if SEEN in state else None
    since = parse_timestamp(state.get(SINCE))
    final: dict[int, dt.datetime | None] = {}
    plan = CostPlan()
    for run in runs:
        run_id = int(run["id"])
        kind = finality(run)
        end = parse_timestamp(run.get("endTime"))
        created = parse_timestamp(run.get("created"))
        if kind != "final":
            plan.unbilled.append(run_id)
            if kind == "active" or run.get("tableType") == "run":
                continue  # not billed yet
        else:
            final[run_id] = created
        if kind == "final" and run_id in waiting:
            plan.late.add(run_id)
        elif is_new(bookmark, end, run_id, start):
            plan.ask = True
        elif (
            kind == "final"
            and seen is not None
            and run_id not in seen
            and (since is None or created is None or created >= since)
            and (start is None or end is None or end >= start)
        ):
            plan.late.add(run_id)  # never seen, ended before the bookmark: it became visible late
    floor = bookmark.value or start
    oldest = min(filter(None, (parse_timestamp(r.get("created")) for r in runs)), default=None)
    if max_records and len(runs) >= max_records and (floor is None or oldest is None or oldest > floor):
        plan.ask = True  # older runs are not listed: only billing can tell
    plan.ask = plan.ask or bool(plan.late)
    created = [parse_timestamp(r.get("created")) for r in runs if int(r["id"]) in plan.late]
    if bookmark.value is not None and all(created):
        plan.start = format_timestamp(min([bookmark.value, *(c for c in created if c)]))
    else:  # the first sync, or a late run without a date: from start_date
        plan.start = format_timestamp(start) if start else None
    plan.unbilled.sort()
    dates = [created for created in map(parse_timestamp, (r.get("created") for r in runs)) if created]
    plan.since, plan.seen = kept_seen(final, next_since(dates, since, lateness))
    return plan


def costs_to_emit(
    listing: Iterable[Mapping[str, Any]], plan: CostPlan, bookmark: Bookmark, *, start: dt.datetime | None
) -> list[Mapping[str, Any]]:
    """The costs to emit from an agent's whole billing listing (asked from `plan.start`), in date order,
    then run id, whatever order the listing came in: those after the bookmark, and the runs `plan.late`
    names (billed or seen after the bookmark passed their date). Each run once: a listing that shifted while
    it was paged through repeats one.

    Emitted in this order with the bookmark advanced over each, every STATE written on the way is a place to
    resume from: what is dated before the bookmark was emitted (late runs are kept in the state until out).
    """
    found: dict[int, Mapping[str, Any]] = {}
    for entry in listing:
        run_id = int(entry["runId"])
        if run_id in plan.late or is_new(bookmark, parse_timestamp(entry.get("date")), run_id, start):
            found.setdefault(run_id, entry)
    return sorted(found.values(), key=dated_key("date", "runId"))


@dataclass
class Transactions:
    """What `new_transactions` found: the new transactions oldest first, the pages read, and whether the
    listing showed itself not newest first (it was then read whole)."""

    items: list[Mapping[str, Any]]
    pages: int = 0
    unordered: bool = False


def new_transactions(
    listing: Iterable[Mapping[str, Any]], bookmark: Bookmark, *, start: dt.datetime | None, page_size: int
) -> Transactions:
    """The transactions after the bookmark (or from `start_date`), oldest first.

    Sequentum's lists are newest first (nothing documents this one's order), so once a page reaches below the
    bookmark the pages after it would be older still and are not read. That stop is taken only once the
    listing has shown itself newest first (a step down in `created`, none up): a listing that steps up is read
    whole and said so (`unordered`), so a server that lists oldest first or shuffled loses nothing. Every
    transaction of the last page is checked, so the ones at the bookmark's very instant are never skipped; a
    listing that shifted while being read repeats a transaction, so they are kept by id.
    """
    floor = bookmark.value or start
    found: dict[Any, Mapping[str, Any]] = {}
    dates: list[dt.datetime | None] = []
    pages = 0
    items = iter(listing)
    while page := list(islice(items, page_size)):
        pages += 1
        page_dates = [parse_timestamp(item.get("created")) for item in page]
        dates += page_dates
        for item, when in zip(page, page_dates, strict=True):
            if is_new(bookmark, when, item.get("id"), start):
                found.setdefault(item.get("id"), item)
        below = floor is not None and any(when is not None and when < floor for when in page_dates)
        if below and order_of(dates) == "newest first":
            break
    order = order_of(dates)
    return Transactions(
        sorted(found.values(), key=dated_key("created")), pages, order in ("oldest first", "unordered")
    )


# -- streams ------------------------------------------------------------------------------------------


class SpacesStream(ScopedStream):
    """The organisation's spaces, to group agents by `agents.spaceId` (null: the owner's personal space)."""

    name = "spaces"
    primary_keys = ("id",)
    required_scope = None  # not a billing scope (the sandbox reads spaces with the agents' scope)
    timestamp_fields = ("created", "updated")
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        *properties(th.StringType, "name", "description"),
        th.Property("organizationId", th.IntegerType),
        th.Property("scope", th.StringType),
        th.Property("isDefaultAccess", th.BooleanType),
        th.Property("runRetentionHours", th.IntegerType),
        th.Property("initiatedBy", th.StringType),
        th.Property("access", JSON_ANY),
        *properties(TIMESTAMP, "created", "updated"),
    ).to_dict()

    def scoped_records(self, context: Context | None) -> Iterator[dict]:
        for space in by_key(self.client.list_spaces()):
            yield self.normalize(dict(space))


class RunCostsStream(PerAgentStream, ScopedStream):
    """What each final run cost, per agent, incremental on `date` (the run's end). An agent whose runs
    list shows no new final run costs no billing request (`plan_costs`), one whose list entry is unchanged
    and has no run waiting to be billed no request at all (`why_list`)."""

    name = "run_costs"
    required_scope = BILLING_READ
    primary_keys = ("runId",)
    replication_key = "date"
    is_sorted = False
    agent_key = "agentId"
    state_partitioning_keys: ClassVar[list[str]] = ["agentId"]
    timestamp_fields = ("date", "startTime", "endTime")
    pending_keys = (UNBILLED,)
    schema = th.PropertiesList(
        *properties(th.IntegerType, "runId", "agentId", required=True),
        th.Property("date", TIMESTAMP, required=True),
        th.Property("cost", th.NumberType),
        th.Property("billingType", th.StringType),
        *properties(TIMESTAMP, "startTime", "endTime"),
    ).to_dict()

    def record_written(self, record: Record, context: Context | None) -> None:
        """No SDK bookmark: `scoped_records` keeps each cost once it is out."""

    def scoped_records(self, context: Context | None) -> Iterator[dict]:
        agent_id = self.agent_of(context)
        state = self.get_context_state(context)
        listing = self.runs_listing(agent_id, state)  # one answer shared by every stream
        if listing is None:
            return
        settings = self.services.settings
        start = settings.start_date
        plan = plan_costs(
            listing.runs,
            state,
            start_date=start,
            max_records=settings.runs_max_records,
            lateness=settings.lateness,
        )
        emitted: set[int] = set()
        if plan.unbilled or plan.late:
            # Kept before the bookmark moves: a sync stopped half-way must still look for these runs, whose
            # costs may come dated before the bookmark.
            state[UNBILLED] = sorted({*plan.unbilled, *plan.late})
        if plan.ask:
            bookmark = Bookmark.of(state)
            costs = self.client.list_run_costs(agent_id, plan.start, PAGE_SIZE)
            for entry in costs_to_emit(costs, plan, bookmark, start=start):
                run_id = int(entry["runId"])
                yield self.normalize({**entry, "agentId": agent_id})
                emitted.add(run_id)
                bookmark.advance(parse_timestamp(entry.get("date")), run_id)
                bookmark.save(state, self.replication_key)
                if run_id in plan.late:
                    # Out: a resumed sync must not take it as late again.
                    state[UNBILLED] = [i for i in state.get(UNBILLED) or () if i != run_id]
                    if SEEN in state and run_id not in state[SEEN]:
                        state[SEEN] = sorted([*state[SEEN], run_id])
        unbilled = [run_id for run_id in plan.unbilled if run_id not in emitted]
        if unbilled:
            state[UNBILLED] = unbilled
        else:
            state.pop(UNBILLED, None)
        plan.save(state)
        listing.remember(state)


class CreditTransactionsStream(ScopedStream):
    """The organisation's credit history, incremental on `created`, emitted oldest first. Read until a page
    reaches below the bookmark while the listing is newest first, else whole (`new_transactions`)."""

    name = "credit_transactions"
    required_scope = BILLING_READ
    primary_keys = ("id",)
    replication_key = "created"
    is_sorted = False
    timestamp_fields = ("created", "expiresAt")
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("transactionType", th.StringType),
        *properties(th.NumberType, "amount", "balance"),
        th.Property("created", TIMESTAMP, required=True),
        th.Property("expiresAt", TIMESTAMP),
        th.Property("message", th.StringType),
    ).to_dict()

    def record_written(self, record: Record, context: Context | None) -> None:
        """No SDK bookmark: `scoped_records` keeps each transaction once it is out."""

    def scoped_records(self, context: Context | None) -> Iterator[dict]:
        state = self.stream_state
        bookmark = Bookmark.of(state)
        start = self.services.settings.start_date
        listing = self.client.list_credit_transactions(PAGE_SIZE)
        found = new_transactions(listing, bookmark, start=start, page_size=PAGE_SIZE)
        if found.unordered:
            self.logger.warning(
                "The credit history (billing/history) is not listed newest first: it was read whole (%d "
                "page(s)) instead of up to the bookmark, so no transaction is skipped.",
                found.pages,
            )
        for item in found.items:
            yield self.normalize(dict(item))
            bookmark.advance(parse_timestamp(item.get("created")), item.get("id"))
            bookmark.save(state, self.replication_key)


BILLING_STREAM_TYPES = [SpacesStream, RunCostsStream, CreditTransactionsStream]
