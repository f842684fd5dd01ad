"""Sequentum's enumerations and timestamp conventions, as small pure functions.

Status codes, file types, schedule types and periods, the .NET "unknown date" sentinel and free-form JSON
fields are facts about the API, not about any one stream, so they live here once and are tested as tables.
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
from collections.abc import Mapping
from typing import Any

#: Run status codes (API facts). The second item says whether the run has finished.
RUN_STATUSES: dict[int, tuple[str, bool]] = {
    0: ("Invalid", False),
    1: ("Running", False),
    2: ("Exporting", False),
    3: ("Starting", False),
    4: ("Queuing", False),
    5: ("Stopping", False),
    6: ("Failure", True),
    7: ("Failed", True),
    8: ("Stopped", True),
    9: ("Completed", True),
    10: ("Success", True),
    11: ("Skipped", True),
    12: ("Waiting", False),
    13: ("UpdatingDataSet", False),
}

#: Statuses whose run delivered what it was asked to deliver.
SUCCESS_STATUSES = frozenset({9, 10})

FILE_TYPES: dict[int, str] = {
    1: "DeliveredFile",
    2: "ExtractedFiles",
    3: "InternalExportFiles",
    4: "InternalRuntimeFiles",
    5: "InternalTrackingDb",
    6: "LogText",
    7: "LogHtml",
    8: "InternalContentCache",
}

#: Schedule types (API facts: Sequentum's client): live responses send the number, older versions the name.
SCHEDULE_TYPES: dict[int, str] = {1: "RunOnce", 2: "RunEvery", 3: "CRON"}
RUN_EVERY = 2

#: RunEvery periods as Sequentum's schedule requests number them (from 1). One line of its tool reference
#: numbers them from 0 (0 minutes ... 4 months): a 0, which only that reading has, is read as minutes; 1-4
#: are read as the requests and the client's types number them.
RUN_EVERY_PERIODS: dict[int, str] = {1: "Minutes", 2: "Hours", 3: "Days", 4: "Weeks", 5: "Months"}

#: The .NET DateTime.MinValue that summary lists use for "unknown".
DOTNET_MIN_DATE = "0001-01-01T00:00:00"


def status_code(status: Any) -> int | None:
    """Return the integer status code, accepting ints, numeric strings and status names."""
    if status is None or isinstance(status, bool):
        return None
    if isinstance(status, int):
        return status
    text = str(status).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    for code, (name, _) in RUN_STATUSES.items():
        if name.lower() == text.lower():
            return code
    return None


def status_name(status: Any) -> str | None:
    """Name of a run status code, or None when the code is unknown."""
    code = status_code(status)
    entry = RUN_STATUSES.get(code) if code is not None else None
    return entry[0] if entry else None


def is_finished(status: Any) -> bool:
    """True when a run in this status will not change any more (unknown codes count as not finished).

    Treating unknown codes as unfinished is the safe side: the run is re-read on the next sync instead of
    being bookmarked past.
    """
    code = status_code(status)
    entry = RUN_STATUSES.get(code) if code is not None else None
    return bool(entry and entry[1])


def file_type_name(file_type: Any) -> str | None:
    """Name of a `fileType` code, or None when unknown."""
    code = status_code(file_type)
    return FILE_TYPES.get(code) if code is not None else None


def enum_code(value: Any, names: Mapping[int, str]) -> int | None:
    """The integer code of an enumeration sent as a number, a numeric string or a name (any case, singular
    or plural: `cron`, `Hour`); None when it is none of these."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    for number, name in names.items():
        if text.lower() in (name.lower(), name.lower().removesuffix("s")):
            return number
    return None


def schedule_type(value: Any) -> tuple[int | None, str | None]:
    """A schedule's type as (code, name) from a number or a name in any case; an unknown number keeps its
    code without a name, an unknown name its text without a code, so nothing sent is lost."""
    code = enum_code(value, SCHEDULE_TYPES)
    if code is not None:
        return code, SCHEDULE_TYPES.get(code)
    text = str(value).strip() if value is not None and not isinstance(value, bool) else ""
    return None, text or None


def run_every_period(value: Any, kind: int | None) -> tuple[int | None, str | None]:
    """A RunEvery period as (code, name), numbered from 1 (`RUN_EVERY_PERIODS`), from a number or a name.
    A 0 is minutes on a RunEvery schedule (the 0-based reading) and no period on the other types, whose
    period means nothing."""
    code = enum_code(value, RUN_EVERY_PERIODS)
    if code == 0:
        code = 1 if kind == RUN_EVERY else None
    return code, RUN_EVERY_PERIODS.get(code) if code is not None else None


def free_form(value: Any, *, as_text: bool = False) -> Any:
    """A free-form JSON field (input parameters, templates), one rule for every stream: a JSON object sent
    as its text is emitted as the object, whichever form Sequentum used; anything else as sent. `as_text`
    (Parquet batches, whose encoder infers a struct per record) writes an object or array as compact JSON
    text instead."""
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if as_text and isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def file_extension(name: str | None) -> str | None:
    """Lower-case extension without the dot (`report.CSV` -> `csv`), or None when there is none."""
    if not name:
        return None
    ext = posixpath.splitext(name.rsplit("\\", 1)[-1])[1]
    return ext[1:].lower() or None


def parse_timestamp(value: Any) -> dt.datetime | None:
    """Parse an API timestamp to an aware UTC datetime; the .NET sentinel and blanks become None.

    The API speaks UTC; a timestamp without a zone is taken as UTC rather than local time.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = str(value).strip()
        if not text or text.startswith("0001-01-01"):
            return None
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    if parsed.year <= 1:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def format_timestamp(value: dt.datetime) -> str:
    """Render a datetime as RFC 3339 UTC with microseconds, the form state and records use."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalize_timestamp(value: Any) -> str | None:
    """API timestamp -> RFC 3339 UTC text, or None for the sentinel, blanks and garbage."""
    parsed = parse_timestamp(value)
    return format_timestamp(parsed) if parsed else None


#: The agent list's fields that change when an agent runs or is edited (API facts: "Agent list as a change
#: signal"): the newest activity, the status of its last run, its version and its last update.
HINT_FIELDS = ("lastActivity", "status", "version", "updated")


def list_hint(summary: Mapping[str, Any]) -> str | None:
    """What an agent's list entry says about its runs, as one comparable text; None when the entry gives
    no hint (`lastActivity` null or missing, as on the reference page's own sample), so a missing hint can
    never make anything look unchanged."""
    if parse_timestamp(summary.get("lastActivity")) is None:
        return None
    values = [summary.get(name) for name in HINT_FIELDS]
    values[0] = normalize_timestamp(values[0])
    values[3] = normalize_timestamp(values[3])
    return "|".join("" if value is None else str(value) for value in values)
