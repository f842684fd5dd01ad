"""The opt-in reality agents (issue 8) and the renderings they are built from."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sequentum_emulator import Sandbox, tables
from sequentum_emulator.dataset import Dataset
from sequentum_emulator.demo import seed_realities, shop_files
from sequentum_emulator.messages import RangeNotSatisfiable, byte_range

SHOP, BAKERY, FEED = 1007, 1008, 1009
BAKERY_HEADER = "Produit;Catégorie;Prix (€);Quantité;Mis à jour"


@pytest.fixture(scope="module")
def sb():
    with Sandbox(realities=True) as sandbox:
        yield sandbox


def runs_of(http, api, agent: int) -> list[dict]:
    return list(reversed(http.get(f"{api}/agent/{agent}/runs").json()))


def data_files(http, api, agent: int, run: int) -> dict[str, bytes]:
    base = f"{api}/agent/{agent}/run/{run}"
    return {
        f["name"]: http.get(f"{base}/file/{f['id']}/download").content
        for f in http.get(f"{base}/files").json()
        if f["fileType"] == 1
    }


def test_realities_are_opt_in_and_follow_the_demo(sb, http, api):
    agents = http.get(f"{api}/agent/all").json()
    assert [a["id"] for a in agents] == [1001, 1002, 1003, 1004, 1005, 1006, SHOP, BAKERY, FEED]
    assert [a["name"] for a in agents[6:]] == [
        "Shop crawler",
        "Boulangerie Dupain \u2013 tarifs",
        "Job board feed",
    ]
    with Sandbox() as plain:
        assert len(plain.data.agents) == 6
    alone = Dataset()
    seed_realities(alone)
    assert sorted(alone.agents) == [1001, 1002, 1003]


def test_realities_are_deterministic(sb):
    def fingerprint(sandbox: Sandbox) -> list[tuple]:
        return [
            (f.id, f.name, hashlib.sha256(f.data or b"").hexdigest(), str(f.created))
            for f in sorted(sandbox.data.files.values(), key=lambda f: f.id)
        ]

    with Sandbox(realities=True) as again:
        assert fingerprint(again) == fingerprint(sb)


def test_shop_crawler_delivers_two_export_tables_per_run(http, api):
    runs = runs_of(http, api, SHOP)
    assert [r["status"] for r in runs] == [9, 9, 9, 9, 6]
    names = [sorted(data_files(http, api, SHOP, r["id"])) for r in runs[:4]]
    assert names[0] == names[1] == ["Products.csv", "Reviews.csv"]
    assert names[2] == ["Products_20260105_083000.csv", f"Reviews_{runs[2]['id']}.csv"]
    assert names[3] == ["Products_20260202_083000.csv", "Reviews_20260202_083000.csv"]
    files = data_files(http, api, SHOP, runs[0]["id"])
    products = list(csv.DictReader(io.StringIO(files["Products.csv"].decode())))
    reviews = list(csv.DictReader(io.StringIO(files["Reviews.csv"].decode())))
    assert list(products[0]) == ["sku", "title", "category", "price"]
    assert list(reviews[0]) == ["sku", "stars", "text"]
    assert all(re.fullmatch(r"\d{6}", p["sku"]) for p in products)
    assert any(p["sku"].startswith("0") for p in products)
    assert {r["sku"] for r in reviews} <= {p["sku"] for p in products}
    assert any("\n" in r["text"] for r in reviews)
    assert any('"' in r["text"] for r in reviews)
    assert runs[0]["dataCount"] == len(products) + len(reviews)


def test_shop_crawler_failure_waits_and_can_be_restarted(sb, http, api):
    waiting = runs_of(http, api, SHOP)[-1]
    assert (waiting["status"], waiting["tableType"]) == (6, "run")
    assert "retrying" in waiting["message"]
    assert http.get(f"{api}/agent/{SHOP}/run/{waiting['id']}/files").json() == []
    sb.restart_run(SHOP, waiting["id"])
    done = sb.set_run_status(SHOP, waiting["id"], 9, files=shop_files(waiting["created"]))
    assert done["tableType"] == "history"
    assert sorted(data_files(http, api, SHOP, waiting["id"])) == ["Products.csv", "Reviews.csv"]


def test_european_export_is_cp1252_with_semicolons(http, api):
    runs = runs_of(http, api, BAKERY)
    assert len(runs) == 3
    for run in runs[:2]:
        content = data_files(http, api, BAKERY, run["id"])["tarifs.csv"]
        with pytest.raises(UnicodeDecodeError):
            content.decode("utf-8")
        text = content.decode("cp1252")
        assert text.splitlines()[0] == BAKERY_HEADER
        assert "\r\n" in text
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
        assert all(len(row) == 5 for row in rows)
        cells = {row[0] for row in rows[1:]}
        assert {"Café crème", "Thé €"} <= cells
        assert all(re.fullmatch(r"\d+,\d\d", row[2]) for row in rows[1:])
        assert run["dataCount"] == len(rows) - 1
    newest = data_files(http, api, BAKERY, runs[2]["id"])["tarifs.csv"]
    assert newest.startswith(b"\xff\xfe")
    assert newest.decode("utf-16").splitlines()[0] == BAKERY_HEADER


def test_xml_feed_has_records_attributes_empty_and_nested_elements(http, api):
    runs = runs_of(http, api, FEED)
    assert len(runs) == 2
    content = data_files(http, api, FEED, runs[0]["id"])["feed.xml"]
    assert content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(content)
    assert root.tag == "jobs"
    assert len(root) == 12 == runs[0]["dataCount"]
    assert all(job.tag == "job" and set(job.attrib) == {"id", "remote"} for job in root)
    leaves = {"title", "company", "salary", "posted", "note"}
    assert all(leaves <= {child.tag for child in job} for job in root)
    assert any(len(job.find("note")) == 0 and job.find("note").text is None for job in root)
    tags = [job.find("tags") for job in root]
    assert any(len(t) >= 2 and all(c.tag == "tag" for c in t) for t in tags)
    assert any(job.findtext("company") in ("Smith & Sons", "Acme <Data> Ltd") for job in root)
    assert "Ingénieur données" in content.decode("utf-8")


# --- renderings -------------------------------------------------------------------------------

AT = datetime(2026, 3, 3, tzinfo=UTC)
CP1252_TEXT = st.text(
    alphabet=st.characters(codec="cp1252", exclude_categories=("Cs",), exclude_characters="\r\x00"),
    max_size=12,
)


def test_to_csv_defaults_are_unchanged():
    table = tables.Table(("a", "b"), (("x,y", None), ("1", True)))
    assert tables.to_csv(table) == b'a,b\n"x,y",\n1,true\n'
    assert tables.to_csv(table, delimiter=";") == b"a;b\nx,y;\n1;true\n"


@given(st.lists(st.tuples(CP1252_TEXT, CP1252_TEXT, CP1252_TEXT), min_size=1, max_size=8))
def test_semicolon_cp1252_csv_round_trips(rows):
    table = tables.Table(("Produit", "Prix (€)", "Quantité"), tuple(rows))
    content = tables.to_csv(table, delimiter=";", encoding="cp1252")
    parsed = list(csv.reader(io.StringIO(content.decode("cp1252"), newline=""), delimiter=";"))
    assert parsed[0] == list(table.columns)
    assert [tuple(row) for row in parsed[1:]] == rows
    assert tables.count_rows("x.csv", content) == len(parsed) - 1


def test_encodings_and_byte_order_marks():
    table = tables.Table(("nom",), (("Thé €",),))
    assert tables.to_csv(table, encoding="utf-16") == b"\xff\xfe" + "nom\nThé €\n".encode("utf-16-le")
    assert tables.to_csv(table, bom=True).startswith(b"\xef\xbb\xbf")
    assert tables.to_csv(table, encoding="utf-16-be", bom=True).startswith(b"\xfe\xff")
    assert tables.to_csv(table, encoding="cp1252") == "nom\nThé €\n".encode("cp1252")
    with pytest.raises(UnicodeEncodeError):
        tables.to_csv(tables.Table(("x",), (("李",),)), encoding="cp1252")
    for encoding in ("utf-16", "cp1252", "utf-8"):
        assert tables.decode_text(tables.to_csv(table, encoding=encoding)) == "nom\nThé €\n"


XML_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=10)


@given(
    st.lists(
        st.tuples(XML_TEXT, st.none() | XML_TEXT, st.lists(XML_TEXT, max_size=3)),
        min_size=1,
        max_size=6,
    )
)
def test_to_xml_round_trips(rows):
    table = tables.Table(("id", "note", "tags"), tuple(rows))
    content = tables.to_xml(
        table, root="items", record="item", attributes=("id",), item_names={"tags": "tag"}
    )
    root = ET.fromstring(content)
    assert [item.get("id") for item in root] == [row[0] for row in rows]
    for item, (_, note, tags) in zip(root, rows, strict=True):
        assert item.findtext("note") == (note or "")
        assert (len(item.find("note")) == 0) and (note is not None or item.find("note").text is None)
        assert [t.text for t in item.find("tags")] == tags
    assert tables.count_rows("feed.xml", content) == len(rows)


def test_to_xml_names_and_nested_values():
    table = tables.Table(("Prix (€)", "1st", "meta"), (("2,50", None, {"a": 1, "b": [True]}),))
    content = tables.to_xml(table, encoding="cp1252").decode("cp1252")
    assert content.startswith('<?xml version="1.0" encoding="windows-1252"?>')
    assert "<Prix____>2,50</Prix____>" in content
    assert "<_1st/>" in content
    assert "<meta><a>1</a><b><item>true</item></b></meta>" in content


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=2-", 10, (2, 9)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-30", 10, (0, 9)),
        ("bytes=5-100", 10, (5, 9)),
        (" bytes = 1-2 ", 10, (1, 2)),
        ("bytes=3-1", 10, None),
        ("bytes=0-1,4-5", 10, None),
        ("bytes=-", 10, None),
        ("lines=1-2", 10, None),
        ("bytes=10-", 10, RangeNotSatisfiable),
        ("bytes=-0", 10, RangeNotSatisfiable),
        ("bytes=0-", 0, RangeNotSatisfiable),
    ],
)
def test_byte_range(header, size, expected):
    if expected is RangeNotSatisfiable:
        with pytest.raises(RangeNotSatisfiable):
            byte_range(header, size)
    else:
        assert byte_range(header, size) == expected
