"""Deterministic demo tables for each kind of agent, and their renderings as delivered files.

Everything here is a pure function of a seed, so a run's data is reproducible from its id and the
tap's tests can assert on exact rows.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape, quoteattr

Cell = Any


@dataclass(frozen=True)
class Table:
    """Rows in column order: lists rather than dicts, so blank or duplicated headers stay possible."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]

    def records(self) -> list[dict[str, Cell]]:
        """Rows as JSON objects, the shape a synchronous start returns."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def head(self, n: int) -> Table:
        """The first n rows: what a stopped run managed to export."""
        return Table(self.columns, self.rows[:n])

    def split(self, parts: int) -> list[Table]:
        """Round-robin the rows over parallel sessions that export separately."""
        return [Table(self.columns, self.rows[i::parts]) for i in range(parts)]

    def with_inputs(self, inputs: Mapping[str, Cell]) -> Table:
        """Append one column per input parameter, as an agent that captures its inputs would."""
        names = [name if name not in self.columns else f"input_{name}" for name in inputs]
        values = tuple(inputs.values())
        return Table(self.columns + tuple(names), tuple(row + values for row in self.rows))


Generator = Callable[[random.Random, int, datetime], Table]


def _table(columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> Table:
    return Table(tuple(columns), tuple(tuple(row) for row in rows))


# (app id, name, price): names with commas, quotes, trademark signs and CJK on purpose.
STEAM_GAMES: tuple[tuple[int, str, str], ...] = (
    (730, "Counter-Strike 2", "0.00"),
    (570, "Dota 2", "0.00"),
    (578080, "PUBG: BATTLEGROUNDS", "0.00"),
    (1086940, "Baldur's Gate 3", "59.99"),
    (2358720, "Black Myth: Wukong", "59.99"),
    (359550, "Tom Clancy's Rainbow Six® Siege X", "0.00"),
    (2183900, "Warhammer 40,000: Space Marine 2", "59.99"),
    (292030, "The Witcher® 3: Wild Hunt", "39.99"),
    (3097560, "Liar's Bar", "6.99"),
    (1203220, "NARAKA: BLADEPOINT", "0.00"),
    (2767030, "Marvel Rivals", "0.00"),
    (2694490, "Path of Exile 2", "29.99"),
    (2923300, "Banana", "0.00"),
    (381210, "Dead by Daylight", "19.99"),
    (252490, "Rust", "39.99"),
    (1172470, "Apex Legends™", "0.00"),
    (271590, "Grand Theft Auto V Legacy", "29.99"),
    (1295660, "Sid Meier's Civilization® VII", "69.99"),
    (413150, "Stardew Valley", "14.99"),
    (1030300, "Hollow Knight: Silksong", "19.99"),
    (3527290, "PEAK", "7.99"),
    (3513350, "Wuthering Waves 鸣潮", "0.00"),
    (1245620, "ELDEN RING", "59.99"),
    (2246340, "Monster Hunter Wilds", "69.99"),
    (3164500, "Schedule I", "19.99"),
    (3241660, "R.E.P.O.", "9.99"),
    (427520, "Factorio", "35.00"),
    (1623730, "Palworld", "29.99"),
    (553850, "HELLDIVERS™ 2", "39.99"),
    (1091500, "Cyberpunk 2077", "59.99"),
    (2399830, "ARK: Survival Ascended", "44.99"),
    (3406990, '"Déjà Vu" - The Heist, Remastered', "12.50"),
    (1966720, "Lethal Company", "9.99"),
    (105600, "Terraria", "9.99"),
    (1817070, "Marvel's Spider-Man Remastered", "59.99"),
    (1144200, "Ready or Not", "49.99"),
    (2507950, "Delta Force", "0.00"),
    (1665460, "eFootball™", "0.00"),
    (440, "Team Fortress 2", "0.00"),
    (236390, "War Thunder", "0.00"),
    (1085660, "Destiny 2", "0.00"),
    (438100, "VRChat", "0.00"),
    (2139460, "Once Human", "0.00"),
    (2221490, "Tom Clancy's The Division® 2", "29.99"),
    (1222670, "The Sims™ 4", "0.00"),
    (2073850, "THE FINALS", "0.00"),
    (1599340, "Lost Ark", "0.00"),
    (2139020, "Pokémon-like: Palmon Survival", "14.99"),
    (1938090, "Call of Duty®", "69.99"),
    (3489700, "Stellar Blade™", "59.99"),
)


def steam_charts(rng: random.Random, n: int, at: datetime) -> Table:
    """Most-played chart: ranks, players, prices as text and a mixed-case boolean."""
    games = rng.sample(STEAM_GAMES, min(n, len(STEAM_GAMES)))
    players = rng.randint(900_000, 1_600_000)
    snapshot = at.replace(minute=0, second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = []
    for rank, (app_id, name, price) in enumerate(games, start=1):
        peak = int(players * rng.uniform(1.05, 1.6))
        free = "TRUE" if price == "0.00" else "false"
        rows.append((rank, app_id, name, players, peak, price, free, snapshot))
        players = max(1, int(players * rng.uniform(0.55, 0.97)))
    columns = (
        "rank",
        "app_id",
        "name",
        "current_players",
        "peak_players",
        "price",
        "free",
        "snapshot_at",
    )
    return _table(columns, rows)


# (ISIN, label, currency, typical price): accents, apostrophes and a bond label with a comma.
INSTRUMENTS: tuple[tuple[str, str, str, float], ...] = (
    ("FR0000130809", "Société Générale SA", "EUR", 31.5),
    ("FR0000131104", "BNP Paribas", "EUR", 64.2),
    ("FR0000120271", "TotalEnergies SE", "EUR", 55.8),
    ("FR0000121014", "LVMH Moët Hennessy Louis Vuitton", "EUR", 612.4),
    ("FR0000045072", "Crédit Agricole SA", "EUR", 15.9),
    ("FR0000120578", "Sanofi", "EUR", 88.3),
    ("FR0000125486", "Vinci", "EUR", 118.6),
    ("FR0000120628", "AXA", "EUR", 38.7),
    ("FR0000131906", "Renault", "EUR", 44.1),
    ("FR0000133308", "Orange", "EUR", 13.2),
    ("FR0010307819", "Legrand", "EUR", 121.9),
    ("FR0000121972", "Schneider Electric SE", "EUR", 228.4),
    ("FR0000120073", "Air Liquide", "EUR", 171.0),
    ("FR0000125338", "Capgemini", "EUR", 139.5),
    ("FR0000052292", "Hermès International", "EUR", 2207.0),
    ("FR0000120321", "L'Oréal", "EUR", 371.2),
    ("FR0000073272", "Safran", "EUR", 281.6),
    ("NL0000235190", "Airbus SE", "EUR", 197.3),
    ("FR0010916924", "OAT 3,5 % 25/04/2026", "EUR", 100.25),
    ("CH0012032048", "Roche Holding AG", "CHF", 262.8),
    ("GB0002374006", "Diageo plc", "GBP", 1879.5),
)


def stock_prices(rng: random.Random, n: int, at: datetime) -> Table:
    """Closing prices with three decimals, ISO dates and 20-digit order ids beyond int64."""
    picks = rng.sample(INSTRUMENTS, min(n, len(INSTRUMENTS)))
    day = at.date().isoformat()
    rows = []
    for isin, label, currency, typical in picks:
        price = typical * rng.uniform(0.9, 1.1)
        change = rng.uniform(-3.5, 3.5)
        volume = 0 if isin.startswith("FR0010916924") else rng.randint(10_000, 9_000_000)
        order_id = str(rng.randrange(10**19, 10**20))
        rows.append((isin, label, f"{price:.3f}", currency, day, volume, f"{change:.2f}", order_id))
    columns = ("code_isin", "libellé", "prix", "devise", "date", "volume", "variation_pct", "id")
    return _table(columns, rows)


PART_CATEGORIES = (
    "Brake Bleeder Screw",
    "Spark Plug",
    "Oil Filter",
    "Air Filter",
    "Wiper Blade",
    "Brake Pad Set, Front",
    "Thermostat",
)


def _part_number(rng: random.Random) -> str:
    style = rng.randrange(4)
    if style == 0:
        return f"{rng.randint(1, 99999):06d}"  # leading zeros that must survive
    if style == 1:
        return f"{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
    if style == 2:
        return str(rng.randint(10_000_000, 99_999_999))
    return f"{rng.randint(1, 99):04d}"


def auto_parts(rng: random.Random, n: int, at: datetime) -> Table:
    """The reference page's parts export: quoted strings, bare integers, some empty quantities."""
    rows = []
    for _ in range(n):
        brand = rng.choice(("ACDelco", "ACDelco", "Russell"))
        category = rng.choice(PART_CATEGORIES)
        number = _part_number(rng)
        name = f"{brand} {category} {number}"
        if category == "Wiper Blade":
            name = f'{brand} {rng.choice((16, 18, 22, 26))}" Beam Wiper Blade {number}'
        qty = None if rng.random() < 0.1 else rng.randint(0, 120)
        rows.append((name, number, category, qty))
    return _table(("Product Name", "Part Number", "Category", "Qty"), rows)


REVIEW_TEXTS = (
    "Fits perfectly.",
    'Works as described, but the box said "OEM" and it is not.',
    "Second one I bought.\nThe first lasted 80,000 miles!",
    "Arrived late; otherwise fine.",
    "Great value 👍",
    "Didn't fit my 2014 Silverado,\nhad to return it.",
    "",
)
REVIEWERS = ("mike_t", "Zoë D.", "García, Ana", "jjones", "O'Brien", "李伟")


def part_reviews(rng: random.Random, n: int, at: datetime) -> Table:
    """The second export table of a parts run: free text with quotes, commas and newlines."""
    rows = []
    for i in range(n):
        day = (at - timedelta(days=rng.randint(1, 400))).date().isoformat()
        rows.append(
            (
                _part_number(rng),
                rng.choice(REVIEWERS),
                rng.randint(1, 5),
                rng.choice(REVIEW_TEXTS),
                day,
                f"R{i + 1:05d}",
            )
        )
    columns = ("Part Number", "Reviewer", "Rating", "Review", "Reviewed On", "Review Id")
    return _table(columns, rows)


# (city, state, ZIP): New England ZIP codes start with 0, French postcodes are not US ZIPs.
PLACES = (
    ("Boston", "MA", "02134"),
    ("Cambridge", "MA", "02139"),
    ("Boston", "MA", "02116"),
    ("Amherst", "MA", "01002"),
    ("Hartford", "CT", "06103"),
    ("Hoboken", "NJ", "07030"),
    ("Portland", "ME", "04101"),
    ("New York", "NY", "10001"),
    ("Paris", "IDF", "75011"),
)
STREETS = ("Commonwealth Ave", "Beacon St", "Main St", "Rue Oberkampf", "Elm St, Unit 4")


def listings(rng: random.Random, n: int, at: datetime) -> Table:
    """Real-estate listings: ZIP codes and ids with leading zeros, phone numbers, decimal baths."""
    rows = []
    for _ in range(n):
        city, state, zip_code = rng.choice(PLACES)
        if state == "IDF":
            phone = f"06{rng.randint(10_000_000, 99_999_999)}"
        else:
            phone = f"+1 617-555-{rng.randint(100, 199):04d}"
        beds = rng.randint(0, 5)
        listed = (at - timedelta(days=rng.randint(0, 60))).date().isoformat()
        rows.append(
            (
                f"{rng.randint(0, 99_999_999):010d}",
                f"{rng.randint(1, 999)} {rng.choice(STREETS)}",
                city,
                state,
                zip_code,
                phone,
                str(rng.randrange(250_000, 2_500_000, 500)),
                beds,
                f"{rng.choice((1, 1.5, 2, 2.5, 3))}",
                "" if rng.random() < 0.15 else str(rng.randint(450, 4200)),
                listed,
            )
        )
    columns = (
        "listing_id",
        "address",
        "city",
        "state",
        "zip",
        "phone",
        "price",
        "bedrooms",
        "bathrooms",
        "sqft",
        "listed_on",
    )
    return _table(columns, rows)


PRODUCTS = (
    ('Dell UltraSharp 27" 4K Monitor (U2723QE)', "Monitors", 579.99),
    ("Logitech MX Master 3S", "Mice", 99.99),
    ("Apple AirPods Pro (2nd generation)", "Audio", 249.0),
    ("Samsung 990 PRO 2TB, NVMe", "Storage", 169.9),
    ("Sony WH-1000XM5 \u2013 Black", "Audio", 399.99),
    ("Anker 737 Power Bank", "Chargers", 109.99),
    ("Nintendo Switch 2", "Consoles", 449.0),
    ("Kindle Paperwhite (16 GB)", "E-readers", 159.99),
)
RETAILERS = ("Amazon", "Best Buy", "Walmart", "Fnac", "MediaMarkt")


def price_checks(rng: random.Random, n: int, at: datetime) -> Table:
    """Price checks: floats (some whole), nulls, big integers, leading-zero UPCs and nested values."""
    rows = []
    for i in range(n):
        product, category, base = rng.choice(PRODUCTS)
        in_stock = rng.random() > 0.2
        price = round(base * rng.uniform(0.85, 1.05), 2) if in_stock else None
        if price is not None and rng.random() < 0.15:
            price = float(round(price))
        checked = at + timedelta(seconds=7 * i)
        rows.append(
            (
                f"{rng.randint(0, 99_999_999_999):012d}",
                product,
                rng.choice(RETAILERS),
                price,
                "EUR" if rng.random() < 0.3 else "USD",
                in_stock,
                checked.strftime("%Y-%m-%dT%H:%M:%SZ"),
                rng.randrange(10**18, 2**64),
                {"category": category, "rank": rng.randint(1, 500)},
            )
        )
    columns = (
        "upc",
        "product",
        "retailer",
        "price",
        "currency",
        "in_stock",
        "checked_at",
        "offer_id",
        "meta",
    )
    return _table(columns, rows)


def generic(rng: random.Random, n: int, at: datetime) -> Table:
    """Rows for agents added by tests, which have no demo domain of their own."""
    rows = [
        (
            i + 1,
            f"Item {i + 1:03d}",
            f"{rng.uniform(0, 1000):.2f}",
            rng.choice(("alpha", "beta", "gamma")),
            (at + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        for i in range(n)
    ]
    return _table(("id", "name", "value", "category", "captured_at"), rows)


# (title, category, typical price): quotes, commas and accents in titles on purpose.
SHOP_ITEMS = (
    ("Chef's Knife 8\", forged", "Kitchen", 89.0),
    ("Cast-Iron Skillet, 26 cm", "Kitchen", 45.5),
    ("Espresso Cups (set of 4)", "Kitchen", 24.9),
    ("Linen Tablecloth \u2013 Natural", "Home", 59.0),
    ("Crème de la Crème Hand Soap", "Bath", 12.0),
    ('Bamboo Towels "Soft Touch"', "Bath", 34.95),
    ("Desk Lamp, Brass", "Office", 129.0),
    ("Notebook A5, dotted", "Office", 7.5),
)
SHOP_REVIEWS = (
    "Exactly as pictured.",
    'The "forged" blade is stamped, but it is sharp.',
    "Arrived in two days, well packed.\nWould buy again.",
    "Too small, had to return it; refund was quick.",
    "Colour is darker than the photo, still nice",
    "5 stars, no notes \u2728",
    "",
)


def shop_products(rng: random.Random, n: int, at: datetime) -> Table:
    """Products export table: SKUs with leading zeros, titles with quotes and commas, prices as text."""
    rows = []
    for sku in sorted(rng.sample(range(1, 99_999), n)):
        title, category, typical = rng.choice(SHOP_ITEMS)
        rows.append((f"{sku:06d}", title, category, f"{typical * rng.uniform(0.8, 1.2):.2f}"))
    return _table(("sku", "title", "category", "price"), rows)


def shop_reviews(products: Table, seed: object, n: int) -> Table:
    """The Reviews export table of the same run: its products' SKUs, text with quotes and newlines."""
    rng = random.Random(f"shop_reviews:{seed}")
    skus = [row[0] for row in products.rows]
    rows = [(rng.choice(skus), rng.randint(1, 5), rng.choice(SHOP_REVIEWS)) for _ in range(n)]
    return _table(("sku", "stars", "text"), rows)


# (product, category, price in euros): every character exists in Windows-1252 (\u20ac, \u0152 included).
BAKERY = (
    ("Café crème", "Boissons", 2.5),
    ("Thé €", "Boissons", 2.2),
    ("Chocolat chaud", "Boissons", 3.1),
    ("Croissant au beurre", "Viennoiseries", 1.2),
    ("Pain au chocolat", "Viennoiseries", 1.35),
    ("Éclair café", "Pâtisseries", 3.4),
    ("Crème brûlée", "Pâtisseries", 4.0),
    ("\u0152uf mayonnaise", "Traiteur", 3.9),
    ("Quiche lorraine, part", "Traiteur", 4.6),
)


def bakery_prices(rng: random.Random, n: int, at: datetime) -> Table:
    """A French price list: decimal commas and French dates as text, accents in the header."""
    picks = rng.sample(BAKERY, min(n, len(BAKERY)))
    day = at.strftime("%d/%m/%Y")
    rows = []
    for product, category, price in picks:
        euros = f"{price * rng.uniform(0.95, 1.1):.2f}".replace(".", ",")
        rows.append((product, category, euros, rng.randint(0, 60), day))
    return _table(("Produit", "Catégorie", "Prix (€)", "Quantité", "Mis à jour"), rows)


JOBS = (
    ("Data Engineer", ("python", "sql")),
    ("Ingénieur données", ("python", "spark", "sql")),
    ("Analytics Engineer", ("dbt", "sql")),
    ("Scraping Specialist", ("xpath", "python")),
    ("BI Developer", ()),
)
COMPANIES = ("Smith & Sons", "Acme <Data> Ltd", "Dupont SARL", "Nordlicht GmbH")


def job_feed(rng: random.Random, n: int, at: datetime) -> Table:
    """Job postings for an XML feed: ids and flags as attributes, an optional note, a list of tags."""
    rows = []
    for i in range(n):
        title, tags = rng.choice(JOBS)
        posted = (at - timedelta(days=rng.randint(0, 20))).date().isoformat()
        note = None if rng.random() < 0.4 else rng.choice(("Urgent", "Hybrid, 2 days on site", "Visa: no"))
        rows.append(
            (
                f"J-{i + 1:04d}",
                "true" if rng.random() < 0.5 else "false",
                title,
                rng.choice(COMPANIES),
                f"{rng.randrange(38_000, 95_000, 500)}.00",
                posted,
                note,
                list(tags),
            )
        )
    return _table(("id", "remote", "title", "company", "salary", "posted", "note", "tags"), rows)


GENERATORS: dict[str, Generator] = {
    "steam": steam_charts,
    "prices": stock_prices,
    "parts": auto_parts,
    "reviews": part_reviews,
    "listings": listings,
    "monitor": price_checks,
    "shop": shop_products,
    "bakery": bakery_prices,
    "jobs": job_feed,
    "generic": generic,
}


def generate(
    kind: str, seed: object, n: int, at: datetime, inputs: Mapping[str, Cell] | None = None
) -> Table:
    """The table an agent of this kind delivers for this seed (a run id), with its input columns."""
    rng = random.Random(f"{kind}:{seed}")
    table = GENERATORS.get(kind, generic)(rng, n, at)
    return table.with_inputs(inputs) if inputs else table


def row_count(seed: object) -> int:
    """How many rows a run started through the API delivers when it completes."""
    return random.Random(f"rows:{seed}").randint(12, 40)


def text_cell(value: Cell) -> str:
    """A cell as text the way Sequentum exports it: empty for null, JSON for nested values."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def encode_text(text: str, encoding: str = "utf-8", *, bom: bool = False) -> bytes:
    """Text as an export writes it; "utf-16" is always little-endian with its BOM, as Windows saves it.

    A character the encoding lacks raises UnicodeEncodeError: a fixture must not lose data silently.
    """
    if encoding.lower().replace("_", "-") in ("utf-16", "utf16"):
        return b"\xff\xfe" + text.encode("utf-16-le")
    marks = {"utf-8": b"\xef\xbb\xbf", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}
    mark = marks.get(encoding.lower().replace("_", "-"), b"") if bom else b""
    return mark + text.encode(encoding)


def to_csv(
    table: Table,
    *,
    quote_strings: bool = False,
    newline: str = "\n",
    delimiter: str = ",",
    encoding: str = "utf-8",
    bom: bool = False,
) -> bytes:
    """CSV (UTF-8 by default); quote_strings mimics the reference page (strings quoted, numbers bare).

    delimiter=";" with encoding="cp1252" is a European Excel export; encoding="utf-16" adds its BOM.
    """
    buffer = io.StringIO()
    if quote_strings:
        writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator=newline, delimiter=delimiter)
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow([v if isinstance(v, int | float) else text_cell(v) for v in row])
    else:
        writer = csv.writer(buffer, lineterminator=newline, delimiter=delimiter)
        writer.writerow(table.columns)
        writer.writerows([text_cell(v) for v in row] for row in table.rows)
    return encode_text(buffer.getvalue(), encoding, bom=bom)


XML_ENCODING_NAMES = {"utf-8": "UTF-8", "cp1252": "windows-1252", "latin-1": "ISO-8859-1"}


def xml_name(name: str) -> str:
    """A column name as an XML element or attribute name: other characters become "_"."""
    cleaned = re.sub(r"[^\w.-]", "_", name.strip()) or "_"
    return cleaned if re.match(r"[^\W\d]", cleaned) else f"_{cleaned}"


def _xml_value(name: str, value: Cell, item_names: Mapping[str, str]) -> str:
    tag = xml_name(name)
    if value is None:
        return f"<{tag}/>"
    if isinstance(value, list):
        item = xml_name(item_names.get(name, "item"))
        inner = "".join(_xml_value(item, v, item_names) for v in value)
        return f"<{tag}>{inner}</{tag}>" if inner else f"<{tag}/>"
    if isinstance(value, dict):
        inner = "".join(_xml_value(str(k), v, item_names) for k, v in value.items())
        return f"<{tag}>{inner}</{tag}>" if inner else f"<{tag}/>"
    return f"<{tag}>{escape(text_cell(value))}</{tag}>"


def to_xml(
    table: Table,
    *,
    root: str = "records",
    record: str = "record",
    attributes: Sequence[str] = (),
    item_names: Mapping[str, str] | None = None,
    encoding: str = "utf-8",
) -> bytes:
    """Any table as an XML export: one `record` element per row under `root`, with a declaration.

    Columns named in `attributes` become attributes (omitted when null); the others become child
    elements: null is an empty element, a list repeats `item_names[column]` (default "item")
    inside its element, a dict nests one element per key. Column names are made XML-safe.
    """
    names = item_names or {}
    label = XML_ENCODING_NAMES.get(encoding.lower(), encoding.upper())
    lines = [f'<?xml version="1.0" encoding="{label}"?>', f"<{xml_name(root)}>"]
    for row in table.rows:
        attrs = "".join(
            f" {xml_name(column)}={quoteattr(text_cell(value))}"
            for column, value in zip(table.columns, row, strict=True)
            if column in attributes and value is not None
        )
        children = [
            _xml_value(column, value, names)
            for column, value in zip(table.columns, row, strict=True)
            if column not in attributes
        ]
        body = "".join(f"\n    {child}" for child in children)
        lines.append(f"  <{xml_name(record)}{attrs}>{body}\n  </{xml_name(record)}>")
    lines.append(f"</{xml_name(root)}>")
    text = "\n".join(lines) + "\n"
    return text.encode(encoding, errors="xmlcharrefreplace")


def to_tsv(table: Table) -> bytes:
    """TSV without any quoting: a double quote in a cell is just a character."""
    lines = ["\t".join(table.columns)]
    lines += ["\t".join(text_cell(v) for v in row) for row in table.rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def to_json(table: Table) -> bytes:
    """A JSON array of objects, pretty-printed as an export would be."""
    return json.dumps(table.records(), ensure_ascii=False, indent=2).encode("utf-8")


def with_bom_crlf(text: str) -> bytes:
    """UTF-8 with a byte-order mark and CRLF line ends, as Excel on Windows saves CSV.

    Done in code rather than stored so that no checkout setting can normalise the trap away.
    """
    return b"\xef\xbb\xbf" + text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def slugify(name: str) -> str:
    """File-name stem for an agent ("Price Monitor" -> "price_monitor"): accents dropped, ASCII only.

    The emulator's own rule for the files it names, not the tap's: the tap must read whatever names a
    server gives, so the two are kept apart on purpose.
    """
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_") or "agent"


def decode_text(data: bytes) -> str:
    """The text of a delivered file: a BOM decides, then UTF-8, then Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def count_rows(name: str, data: bytes) -> int:
    """Data rows in a delivered file, so a run's dataCount matches what it delivered."""
    extension = name.rsplit(".", 1)[-1].lower()
    try:
        if extension == "xml":
            return len(ET.fromstring(data))  # noqa: S314 - our own fixtures, not untrusted input
        text = decode_text(data)
        if extension == "tsv":
            rows = csv.reader(io.StringIO(text), "excel-tab", quoting=csv.QUOTE_NONE)
            return max(0, sum(1 for _ in rows) - 1)
        if extension == "csv":
            # The header's most frequent candidate is the delimiter (";" in European exports).
            header = text.split("\n", 1)[0]
            delimiter = max(",;\t|", key=header.count) if any(c in header for c in ",;\t|") else ","
            return max(0, sum(1 for _ in csv.reader(io.StringIO(text), delimiter=delimiter)) - 1)
        if extension == "json":
            value = json.loads(text)
            return len(value) if isinstance(value, list) else 1
        if extension in ("jsonl", "ndjson"):
            return sum(1 for line in text.splitlines() if line.strip())
    except (UnicodeDecodeError, ValueError, csv.Error, ET.ParseError):
        return 0
    return 0


def run_log(events: Sequence[tuple[datetime, str, str]]) -> bytes:
    """A run log in Sequentum's text form: one timestamped, levelled line per event."""
    lines = (
        f"{at.strftime('%Y-%m-%d %H:%M:%S')}.{at.microsecond // 1000:03d} {level:<5} {text}\n"
        for at, level, text in events
    )
    return "".join(lines).encode("utf-8")
