"""Encoding and delimiter detection, and the XML reader: pure, tables of cases plus properties."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_sequentum.contents.dialect import ReadOptions, detect_encoding, redetect, resolve, sniff_delimiter
from tap_sequentum.contents.formats import read_batches
from tap_sequentum.contents.xml import read_xml
from tap_sequentum.errors import MalformedFileError

FRENCH = "Produit;Prix (€)\nCafé crème;2,50\nThé €;3,10\nŒuf mayonnaise;4,00\n"
POLISH = "Zażółć gęślą jaźń;x\nŁódź;Kraków\nŚwiętokrzyskie;Gdańsk\n" * 4
RUSSIAN = "Привет;мир\nданные;тест\nещё;строка\nМосква;Санкт-Петербург\n" * 3
GREEK = "Καλημέρα;κόσμε\nΑθήνα;Θεσσαλονίκη\n" * 4


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (FRENCH.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + FRENCH.encode("utf-8"), "utf-8"),
        (FRENCH.encode("utf-16"), "utf-16"),
        (FRENCH.encode("cp1252"), "cp1252"),
        ("name\nThé €\n".encode("cp1252"), "cp1252"),  # little evidence: the Windows-1252 fallback
        (POLISH.encode("cp1250"), "cp1250"),
        (RUSSIAN.encode("cp1251"), "cp1251"),
        (GREEK.encode("cp1253"), "cp1253"),
        (b"plain ascii,1\n", "utf-8"),
        (b"", "utf-8"),
    ],
)
def test_detect_encoding(data, expected):
    assert detect_encoding(data) == expected


def test_a_multibyte_character_cut_at_the_end_of_a_prefix_is_still_utf8():
    data = "a,b\nc,é".encode()
    assert detect_encoding(data[:-1], complete=False) == "utf-8"


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("name;price;qty\nCafé crème;2,50;3\nThé €;3,10;1\n", ";"),
        ('a,b,c\n"x;y;z",1,2\n3,4,5\n', ","),
        ("a\tb\n1\t2\n", "\t"),
        ("a|b|c\n1|2|3\n", "|"),
        ("only\n1\n2\n", ","),
        ('"multi\nline;with;semicolons",b\n1,2\n', ","),
        ("a;b\n1;2\n3;4\n5,5;6\n", ";"),
    ],
)
def test_sniff_delimiter(text, delimiter):
    assert sniff_delimiter(text) == delimiter


cells = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=12
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    header=st.lists(
        st.text(alphabet="abcdefgh", min_size=1, max_size=6), min_size=2, max_size=5, unique=True
    ),
    rows=st.lists(st.lists(cells, min_size=5, max_size=5), min_size=1, max_size=15),
    encoding=st.sampled_from(["utf-8", "cp1252", "utf-16"]),
)
def test_any_written_csv_reads_back_exactly_whatever_its_delimiter_and_encoding(
    tmp_path_factory, delimiter, header, rows, encoding
):
    """A file written with any of the four delimiters (csv module quoting) and encodings reads back
    cell for cell with everything left on auto."""
    width = len(header)
    rows = [row[:width] for row in rows]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    try:
        data = buffer.getvalue().encode(encoding)
    except UnicodeEncodeError:
        return  # a character Windows-1252 cannot hold
    path = tmp_path_factory.mktemp("csv") / "f.csv"
    path.write_bytes(data)
    options = resolve(path, "csv", ReadOptions())
    assert options.delimiter == delimiter or all(len(row) == 1 for row in [header])
    got = [
        [cell or "" for cell in row]
        for batch in read_batches(path, "csv", options)
        for row in zip(*batch.to_pydict().values(), strict=True)
    ]
    assert got == [list(row) for row in rows]


def test_a_prefix_that_looked_utf8_is_detected_again_from_the_whole_file(tmp_path):
    path = tmp_path / "late.csv"
    path.write_bytes(b"name\n" + b"x\n" * 40_000 + "Thé\n".encode("cp1252"))
    options = resolve(path, "csv", ReadOptions())
    assert options.codec == "utf-8" and options.from_prefix
    with pytest.raises(MalformedFileError):
        list(read_batches(path, "csv", options))
    again = redetect(path, options)
    assert again is not None and again.codec == "cp1252"
    assert list(read_batches(path, "csv", again))[-1].column("name").to_pylist()[-1] == "Thé"


def test_forced_settings_are_kept(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes("a|b\nCrème|1\n".encode("latin-1"))
    forced = resolve(path, "csv", ReadOptions(encoding="latin-1", delimiter="|"))
    assert (forced.encoding, forced.delimiter) == ("latin-1", "|")


XML = """<?xml version="1.0" encoding="ISO-8859-1"?>
<export xmlns="urn:x"><meta><made>today</made></meta>
 <items>
  <item sku="001"><name>Café</name><price currency="EUR">2.50</price><empty/>
    <tags><tag>a</tag><tag>b</tag></tags></item>
  <item sku="002"><name>Thé &amp; co</name><price currency="EUR">3</price><empty></empty><tags/>
    <note>x</note><note>y</note></item>
 </items>
</export>
"""


def test_xml_mapping(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(XML.encode("latin-1"))
    rows = [row for batch in read_xml(path) for row in batch.to_pylist()]
    assert rows == [
        {"sku": "001", "name": "Café", "price": "2.50", "price_currency": "EUR", "empty": None,
         "tags": '{"tag":["a","b"]}', "note": None},
        {"sku": "002", "name": "Thé & co", "price": "3", "price_currency": "EUR", "empty": None,
         "tags": None, "note": '["x","y"]'},
    ]  # fmt: skip


def test_xml_with_one_record_and_with_repeated_leaves_at_the_top(tmp_path):
    one = tmp_path / "one.xml"
    one.write_text("<root><row><a>1</a></row></root>")
    assert [r for b in read_xml(one) for r in b.to_pylist()] == [{"a": "1"}]
    flat = tmp_path / "flat.xml"
    flat.write_text("<values><v>1</v><v>2</v><v>3</v></values>")
    assert [r for b in read_xml(flat) for r in b.to_pylist()] == [{"v": "1"}, {"v": "2"}, {"v": "3"}]


@pytest.mark.parametrize(
    "text",
    [
        "<a><b>unclosed</a>",
        '<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>',  # entities are refused, not expanded
    ],
)
def test_bad_or_unsafe_xml_is_a_malformed_file(tmp_path, text):
    path = tmp_path / "bad.xml"
    path.write_text(text)
    with pytest.raises(MalformedFileError):
        list(read_xml(path))


def test_xml_memory_stays_flat(tmp_path):
    """Rows leave the tree as they are read: a long file holds one record at a time."""
    path = tmp_path / "big.xml"
    with path.open("w") as handle:
        handle.write("<rows>")
        for i in range(60_000):
            handle.write(f"<row><n>{i}</n><s>{'x' * 20}</s></row>")
        handle.write("</rows>")
    import tracemalloc

    tracemalloc.start()
    count = sum(batch.num_rows for batch in read_xml(Path(path)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 60_000
    assert peak < 40 * 1024 * 1024  # a batch of 50k rows, not the whole tree of 60k records
