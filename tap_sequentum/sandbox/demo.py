"""The seeded demo dataset: six agents whose files hold the traps a lossless loader must survive.

Everything is fixed (dates, rows, ids in creation order), so tests can name runs and files. Seeded
runs keep their status; only runs started through the API advance with time. The demo also has
its two spaces (7 and 12) and a credit history of more than 100 transactions.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tap_sequentum.sandbox import tables
from tap_sequentum.sandbox.dataset import (
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


@dataclass(frozen=True)
class Output:
    """One file a seeded run delivers; "{run}" in the name becomes the run's id."""

    name: str
    content: bytes
    file_type: int = DATA_FILE


@dataclass(frozen=True)
class DemoRun:
    created: str
    status: int
    outputs: Sequence[Output] = ()
    message: str | None = None
    waiting_retry: bool = False


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
        names = [output.name.replace("{run}", str(run.id)) for output in spec.outputs]
        data = [(n, o) for n, o in zip(names, spec.outputs, strict=True) if o.file_type == DATA_FILE]
        for name, output in data:
            ds.add_file(agent.id, run.id, name, output.content, output.file_type)
        if spec.status in FINISHED and not spec.waiting_retry:
            ds.add_file(agent.id, run.id, _log_name(agent, [n for n, _ in data]), _log(ds, run), LOG_FILE)
        for name, output in zip(names, spec.outputs, strict=True):
            if output.file_type != DATA_FILE:
                ds.add_file(agent.id, run.id, name, output.content, output.file_type)
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


def _table(kind: str, seed: str, n: int, created: str) -> tables.Table:
    return tables.generate(kind, seed, n, parse_time(created))


def _csv(kind: str, seed: str, n: int, created: str, *, quote_strings: bool = False) -> bytes:
    return tables.to_csv(_table(kind, seed, n, created), quote_strings=quote_strings)


def _internal_db(seed: str) -> bytes:
    """Opaque bytes standing in for an export database: a loader must skip, not parse, these."""
    return b"SQLite format 3\x00" + bytes((i * 37 + len(seed)) % 256 for i in range(2048))


def _steam(ds: Dataset) -> None:
    agent = ds.add_agent(
        "steam",
        kind="steam",
        created="2025-01-20T09:14:03.118204Z",
        description="Most played games on Steam, snapshot at the top of the hour.",
        startUrl="https://store.steampowered.com/charts/mostplayed",
        proxyPoolId=5,
    )
    set_versions(
        ds,
        agent,
        [
            ("2025-01-20T09:14:03.118204Z", "Alex Smith", "Initial version"),
            ("2025-06-03T10:02:41.550912Z", "Jeremy Jones", "Rotate proxies on 403"),
            ("2025-09-10T15:27:08.004417Z", "Alex Smith", "Capture peak players and price"),
        ],
    )
    c = (
        "2025-03-14T08:00:12.345678Z",
        "2025-06-02T08:00:09.120331Z",
        "2025-09-18T08:00:11.902144Z",
        "2025-11-03T08:00:12.345678Z",
        "2026-02-16T08:00:10.551023Z",
    )
    seed_runs(
        ds,
        agent,
        37,
        [
            DemoRun(c[0], COMPLETED, [Output("steam.csv", _csv("steam", c[0], 50, c[0]))]),
            DemoRun(c[1], FAILED, message="Proxy pool 5 exhausted: 403 Forbidden from the start URL."),
            DemoRun(
                c[2],
                SUCCESS,
                [
                    Output("steam.csv", _csv("steam", c[2], 50, c[2])),
                    Output("export.db", _internal_db(c[2]), INTERNAL_EXPORT_FILE),
                ],
            ),
            DemoRun(c[3], COMPLETED, [Output("steam.csv", _csv("steam", c[3], 48, c[3]))]),
            DemoRun(c[4], RUNNING),
        ],
    )


def _societe_generale(ds: Dataset) -> None:
    agent = ds.add_agent(
        "Société Générale \u2013 prix",
        kind="prices",
        created="2025-04-02T16:20:44.901230Z",
        description="Cours de clôture, export pour la trésorerie.",
        startUrl="https://www.societegenerale.com/fr/investisseurs/action-societe-generale",
        spaceId=12,
        inputParameters={"market": "XPAR"},
    )
    set_versions(
        ds,
        agent,
        [
            ("2025-04-02T16:20:44.901230Z", "Zoë Dubois", "Version initiale"),
            ("2025-08-01T09:12:30.660013Z", "Zoë Dubois", "Attendre le tableau des cours"),
        ],
    )
    c = (
        "2025-04-30T17:45:02.004512Z",
        "2025-07-31T17:45:01.771230Z",
        "2025-10-31T17:45:03.250019Z",
        "2026-01-30T17:45:02.618447Z",
    )
    bom_crlf = tables.with_bom_crlf(tables.demo_file("societe_generale_prix.csv").decode())
    seed_runs(
        ds,
        agent,
        1,
        [
            DemoRun(c[0], COMPLETED, [Output("prix.csv", _csv("prices", c[0], 18, c[0]))]),
            DemoRun(c[1], FAILURE, message="Timeout after 300 s waiting for table.cours."),
            DemoRun(c[2], COMPLETED, [Output("prix_2025-10-31.csv", bom_crlf)]),
            DemoRun(
                c[3],
                SUCCESS,
                [
                    Output("prix.csv", _csv("prices", c[3], 21, c[3])),
                    Output("runtime.bin", _internal_db(c[3]), INTERNAL_RUNTIME_FILE),
                ],
            ),
        ],
    )


def _acdelco(ds: Dataset) -> None:
    agent = ds.add_agent(
        "ACDelco parts",
        kind="parts",
        created="2025-01-28T11:05:19.772301Z",
        description="Brake and ignition parts with stock levels.",
        startUrl="https://www.acdelco.com/parts",
        proxyPoolId=3,
    )
    set_versions(
        ds,
        agent,
        [
            ("2025-01-28T11:05:19.772301Z", "Jeremy Jones", "Initial version"),
            ("2025-05-20T08:44:12.300512Z", "Priya Natarajan", "Separate export for reviews"),
        ],
    )
    c = (
        "2025-02-10T14:21:37.228190Z",
        "2025-05-21T14:20:58.660402Z",
        "2025-08-08T14:22:10.031877Z",
        "2025-12-01T14:21:44.517396Z",
        "2026-03-02T14:21:40.090713Z",
    )
    reviews = tables.to_csv(_table("reviews", c[1], 30, c[1]))
    partial = tables.to_csv(_table("parts", c[2], 60, c[2]).head(12), quote_strings=True)
    seed_runs(
        ds,
        agent,
        5,
        [
            DemoRun(
                c[0],
                COMPLETED,
                [Output("acdelco_parts.csv", _csv("parts", c[0], 60, c[0], quote_strings=True))],
            ),
            DemoRun(
                c[1],
                COMPLETED,
                [
                    Output("products.csv", _csv("parts", c[1], 40, c[1], quote_strings=True)),
                    Output("products_reviews.csv", reviews),
                ],
            ),
            DemoRun(c[2], STOPPED, [Output("acdelco_parts.csv", partial)], "Stopped by user."),
            DemoRun(
                c[3],
                COMPLETED,
                [
                    Output("acdelco_parts.csv", tables.demo_file("acdelco_parts.csv")),
                    Output("export.db", _internal_db(c[3]), INTERNAL_EXPORT_FILE),
                ],
            ),
            DemoRun(c[4], QUEUING),
        ],
    )


def _listings(ds: Dataset) -> None:
    agent = ds.add_agent(
        "real-estate listings",
        kind="listings",
        created="2025-02-20T19:40:05.118822Z",
        description="New listings in New England (and a few in Paris).",
        startUrl="https://www.example-realty.com/search?state=MA",
        spaceId=12,
    )
    set_versions(ds, agent, [("2025-02-20T19:40:05.118822Z", "Priya Natarajan", "Initial version")])
    c = (
        "2025-03-01T06:30:00.412003Z",
        "2025-06-15T06:30:01.007761Z",
        "2025-09-01T06:30:00.880154Z",
        "2025-12-15T06:30:02.145678Z",
    )
    seed_runs(
        ds,
        agent,
        1,
        [
            DemoRun(c[0], COMPLETED, [Output("listings.csv", _csv("listings", c[0], 80, c[0]))]),
            DemoRun(c[1], FAILED, message="Login wall: the session cookie expired."),
            DemoRun(c[2], COMPLETED, [Output("listings.csv", tables.demo_file("real_estate_listings.csv"))]),
            DemoRun(
                c[3],
                SUCCESS,
                [
                    Output("listings.csv", _csv("listings", c[3], 120, c[3])),
                    Output("runtime.bin", _internal_db(c[3]), INTERNAL_RUNTIME_FILE),
                ],
            ),
        ],
    )


def _price_monitor_tsv(ds: Dataset) -> None:
    agent = ds.add_agent(
        "Price Monitor",
        kind="monitor",
        created="2025-04-25T13:00:00.250117Z",
        description="Competitor prices, delivered as TSV for the pricing team.",
        startUrl="https://www.example-shop.com/electronics",
        spaceId=7,
    )
    set_versions(
        ds,
        agent,
        [
            ("2025-04-25T13:00:00.250117Z", "Alex Smith", "Initial version"),
            ("2025-07-14T09:30:22.817465Z", "Alex Smith", "Add EUR retailers"),
            ("2025-10-20T17:05:53.120904Z", "Jeremy Jones", "Export TSV instead of CSV"),
        ],
    )
    c = (
        "2025-05-05T12:00:04.556677Z",
        "2025-08-05T12:00:03.118822Z",
        "2025-11-05T12:00:05.903412Z",
        "2026-02-05T12:00:04.227019Z",
    )

    def tsv(i: int, n: int) -> Output:
        return Output("price_monitor.tsv", tables.to_tsv(_table("monitor", c[i], n, c[i])))

    seed_runs(
        ds,
        agent,
        12,
        [
            DemoRun(c[0], COMPLETED, [tsv(0, 30)]),
            DemoRun(c[1], SUCCESS, [tsv(1, 35)]),
            DemoRun(c[2], FAILURE, message="Selector div.price matched nothing on 14 pages."),
            DemoRun(c[3], COMPLETED, [tsv(3, 40)]),
        ],
    )


def _price_monitor_json(ds: Dataset) -> None:
    agent = ds.add_agent(
        "price-monitor",
        kind="monitor",
        created="2025-04-26T08:15:31.640288Z",
        description="Same sources as Price Monitor, JSON for the data team.",
        startUrl="https://www.example-shop.com/electronics",
        spaceId=7,
    )
    set_versions(
        ds,
        agent,
        [
            ("2025-04-26T08:15:31.640288Z", "Priya Natarajan", "Initial version"),
            ("2025-08-01T11:11:11.111111Z", "Priya Natarajan", "Also export JSON Lines"),
        ],
    )
    c = (
        "2025-05-06T12:00:02.781455Z",
        "2025-08-06T12:00:01.993120Z",
        "2025-10-06T12:00:02.350817Z",
        "2026-01-06T12:00:03.004471Z",
    )
    partial = tables.to_json(_table("monitor", c[2], 30, c[2]).head(8))
    seed_runs(
        ds,
        agent,
        3,
        [
            DemoRun(
                c[0],
                COMPLETED,
                [Output("price_monitor.json", tables.to_json(_table("monitor", c[0], 25, c[0])))],
            ),
            DemoRun(
                c[1], COMPLETED, [Output("price_monitor.jsonl", tables.demo_file("price_monitor.jsonl"))]
            ),
            DemoRun(c[2], STOPPED, [Output("price_monitor.json", partial)], "Stopped by user."),
            DemoRun(
                c[3],
                SUCCESS,
                [
                    Output("price_monitor.json", tables.to_json(_table("monitor", c[3], 30, c[3]))),
                    Output("export.db", _internal_db(c[3]), INTERNAL_EXPORT_FILE),
                ],
            ),
        ],
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
    for build in (
        _steam,
        _societe_generale,
        _acdelco,
        _listings,
        _price_monitor_tsv,
        _price_monitor_json,
    ):
        build(ds)
    _credits(ds)
