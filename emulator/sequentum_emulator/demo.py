"""The seeded demo: ``data/demo.json`` says what it holds, this module how it is made.

The file has two sections of ``{"spaces": [...], "agents": [...]}``: "demo", seeded by default (spaces 7
and 12, agents 1001-1006 and their runs and files), and "realities", opt-in agents with what Sequentum
really delivers (issue 8: ``Sandbox(realities=True)``, ``sequentum-emulator --realities``). Everything is
fixed (dates, rows, ids in creation order), so tests can name runs and files; seeded runs keep their
status, only runs started through the API advance with time.

Its vocabulary ("?" marks an optional key). Any other key, a missing one, a value of the wrong type or
a name this module does not know fails when the file is loaded, naming the place (a typo must not
silently change the demo); ``notes`` is allowed on every object and ignored.

- space: ``id``, ``name``, ``description``, ``created``, ``initiated_by``, ``run_retention_hours``?
- agent: ``name``, ``kind`` (one of ``tables.GENERATORS``: the rows its API-started runs deliver),
  ``description``, ``start_url``, ``fields``? (further API fields, camelCase), ``versions`` (``created``,
  ``user``, ``comment``; the first creates the agent), ``first_sequence`` (its first run's), ``runs``,
  ``schedules``?.
- schedule: ``name``, ``type`` (its API name: "RunOnce", "RunEvery", "CRON"), ``created``, ``timezone``?
  (default "UTC"), ``enabled``? (default true), ``next_run``? (the scheduler's next run; the sandbox runs no
  scheduler, so it stays as written), ``input_parameters``? (an object, served as its JSON text),
  ``parallelism``?; and by type: CRON ``cron`` (the expression); RunEvery ``every`` (a count) and ``period``
  (its API name: "Minutes", "Hours", "Days", "Weeks", "Months"), ``start``?; RunOnce ``start``.
- run: ``created``, ``status`` (its API name: "Completed", "Failure"...), ``message``?,
  ``waiting_retry``? (a Failure Sequentum will retry), ``outputs``? (a final run also gets its log).
- output: ``name`` (``{run}`` becomes the run's id), ``file_type``? (its API name, default
  "DeliveredFile"), and how its bytes are made, one of:

  - ``table`` (a kind) and ``rows``: generated, seeded and dated by the run's creation time; ``head``?
    keeps the first rows (what a stopped run exported); ``render``? is "csv" (the default; options
    ``quote_strings``, ``delimiter``, ``encoding``, ``newline``, ``bom``), "tsv", "json" or "xml"
    (options ``root``, ``record``, ``attributes``, ``item_names``, ``encoding``), as ``tables.to_*``;
  - ``shipped``: a hand-written file of ``data/``; ``bom_crlf``? saves it as Excel on Windows does;
  - ``opaque``: "sqlite", bytes standing in for an export database, to be skipped, not parsed;
  - ``made_by``: a function of ``MAKERS`` that makes several files at once (``shop_files``, a Shop
    crawler's two export tables), without ``name``; ``names``? renames them in order.

The credit history stays a rule in code (``_credits``): it is made week by week with seeded random
amounts, so its numbers are the parameters of one rule, read best beside it, not records to list.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache, partial
from importlib import resources
from typing import Any

from sequentum_emulator import tables
from sequentum_emulator.dataset import (
    AGENT_FIELDS,
    DATA_FILE,
    FINISHED,
    LOG_FILE,
    PERIODS,
    RUNNING,
    SCHEDULE_TYPES,
    Agent,
    Dataset,
    Run,
    parse_time,
)

DATA = resources.files("sequentum_emulator") / "data"
DEMO_FILE = "demo.json"

# API facts: run statuses and file types by the names the data file uses.
RUN_STATUSES = {
    "Invalid": 0,
    "Running": 1,
    "Exporting": 2,
    "Starting": 3,
    "Queuing": 4,
    "Stopping": 5,
    "Failure": 6,
    "Failed": 7,
    "Stopped": 8,
    "Completed": 9,
    "Success": 10,
    "Skipped": 11,
    "Waiting": 12,
    "UpdatingDataSet": 13,
}
FILE_TYPES = {
    "DeliveredFile": 1,
    "ExtractedFiles": 2,
    "InternalExportFiles": 3,
    "InternalRuntimeFiles": 4,
    "InternalTrackingDb": 5,
    "LogText": 6,
    "LogHtml": 7,
    "InternalContentCache": 8,
}

#: Schedule types and RunEvery periods by the names the data file uses.
SCHEDULE_TYPE_NAMES = {name: code for code, name in SCHEDULE_TYPES.items()}
PERIOD_NAMES = {name: code for code, name in PERIODS.items()}

#: The files an output makes, as (name, content), from the run's creation time.
Files = Callable[[str], list[tuple[str, bytes]]]


@dataclass(frozen=True)
class Output:
    """Files a seeded run delivers; "{run}" in a name becomes the run's id."""

    files: Files
    file_type: int = DATA_FILE


@dataclass(frozen=True)
class DemoRun:
    created: str
    status: int
    outputs: Sequence[Output] = ()
    message: str | None = None
    waiting_retry: bool = False


@dataclass(frozen=True)
class DemoSchedule:
    """A seeded schedule as the camelCase fields `Dataset.add_schedule` takes."""

    fields: Mapping[str, Any]


@dataclass(frozen=True)
class DemoAgent:
    """A seeded agent, created with the first of its `versions` (created, user, comment); `fields` are
    further API fields (camelCase); its runs are numbered from `first_sequence`."""

    name: str
    kind: str
    description: str
    start_url: str
    versions: Sequence[tuple[str, str, str]]
    first_sequence: int
    runs: Sequence[DemoRun]
    fields: Mapping[str, Any] = field(default_factory=dict)
    schedules: Sequence[DemoSchedule] = ()


@dataclass(frozen=True)
class DemoSpace:
    id: int
    name: str
    description: str
    created: str
    initiated_by: str
    run_retention_hours: int | None = None


@dataclass(frozen=True)
class Section:
    """One section of the data file: spaces first, then agents in creation order."""

    spaces: Sequence[DemoSpace]
    agents: Sequence[DemoAgent]


@dataclass(frozen=True)
class DemoData:
    demo: Section
    realities: Section


class DemoDataError(ValueError):
    """The data file says something this module does not understand."""


# --- how bytes are made ----------------------------------------------------------------------


def generated(
    kind: str, rows: int, render: Callable[[tables.Table], bytes] = tables.to_csv, *, head: int | None = None
) -> Callable[[str], bytes]:
    """A table of `kind` seeded and dated by the run's creation time, rendered as delivered; `head` keeps
    the rows a stopped run exported."""

    def content(created: str) -> bytes:
        table = tables.generate(kind, created, rows, parse_time(created))
        return render(table if head is None else table.head(head))

    return content


def demo_file(name: str) -> bytes:
    """A hand-written trap file shipped as package data (works from an installed wheel)."""
    return (DATA / name).read_bytes()


def shipped(name: str, *, bom_crlf: bool = False) -> Callable[[str], bytes]:
    """A hand-written file from data/; bom_crlf saves it as Excel on Windows does."""

    def content(_created: str) -> bytes:
        data = demo_file(name)
        return tables.with_bom_crlf(data.decode()) if bom_crlf else data

    return content


def _internal_db(seed: str) -> bytes:
    """Opaque bytes standing in for an export database: a loader must skip, not parse, these."""
    return b"SQLite format 3\x00" + bytes((i * 37 + len(seed)) % 256 for i in range(2048))


def shop_files(
    created: str, products_name: str = "Products.csv", reviews_name: str = "Reviews.csv"
) -> list[tuple[str, bytes]]:
    """The two export tables a Shop crawler run delivers, as of its creation time (name, content)."""
    products = tables.generate("shop", created, 24, parse_time(created))
    reviews = tables.shop_reviews(products, created, 36)
    return [(products_name, tables.to_csv(products)), (reviews_name, tables.to_csv(reviews))]


# Renderers by name with the options (and their types) each takes.
RENDERERS: dict[str, tuple[Callable[..., bytes], dict[str, type]]] = {
    "csv": (
        tables.to_csv,
        {"quote_strings": bool, "delimiter": str, "encoding": str, "newline": str, "bom": bool},
    ),
    "tsv": (tables.to_tsv, {}),
    "json": (tables.to_json, {}),
    "xml": (
        tables.to_xml,
        {"root": str, "record": str, "attributes": list, "item_names": dict, "encoding": str},
    ),
}
OPAQUE: dict[str, Callable[[str], bytes]] = {"sqlite": _internal_db}
MAKERS: dict[str, Callable[..., list[tuple[str, bytes]]]] = {"shop_files": shop_files}


# --- reading the data file ---------------------------------------------------------------------


def _object(
    value: Any, where: str, required: Mapping[str, type], optional: Mapping[str, type] | None = None
) -> dict[str, Any]:
    """`value` as an object with exactly these keys (and `notes`), each of its type."""
    if not isinstance(value, dict):
        raise DemoDataError(f"{where}: expected an object, not {value!r}")
    known = {**required, **(optional or {}), "notes": str}
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise DemoDataError(f"{where}: unknown key(s) {unknown}; known here: {', '.join(sorted(known))}")
    missing = sorted(set(required) - set(value))
    if missing:
        raise DemoDataError(f"{where}: missing key(s) {missing}")
    for key, item in value.items():
        expected = known[key]
        if not isinstance(item, expected) or (expected is int and isinstance(item, bool)):
            raise DemoDataError(f"{where}.{key}: expected {expected.__name__}, not {item!r}")
    return value


def _strings(value: list[Any] | dict[str, Any], where: str) -> None:
    items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
    if not all(isinstance(item, str) for item in items):
        raise DemoDataError(f"{where}: expected strings only, not {value!r}")


def _named(table: Mapping[str, Any], name: str, where: str) -> Any:
    if not isinstance(name, str) or name not in table:
        raise DemoDataError(f"{where}: {name!r} is none of {', '.join(table)}")
    return table[name]


SOURCES = ("table", "shipped", "opaque", "made_by")


def _output(value: Any, where: str) -> Output:
    """One output: its one source key (how the bytes are made) decides which other keys it may have."""
    if not isinstance(value, dict):
        raise DemoDataError(f"{where}: expected an object, not {value!r}")
    sources = [key for key in SOURCES if key in value]
    if len(sources) != 1:
        raise DemoDataError(f"{where}: needs exactly one of {', '.join(SOURCES)}, has {sources or 'none'}")
    source = sources[0]
    common: dict[str, type] = {"file_type": str}
    files: Files
    if source == "table":
        render_name = value.get("render", "csv")
        render, options = _named(RENDERERS, render_name, f"{where}.render")
        spec = _object(
            value,
            where,
            {"name": str, "table": str, "rows": int},
            {**common, "head": int, "render": str, **options},
        )
        _named(tables.GENERATORS, spec["table"], f"{where}.table")
        kwargs = {key: spec[key] for key in options if key in spec}
        for key in ("attributes", "item_names"):
            if key in kwargs:
                _strings(kwargs[key], f"{where}.{key}")
        make = generated(spec["table"], spec["rows"], partial(render, **kwargs), head=spec.get("head"))
        files = _single(spec["name"], make)
    elif source == "shipped":
        spec = _object(value, where, {"name": str, "shipped": str}, {**common, "bom_crlf": bool})
        if not (DATA / spec["shipped"]).is_file():
            raise DemoDataError(f"{where}.shipped: no file {spec['shipped']!r} in sequentum_emulator/data")
        files = _single(spec["name"], shipped(spec["shipped"], bom_crlf=spec.get("bom_crlf", False)))
    elif source == "opaque":
        spec = _object(value, where, {"name": str, "opaque": str}, common)
        files = _single(spec["name"], _named(OPAQUE, spec["opaque"], f"{where}.opaque"))
    else:
        spec = _object(value, where, {"made_by": str}, {**common, "names": list})
        maker = _named(MAKERS, spec["made_by"], f"{where}.made_by")
        names = spec.get("names", [])
        _strings(names, f"{where}.names")
        files = _made(maker, names)
    file_type = _named(FILE_TYPES, spec.get("file_type", "DeliveredFile"), f"{where}.file_type")
    return Output(files, file_type)


def _single(name: str, content: Callable[[str], bytes]) -> Files:
    return lambda created: [(name, content(created))]


def _made(maker: Callable[..., list[tuple[str, bytes]]], names: Sequence[str]) -> Files:
    return lambda created: maker(created, *names)


def _run(value: Any, where: str) -> DemoRun:
    spec = _object(
        value,
        where,
        {"created": str, "status": str},
        {"message": str, "waiting_retry": bool, "outputs": list},
    )
    outputs = [_output(o, f"{where}.outputs[{i}]") for i, o in enumerate(spec.get("outputs", []))]
    return DemoRun(
        spec["created"],
        _named(RUN_STATUSES, spec["status"], f"{where}.status"),
        outputs,
        spec.get("message"),
        spec.get("waiting_retry", False),
    )


#: What each schedule type needs (required, optional) beyond the keys every schedule has.
SCHEDULE_KEYS: dict[str, tuple[dict[str, type], dict[str, type]]] = {
    "CRON": ({"cron": str}, {}),
    "RunEvery": ({"every": int, "period": str}, {"start": str}),
    "RunOnce": ({"start": str}, {}),
}
SCHEDULE_COMMON: dict[str, type] = {
    "timezone": str,
    "enabled": bool,
    "next_run": str,
    "input_parameters": dict,
    "parallelism": int,
}


def _schedule(value: Any, where: str) -> DemoSchedule:
    """One schedule: its `type` decides which other keys it needs and may have."""
    if not isinstance(value, dict):
        raise DemoDataError(f"{where}: expected an object, not {value!r}")
    kind = _named(SCHEDULE_TYPE_NAMES, value.get("type"), f"{where}.type")
    required, optional = SCHEDULE_KEYS[value["type"]]
    spec = _object(
        value,
        where,
        {"name": str, "type": str, "created": str, **required},
        {**SCHEDULE_COMMON, **optional},
    )
    fields: dict[str, Any] = {"name": spec["name"], "scheduleType": kind, "created": spec["created"]}
    renames = {
        "timezone": "timezone",
        "enabled": "isEnabled",
        "next_run": "nextRunTime",
        "input_parameters": "inputParameters",
        "parallelism": "parallelism",
        "cron": "schedule",
        "every": "runEveryCount",
        "start": "startTime",
    }
    fields.update({renames[key]: item for key, item in spec.items() if key in renames})
    if "period" in spec:
        fields["runEveryPeriod"] = _named(PERIOD_NAMES, spec["period"], f"{where}.period")
    return DemoSchedule(fields)


# API fields the data may set under "fields"; description and startUrl have keys of their own, and the
# version history decides version, created and updated.
SETTABLE_FIELDS = sorted(set(AGENT_FIELDS) - {"description", "startUrl"})


def _agent(value: Any, where: str) -> DemoAgent:
    spec = _object(
        value,
        where,
        {
            "name": str,
            "kind": str,
            "description": str,
            "start_url": str,
            "versions": list,
            "first_sequence": int,
            "runs": list,
        },
        {"fields": dict, "schedules": list},
    )
    where = f"{where} ({spec['name']})"
    _named(tables.GENERATORS, spec["kind"], f"{where}.kind")
    fields = spec.get("fields", {})
    for key in fields:
        _named(dict.fromkeys(SETTABLE_FIELDS), key, f"{where}.fields")
    versions = [
        _object(v, f"{where}.versions[{i}]", {"created": str, "user": str, "comment": str})
        for i, v in enumerate(spec["versions"])
    ]
    if not versions:
        raise DemoDataError(f"{where}.versions: the first version creates the agent, none is given")
    return DemoAgent(
        spec["name"],
        kind=spec["kind"],
        description=spec["description"],
        start_url=spec["start_url"],
        versions=[(v["created"], v["user"], v["comment"]) for v in versions],
        first_sequence=spec["first_sequence"],
        runs=[_run(r, f"{where}.runs[{i}]") for i, r in enumerate(spec["runs"])],
        fields=fields,
        schedules=[_schedule(s, f"{where}.schedules[{i}]") for i, s in enumerate(spec.get("schedules", []))],
    )


def _space(value: Any, where: str) -> DemoSpace:
    spec = _object(
        value,
        where,
        {"id": int, "name": str, "description": str, "created": str, "initiated_by": str},
        {"run_retention_hours": int},
    )
    return DemoSpace(**{key: item for key, item in spec.items() if key != "notes"})


def _section(value: Any, where: str) -> Section:
    spec = _object(value, where, {"agents": list}, {"spaces": list})
    return Section(
        spaces=[_space(s, f"{where}.spaces[{i}]") for i, s in enumerate(spec.get("spaces", []))],
        agents=[_agent(a, f"{where}.agents[{i}]") for i, a in enumerate(spec["agents"])],
    )


def load(text: str | None = None) -> DemoData:
    """The data file (or `text` in its form), checked: anything it does not understand raises
    DemoDataError naming the place."""
    raw = json.loads(text if text is not None else (DATA / DEMO_FILE).read_text(encoding="utf-8"))
    spec = _object(raw, DEMO_FILE, {"demo": dict, "realities": dict})
    return DemoData(
        demo=_section(spec["demo"], f"{DEMO_FILE}: demo"),
        realities=_section(spec["realities"], f"{DEMO_FILE}: realities"),
    )


@cache
def demo_data() -> DemoData:
    """The shipped data file, read and checked once."""
    return load()


# --- seeding ---------------------------------------------------------------------------------


def seed_agent(ds: Dataset, spec: DemoAgent) -> Agent:
    """Add the agent, its written version history, its runs and their files, then its schedules."""
    agent = ds.add_agent(
        spec.name,
        kind=spec.kind,
        created=spec.versions[0][0],
        description=spec.description,
        startUrl=spec.start_url,
        **spec.fields,
    )
    set_versions(ds, agent, spec.versions)
    seed_runs(ds, agent, spec.first_sequence, spec.runs)
    for schedule in spec.schedules:
        ds.add_schedule(agent.id, **schedule.fields)
    return agent


def set_versions(ds: Dataset, agent: Agent, history: Sequence[tuple[str, str, str]]) -> None:
    """Replace the automatic first version with a written history of (created, user, comment)."""
    agent.versions.clear()
    for created, user, comment in history:
        ds.add_version(agent.id, comment, user, created=created)


def seed_runs(ds: Dataset, agent: Agent, first_sequence: int, runs: Sequence[DemoRun]) -> list[Run]:
    """Add the runs in order with their data files, then a log for each final one, then internal files."""
    added = []
    for index, spec in enumerate(runs):
        run = ds.add_run(
            agent.id,
            spec.status,
            spec.created,
            sequence=first_sequence + index,
            waiting_retry=spec.waiting_retry,
        )
        run.message = spec.message
        if spec.status == RUNNING:
            run.counts["dataCount"] = 37  # scraped so far, nothing exported yet
        files = [
            (name.replace("{run}", str(run.id)), content, output.file_type)
            for output in spec.outputs
            for name, content in output.files(spec.created)
        ]
        data = [file for file in files if file[2] == DATA_FILE]
        for name, content, file_type in data:
            ds.add_file(agent.id, run.id, name, content, file_type)
        if spec.status in FINISHED and not spec.waiting_retry:
            ds.add_file(agent.id, run.id, _log_name(agent, [f[0] for f in data]), _log(ds, run), LOG_FILE)
        for name, content, file_type in files:
            if file_type != DATA_FILE:
                ds.add_file(agent.id, run.id, name, content, file_type)
        added.append(run)
    return added


def _log_name(agent: Agent, data_names: Sequence[str]) -> str:
    stem = data_names[0].rsplit(".", 1)[0] if data_names else tables.slugify(agent.name)
    return f"{stem}.log"


def _log(ds: Dataset, run: Run) -> bytes:
    exported = [
        (f.name, tables.count_rows(f.name, f.data or b"")) for f in run.files if f.file_type == DATA_FILE
    ]
    return ds.run_log(run, exported)


def seed_section(ds: Dataset, section: Section) -> None:
    """Add a section's spaces, then its agents in order."""
    for space in section.spaces:
        ds.add_space(
            space.name,
            space_id=space.id,
            description=space.description,
            created=space.created,
            initiated_by=space.initiated_by,
            run_retention_hours=space.run_retention_hours,
        )
    for agent in section.agents:
        seed_agent(ds, agent)


def _month_starts(first: date, last: date) -> list[date]:
    months, day = [], first
    while day <= last:
        months.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return months


def _credits(ds: Dataset) -> None:
    """Fifteen months of credits: grants, purchases, weekly proxy usage, a promotion, a refund.

    Run usage debits are not stored: the billing module derives one per billed run.
    """
    events: list[tuple[datetime, str, Decimal, datetime | None, str]] = []

    def at(day: date, hour: int = 0, minute: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)

    start = date(2025, 1, 1)
    events.append((at(start), "Initial", Decimal(1000), None, "Welcome credits"))
    for month in _month_starts(date(2025, 2, 1), date(2026, 3, 1)):
        expires = date(month.year + 1, month.month, 1)
        events.append((at(month), "Credit", Decimal(100), at(expires), "Monthly plan credits"))
    for day in (date(2025, 3, 17), date(2025, 6, 16), date(2025, 9, 15), date(2025, 12, 15)):
        events.append((at(day, 10, 24), "Credit", Decimal(500), None, "Credit purchase (card ending 4242)"))
    promo_start, promo_end = date(2025, 5, 1), date(2025, 6, 30)
    events.append((at(promo_start, 9), "Credit", Decimal(50), at(promo_end), "Spring promotion"))
    events.append((at(promo_end, 23, 59), "Expiration", Decimal(-50), None, "Spring promotion expired"))
    monday = date(2025, 1, 6)
    while monday <= date(2026, 3, 30):
        rng = random.Random(f"proxy:{monday.isoformat()}")
        amount = Decimal(rng.randint(15_000, 60_000)) / 10_000
        message = f"Residential proxy traffic, week of {monday.isoformat()}"
        events.append((at(monday, 3, 15), "Debit", -amount, None, message))
        monday += timedelta(days=7)
    events.append(
        (at(date(2025, 6, 4), 11, 30), "Refund", Decimal("1.2500"), None, "Refund: proxy pool 5 outage")
    )
    events.append((at(date(2025, 11, 20), 16), "Adjustment", Decimal("-0.7500"), None, "Invoice correction"))
    for created, kind, amount, expires, message in sorted(events, key=lambda e: e[0]):
        ds.add_credit(kind, amount, created, expires_at=expires, message=message)


def seed(ds: Dataset) -> None:
    """Fill an empty dataset with the demo: spaces 7 and 12, agents 1001-1006 in this order, credits."""
    seed_section(ds, demo_data().demo)
    _credits(ds)


def seed_realities(ds: Dataset) -> None:
    """Add the reality agents (Shop crawler, the European export, the XML feed) in this order: 1007-1009
    after the demo, 1001-1003 without it."""
    seed_section(ds, demo_data().realities)
