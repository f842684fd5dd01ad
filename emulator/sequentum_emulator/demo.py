"""The seeded demo dataset: six agents whose files hold the traps a lossless loader must survive.

Everything is fixed (dates, rows, ids in creation order), so tests can name runs and files. Seeded
runs keep their status; only runs started through the API advance with time. The demo also has
its two spaces (7 and 12) and a credit history of more than 100 transactions.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sequentum_emulator import tables
from sequentum_emulator.dataset import (
    COMPLETED,
    DATA_FILE,
    FAILED,
    FAILURE,
    FINISHED,
    INTERNAL_EXPORT_FILE,
    INTERNAL_RUNTIME_FILE,
    LOG_FILE,
    QUEUING,
    RUNNING,
    STOPPED,
    SUCCESS,
    Agent,
    Dataset,
    Run,
    parse_time,
)

#: A delivered file's bytes, or how to make them from the run's creation time.
Content = bytes | Callable[[str], bytes]
QUOTED_CSV = partial(tables.to_csv, quote_strings=True)  # strings quoted, numbers bare


@dataclass(frozen=True)
class Output:
    """One file a seeded run delivers; "{run}" in the name becomes the run's id."""

    name: str
    content: Content
    file_type: int = DATA_FILE

    def data(self, created: str) -> bytes:
        return self.content(created) if callable(self.content) else self.content


@dataclass(frozen=True)
class DemoRun:
    created: str
    status: int
    outputs: Sequence[Output] = ()
    message: str | None = None
    waiting_retry: bool = False


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


def seed_agent(ds: Dataset, spec: DemoAgent) -> Agent:
    """Add the agent, its written version history, then its runs and their files."""
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
    return agent


def set_versions(ds: Dataset, agent: Agent, history: Sequence[tuple[str, str, str]]) -> None:
    """Replace the automatic first version with a written history of (created, user, comment)."""
    agent.versions.clear()
    for created, user, comment in history:
        ds.add_version(agent.id, comment, user, created=created)


def seed_runs(ds: Dataset, agent: Agent, first_sequence: int, runs: Sequence[DemoRun]) -> list[Run]:
    """Add the runs in order with their data files, then a log for each final one."""
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
            (o.name.replace("{run}", str(run.id)), o.data(spec.created), o.file_type) for o in spec.outputs
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


def generated(
    kind: str, rows: int, render: Callable[[tables.Table], bytes] = tables.to_csv, *, head: int | None = None
) -> Callable[[str], bytes]:
    """A table of `kind` seeded and dated by the run's creation time, rendered as delivered; `head` keeps
    the rows a stopped run exported."""

    def content(created: str) -> bytes:
        table = tables.generate(kind, created, rows, parse_time(created))
        return render(table if head is None else table.head(head))

    return content


def shipped(name: str, *, bom_crlf: bool = False) -> Callable[[str], bytes]:
    """A hand-written file from sandbox/data; bom_crlf saves it as Excel on Windows does."""

    def content(_created: str) -> bytes:
        data = tables.demo_file(name)
        return tables.with_bom_crlf(data.decode()) if bom_crlf else data

    return content


def _internal_db(seed: str) -> bytes:
    """Opaque bytes standing in for an export database: a loader must skip, not parse, these."""
    return b"SQLite format 3\x00" + bytes((i * 37 + len(seed)) % 256 for i in range(2048))


EXPORT_DB = Output("export.db", _internal_db, INTERNAL_EXPORT_FILE)
RUNTIME_BIN = Output("runtime.bin", _internal_db, INTERNAL_RUNTIME_FILE)

DEMO_AGENTS = (
    DemoAgent(
        "steam",
        kind="steam",
        description="Most played games on Steam, snapshot at the top of the hour.",
        start_url="https://store.steampowered.com/charts/mostplayed",
        fields={"proxyPoolId": 5},
        versions=[
            ("2025-01-20T09:14:03.118204Z", "Alex Smith", "Initial version"),
            ("2025-06-03T10:02:41.550912Z", "Jeremy Jones", "Rotate proxies on 403"),
            ("2025-09-10T15:27:08.004417Z", "Alex Smith", "Capture peak players and price"),
        ],
        first_sequence=37,
        runs=[
            DemoRun("2025-03-14T08:00:12.345678Z", COMPLETED, [Output("steam.csv", generated("steam", 50))]),
            DemoRun(
                "2025-06-02T08:00:09.120331Z",
                FAILED,
                message="Proxy pool 5 exhausted: 403 Forbidden from the start URL.",
            ),
            DemoRun(
                "2025-09-18T08:00:11.902144Z",
                SUCCESS,
                [Output("steam.csv", generated("steam", 50)), EXPORT_DB],
            ),
            DemoRun("2025-11-03T08:00:12.345678Z", COMPLETED, [Output("steam.csv", generated("steam", 48))]),
            DemoRun("2026-02-16T08:00:10.551023Z", RUNNING),
        ],
    ),
    DemoAgent(
        "Société Générale \u2013 prix",
        kind="prices",
        description="Cours de clôture, export pour la trésorerie.",
        start_url="https://www.societegenerale.com/fr/investisseurs/action-societe-generale",
        fields={"spaceId": 12, "inputParameters": {"market": "XPAR"}},
        versions=[
            ("2025-04-02T16:20:44.901230Z", "Zoë Dubois", "Version initiale"),
            ("2025-08-01T09:12:30.660013Z", "Zoë Dubois", "Attendre le tableau des cours"),
        ],
        first_sequence=1,
        runs=[
            DemoRun("2025-04-30T17:45:02.004512Z", COMPLETED, [Output("prix.csv", generated("prices", 18))]),
            DemoRun(
                "2025-07-31T17:45:01.771230Z", FAILURE, message="Timeout after 300 s waiting for table.cours."
            ),
            DemoRun(
                "2025-10-31T17:45:03.250019Z",
                COMPLETED,
                [Output("prix_2025-10-31.csv", shipped("societe_generale_prix.csv", bom_crlf=True))],
            ),
            DemoRun(
                "2026-01-30T17:45:02.618447Z",
                SUCCESS,
                [Output("prix.csv", generated("prices", 21)), RUNTIME_BIN],
            ),
        ],
    ),
    DemoAgent(
        "ACDelco parts",
        kind="parts",
        description="Brake and ignition parts with stock levels.",
        start_url="https://www.acdelco.com/parts",
        fields={"proxyPoolId": 3},
        versions=[
            ("2025-01-28T11:05:19.772301Z", "Jeremy Jones", "Initial version"),
            ("2025-05-20T08:44:12.300512Z", "Priya Natarajan", "Separate export for reviews"),
        ],
        first_sequence=5,
        runs=[
            DemoRun(
                "2025-02-10T14:21:37.228190Z",
                COMPLETED,
                [Output("acdelco_parts.csv", generated("parts", 60, QUOTED_CSV))],
            ),
            DemoRun(
                "2025-05-21T14:20:58.660402Z",
                COMPLETED,
                [
                    Output("products.csv", generated("parts", 40, QUOTED_CSV)),
                    Output("products_reviews.csv", generated("reviews", 30)),
                ],
            ),
            DemoRun(
                "2025-08-08T14:22:10.031877Z",
                STOPPED,
                [Output("acdelco_parts.csv", generated("parts", 60, QUOTED_CSV, head=12))],
                "Stopped by user.",
            ),
            DemoRun(
                "2025-12-01T14:21:44.517396Z",
                COMPLETED,
                [Output("acdelco_parts.csv", shipped("acdelco_parts.csv")), EXPORT_DB],
            ),
            DemoRun("2026-03-02T14:21:40.090713Z", QUEUING),
        ],
    ),
    DemoAgent(
        "real-estate listings",
        kind="listings",
        description="New listings in New England (and a few in Paris).",
        start_url="https://www.example-realty.com/search?state=MA",
        fields={"spaceId": 12},
        versions=[("2025-02-20T19:40:05.118822Z", "Priya Natarajan", "Initial version")],
        first_sequence=1,
        runs=[
            DemoRun(
                "2025-03-01T06:30:00.412003Z", COMPLETED, [Output("listings.csv", generated("listings", 80))]
            ),
            DemoRun("2025-06-15T06:30:01.007761Z", FAILED, message="Login wall: the session cookie expired."),
            DemoRun(
                "2025-09-01T06:30:00.880154Z",
                COMPLETED,
                [Output("listings.csv", shipped("real_estate_listings.csv"))],
            ),
            DemoRun(
                "2025-12-15T06:30:02.145678Z",
                SUCCESS,
                [Output("listings.csv", generated("listings", 120)), RUNTIME_BIN],
            ),
        ],
    ),
    DemoAgent(
        "Price Monitor",
        kind="monitor",
        description="Competitor prices, delivered as TSV for the pricing team.",
        start_url="https://www.example-shop.com/electronics",
        fields={"spaceId": 7},
        versions=[
            ("2025-04-25T13:00:00.250117Z", "Alex Smith", "Initial version"),
            ("2025-07-14T09:30:22.817465Z", "Alex Smith", "Add EUR retailers"),
            ("2025-10-20T17:05:53.120904Z", "Jeremy Jones", "Export TSV instead of CSV"),
        ],
        first_sequence=12,
        runs=[
            DemoRun(
                "2025-05-05T12:00:04.556677Z",
                COMPLETED,
                [Output("price_monitor.tsv", generated("monitor", 30, tables.to_tsv))],
            ),
            DemoRun(
                "2025-08-05T12:00:03.118822Z",
                SUCCESS,
                [Output("price_monitor.tsv", generated("monitor", 35, tables.to_tsv))],
            ),
            DemoRun(
                "2025-11-05T12:00:05.903412Z",
                FAILURE,
                message="Selector div.price matched nothing on 14 pages.",
            ),
            DemoRun(
                "2026-02-05T12:00:04.227019Z",
                COMPLETED,
                [Output("price_monitor.tsv", generated("monitor", 40, tables.to_tsv))],
            ),
        ],
    ),
    DemoAgent(
        "price-monitor",
        kind="monitor",
        description="Same sources as Price Monitor, JSON for the data team.",
        start_url="https://www.example-shop.com/electronics",
        fields={"spaceId": 7},
        versions=[
            ("2025-04-26T08:15:31.640288Z", "Priya Natarajan", "Initial version"),
            ("2025-08-01T11:11:11.111111Z", "Priya Natarajan", "Also export JSON Lines"),
        ],
        first_sequence=3,
        runs=[
            DemoRun(
                "2025-05-06T12:00:02.781455Z",
                COMPLETED,
                [Output("price_monitor.json", generated("monitor", 25, tables.to_json))],
            ),
            DemoRun(
                "2025-08-06T12:00:01.993120Z",
                COMPLETED,
                [Output("price_monitor.jsonl", shipped("price_monitor.jsonl"))],
            ),
            DemoRun(
                "2025-10-06T12:00:02.350817Z",
                STOPPED,
                [Output("price_monitor.json", generated("monitor", 30, tables.to_json, head=8))],
                "Stopped by user.",
            ),
            DemoRun(
                "2026-01-06T12:00:03.004471Z",
                SUCCESS,
                [Output("price_monitor.json", generated("monitor", 30, tables.to_json)), EXPORT_DB],
            ),
        ],
    ),
)


def _spaces(ds: Dataset) -> None:
    ds.add_space(
        "Pricing",
        space_id=7,
        description="Competitor prices for the pricing team.",
        created="2025-04-25T12:41:09.500122Z",
        initiated_by="Alex Smith",
    )
    ds.add_space(
        "Research",
        space_id=12,
        description="Market and real-estate data for analysts.",
        created="2025-02-20T19:02:55.804316Z",
        initiated_by="Priya Natarajan",
        run_retention_hours=8760,
    )


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
    _spaces(ds)
    for agent in DEMO_AGENTS:
        seed_agent(ds, agent)
    _credits(ds)
