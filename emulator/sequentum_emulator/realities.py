"""Opt-in agents that deliver what real Sequentum agents deliver (issue 8), after the demo's 1001-1006.

Not part of the default demo, whose counts many tests assert: enable with ``Sandbox(realities=True)``,
``sequentum-emulator --realities`` or ``seed_realities(dataset)``. With the demo they are agents
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

from functools import partial

from sequentum_emulator import tables
from sequentum_emulator.dataset import COMPLETED, FAILURE, Dataset, parse_time
from sequentum_emulator.demo import DemoAgent, DemoRun, Output, generated, seed_agent


def shop_files(
    created: str, products_name: str = "Products.csv", reviews_name: str = "Reviews.csv"
) -> list[tuple[str, bytes]]:
    """The two export tables a Shop crawler run delivers, as of its creation time (name, content)."""
    products = tables.generate("shop", created, 24, parse_time(created))
    reviews = tables.shop_reviews(products, created, 36)
    return [(products_name, tables.to_csv(products)), (reviews_name, tables.to_csv(reviews))]


def _shop_run(created: str, *names: str) -> DemoRun:
    return DemoRun(
        created, COMPLETED, [Output(name, content) for name, content in shop_files(created, *names)]
    )


def _tarifs_run(created: str, encoding: str) -> DemoRun:
    """A European Excel export: `;` delimiters and CRLF line ends, in `encoding`."""
    render = partial(tables.to_csv, delimiter=";", encoding=encoding, newline="\r\n")
    return DemoRun(created, COMPLETED, [Output("tarifs.csv", generated("bakery", 9, render))])


FEED_XML = partial(
    tables.to_xml, root="jobs", record="job", attributes=("id", "remote"), item_names={"tags": "tag"}
)

REALITY_AGENTS = (
    DemoAgent(
        "Shop crawler",
        kind="shop",
        description="Products and their reviews, one export table each.",
        start_url="https://shop.example.com/catalogue",
        versions=[
            ("2025-11-20T10:12:45.330118Z", "Priya Natarajan", "Initial version"),
            ("2025-11-28T15:40:02.009214Z", "Priya Natarajan", "Separate export table for reviews"),
        ],
        first_sequence=1,
        runs=[
            _shop_run("2025-12-01T08:30:00.218734Z"),
            _shop_run("2025-12-15T08:30:01.530912Z"),
            _shop_run("2026-01-05T08:30:00.412907Z", "Products_20260105_083000.csv", "Reviews_{run}.csv"),
            _shop_run(
                "2026-02-02T08:30:00.905311Z", "Products_20260202_083000.csv", "Reviews_20260202_083000.csv"
            ),
            DemoRun(
                "2026-03-02T08:30:02.117455Z",
                FAILURE,
                message="Timeout loading the reviews page 7; waiting 15 minutes before retrying.",
                waiting_retry=True,
            ),
        ],
    ),
    DemoAgent(
        "Boulangerie Dupain \u2013 tarifs",
        kind="bakery",
        description="Tarifs du jour, export Excel (point-virgule, Windows-1252).",
        start_url="https://www.boulangerie-dupain.fr/tarifs",
        fields={"spaceId": 12},
        versions=[("2026-01-08T09:30:11.700245Z", "Zoë Dubois", "Version initiale")],
        first_sequence=1,
        runs=[
            _tarifs_run("2026-01-12T06:00:03.201877Z", "cp1252"),
            _tarifs_run("2026-02-09T06:00:02.640019Z", "cp1252"),
            _tarifs_run("2026-03-09T06:00:04.015566Z", "utf-16"),  # an export setting changed
        ],
    ),
    DemoAgent(
        "Job board feed",
        kind="jobs",
        description="Open positions, exported as an XML feed.",
        start_url="https://jobs.example.org/feed",
        versions=[("2026-01-30T14:02:37.118540Z", "Alex Smith", "Initial version")],
        first_sequence=1,
        runs=[
            DemoRun(created, COMPLETED, [Output("feed.xml", generated("jobs", 12, FEED_XML))])
            for created in ("2026-02-03T22:10:00.550701Z", "2026-03-03T22:10:01.084213Z")
        ],
    ),
)


def seed_realities(ds: Dataset) -> None:
    """Add the reality agents (Shop crawler, the European export, the XML feed) in this order."""
    for agent in REALITY_AGENTS:
        seed_agent(ds, agent)
