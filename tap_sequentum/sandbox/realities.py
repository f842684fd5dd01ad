"""Opt-in agents that deliver what real Sequentum agents deliver (issue 8), after the demo's 1001-1006.

Not part of the default demo, whose counts many tests assert: enable with ``Sandbox(realities=True)``,
``tap-sequentum-sandbox --realities`` or ``seed_realities(dataset)``. With the demo they are agents
1007-1009 (without it, 1001-1003), everything fixed and created in this order:

- **Shop crawler** (1007): Sequentum's "Separate Export Table": every completed run delivers
  ``Products.csv`` (sku with leading zeros, title, category, price as text) and ``Reviews.csv`` (sku,
  stars, text with quotes, commas and newlines). Runs 3 and 4 decorate the names with the run's
  timestamp or id (``Products_20260105_083000.csv``, ``Reviews_<runId>.csv``). Its newest run ended
  in Failure (6) and waits to retry: tableType "run", no files yet; ``Sandbox.restart_run`` and then
  ``set_run_status(agent, run, 9, files=...)`` finish it (``shop_files`` makes its files).
- **Boulangerie Dupain - tarifs** (1008): a European export, ``tarifs.csv`` with ``;`` delimiters in
  Windows-1252 (``Café crème``, ``Thé €``, ``Œuf mayonnaise``; header ``Prix (€)``), decimal commas and
  French dates as text, a comma inside an unquoted cell. Its newest run's file is the same table in
  UTF-16 with a BOM (an export setting changed between runs).
- **Job board feed** (1009): an XML export, ``feed.xml`` in UTF-8 with a declaration: ``<job>``
  records under ``<jobs>`` with ``id`` and ``remote`` attributes, leaf elements (escaped ``&`` and
  ``<``), an empty ``<note/>`` when there is none, and a nested ``<tags><tag>…</tag></tags>``.
"""

from __future__ import annotations

from tap_sequentum.sandbox import tables
from tap_sequentum.sandbox.dataset import COMPLETED, FAILURE, Dataset, parse_time
from tap_sequentum.sandbox.demo import DemoRun, Output, seed_runs, set_versions

SHOP_RUNS = (
    "2025-12-01T08:30:00.218734Z",
    "2025-12-15T08:30:01.530912Z",
    "2026-01-05T08:30:00.412907Z",
    "2026-02-02T08:30:00.905311Z",
    "2026-03-02T08:30:02.117455Z",
)
BAKERY_RUNS = ("2026-01-12T06:00:03.201877Z", "2026-02-09T06:00:02.640019Z", "2026-03-09T06:00:04.015566Z")
FEED_RUNS = ("2026-02-03T22:10:00.550701Z", "2026-03-03T22:10:01.084213Z")


def shop_files(
    created: str, products_name: str = "Products.csv", reviews_name: str = "Reviews.csv"
) -> list[tuple[str, bytes]]:
    """The two export tables a Shop crawler run delivers, as of its creation time (name, content)."""
    products = tables.generate("shop", created, 24, parse_time(created))
    reviews = tables.shop_reviews(products, created, 36)
    return [(products_name, tables.to_csv(products)), (reviews_name, tables.to_csv(reviews))]


def _shop_outputs(created: str, *names: str) -> list[Output]:
    return [Output(name, content) for name, content in shop_files(created, *names)]


def _shop(ds: Dataset) -> None:
    agent = ds.add_agent(
        "Shop crawler",
        kind="shop",
        created="2025-11-20T10:12:45.330118Z",
        description="Products and their reviews, one export table each.",
        startUrl="https://shop.example.com/catalogue",
    )
    set_versions(
        ds,
        agent,
        [
            ("2025-11-20T10:12:45.330118Z", "Priya Natarajan", "Initial version"),
            ("2025-11-28T15:40:02.009214Z", "Priya Natarajan", "Separate export table for reviews"),
        ],
    )
    c = SHOP_RUNS
    seed_runs(
        ds,
        agent,
        1,
        [
            DemoRun(c[0], COMPLETED, _shop_outputs(c[0])),
            DemoRun(c[1], COMPLETED, _shop_outputs(c[1])),
            DemoRun(
                c[2], COMPLETED, _shop_outputs(c[2], "Products_20260105_083000.csv", "Reviews_{run}.csv")
            ),
            DemoRun(
                c[3],
                COMPLETED,
                _shop_outputs(c[3], "Products_20260202_083000.csv", "Reviews_20260202_083000.csv"),
            ),
            DemoRun(
                c[4],
                FAILURE,
                message="Timeout loading the reviews page 7; waiting 15 minutes before retrying.",
                waiting_retry=True,
            ),
        ],
    )


def _bakery(ds: Dataset) -> None:
    agent = ds.add_agent(
        "Boulangerie Dupain \u2013 tarifs",
        kind="bakery",
        created="2026-01-08T09:30:11.700245Z",
        description="Tarifs du jour, export Excel (point-virgule, Windows-1252).",
        startUrl="https://www.boulangerie-dupain.fr/tarifs",
        spaceId=12,
    )
    set_versions(ds, agent, [("2026-01-08T09:30:11.700245Z", "Zoë Dubois", "Version initiale")])
    c = BAKERY_RUNS

    def tarifs(created: str, encoding: str) -> Output:
        table = tables.generate("bakery", created, 9, parse_time(created))
        return Output("tarifs.csv", tables.to_csv(table, delimiter=";", encoding=encoding, newline="\r\n"))

    seed_runs(
        ds,
        agent,
        1,
        [
            DemoRun(c[0], COMPLETED, [tarifs(c[0], "cp1252")]),
            DemoRun(c[1], COMPLETED, [tarifs(c[1], "cp1252")]),
            DemoRun(c[2], COMPLETED, [tarifs(c[2], "utf-16")]),
        ],
    )


def _feed(ds: Dataset) -> None:
    agent = ds.add_agent(
        "Job board feed",
        kind="jobs",
        created="2026-01-30T14:02:37.118540Z",
        description="Open positions, exported as an XML feed.",
        startUrl="https://jobs.example.org/feed",
    )
    set_versions(ds, agent, [("2026-01-30T14:02:37.118540Z", "Alex Smith", "Initial version")])

    def feed(created: str) -> Output:
        table = tables.generate("jobs", created, 12, parse_time(created))
        xml = tables.to_xml(
            table, root="jobs", record="job", attributes=("id", "remote"), item_names={"tags": "tag"}
        )
        return Output("feed.xml", xml)

    seed_runs(ds, agent, 1, [DemoRun(created, COMPLETED, [feed(created)]) for created in FEED_RUNS])


def seed_realities(ds: Dataset) -> None:
    """Add the reality agents (Shop crawler, the European export, the XML feed) in this order."""
    for build in (_shop, _bakery, _feed):
        build(ds)
