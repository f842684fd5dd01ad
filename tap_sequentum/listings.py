"""Reading listings whose order no one promised: pure functions, tested as tables.

Sequentum documents the order of few of its listings (docs/http.md has the table), so the tap decides from
what a listing holds, never from where an item stands in it: items are put in one order here before they are
planned or emitted, and where reading less depends on an order (the credit history's early stop) the order is
checked as the listing arrives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypeVar

from tap_sequentum.domain import parse_timestamp

Order = Literal["newest first", "oldest first", "unordered", "unknown"]
M = TypeVar("M", bound=Mapping[str, Any])
_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


def order_of(dates: Iterable[dt.datetime | None]) -> Order:
    """How a listing is ordered by these dates, in listing order: "unknown" until two differ; equal dates
    and undated items say nothing."""
    steps = set()
    previous: dt.datetime | None = None
    for when in dates:
        if when is None:
            continue
        if previous is not None and when != previous:
            steps.add(when < previous)
        previous = when
    if steps == {True}:
        return "newest first"
    if steps == {False}:
        return "oldest first"
    return "unordered" if steps else "unknown"


def _number(value: Any) -> tuple[int, str]:
    """An id as a sort key: numbers by value, anything else after them, as text."""
    try:
        return 0, f"{int(value):020d}"
    except (TypeError, ValueError):
        return 1, str(value)


def dated_key(date: str, key: str = "id") -> Callable[[Mapping[str, Any]], tuple]:
    """Sort key (date, then id) for listing items; an undated item sorts as the oldest."""
    return lambda item: (parse_timestamp(item.get(date)) or _EPOCH, _number(item.get(key)))


def newest_first(runs: Iterable[M]) -> list[M]:
    """Runs (or any items with `created` and `id`) newest first, as Sequentum documents its runs list."""
    return sorted(runs, key=dated_key("created"), reverse=True)


def by_key(items: Iterable[M], key: str = "id", *, reverse: bool = False) -> list[M]:
    """Items by one field (an id, a version), so what is emitted does not follow the listing's order."""
    return sorted(items, key=lambda item: _number(item.get(key)), reverse=reverse)


def each_once(items: Iterable[M], key: str = "id") -> list[M]:
    """Items without repeats (a listing that shifted while it was paged repeats one); the first is kept."""
    found: dict[Any, M] = {}
    for item in items:
        found.setdefault(item.get(key), item)
    return list(found.values())
