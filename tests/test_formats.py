"""File readers and the whole parse -> infer -> convert path, without HTTP."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_infer import render

from tap_sequentum.contents.convert import json_values, python_values
from tap_sequentum.contents.formats import (
    ReadOptions,
    format_of,
    read_batches,
    unique_names,
)
from tap_sequentum.contents.infer import Kind, infer_arrow, widen
from tap_sequentum.contents.records import RecordWriter
from tap_sequentum.errors import MalformedFileError


def pipeline(path: Path, fmt: str, options: ReadOptions | None = None) -> tuple[dict[str, Kind], list[dict]]:
    """What a content stream does with a file: infer over all batches, then convert."""
    kinds: dict[str, Kind] = {}
    for batch in read_batches(path, fmt, options):
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            kinds[name] = widen(kinds.get(name, Kind.NULL), infer_arrow(column))
    rows: list[dict] = []
    for batch in read_batches(path, fmt, options):
        names = batch.schema.names
        values = [python_values(batch.column(n), kinds[n], batch.num_rows) for n in names]
        rows.extend(dict(zip(names, row, strict=True)) for row in zip(*values, strict=True))
    return kinds, rows


def write_csv(path: Path, header: list[str], rows: list[list[str]], newline: str = "\n") -> Path:
    """Write a CSV as a careful exporter does: any field holding CR or LF is quoted."""
    buffer = io.StringIO()
    quoting = csv.QUOTE_MINIMAL if newline == "\r\n" else csv.QUOTE_ALL
    writer = csv.writer(buffer, lineterminator=newline, quoting=quoting)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    return path


def same_cell(text: str, value: object) -> bool:
    """The record value stands for the cell text: equal text, equal number, equal boolean."""
    if text == "":
        return value is None
    if isinstance(value, bool):
        return text.lower() == ("true" if value else "false")
    if isinstance(value, int):
        return render(value, Kind.INTEGER) == text
    if isinstance(value, Decimal):
        return Decimal(text) == value
    return value == text


TRAPS = [
    "007123", "0045", "02134", "+1 617-555-0100", "0612345678", "98765432109876543210",
    "9223372036854775807", "9223372036854775808", "19.99", "0.00", "1e10", "-0", "-0.0",
    "TRUE", "false", "2025-10-31", "2025-02-30", "2025-11-03T08:00:12.345678Z", "NA", "null",
    "N/A", " ", "a,b", 'say "hi"', "line1\nline2", "line1\r\nline2", "Société", "",
]  # fmt: skip
cells = st.one_of(
    st.sampled_from(TRAPS),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    table=st.integers(min_value=1, max_value=4).flatmap(
        lambda width: st.lists(st.lists(cells, min_size=width, max_size=width), min_size=1, max_size=12)
    ),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_any_csv_cell_survives_the_whole_path(tmp_path, table, newline):
    header = [f"c{i}" for i in range(len(table[0]))]
    path = write_csv(tmp_path / "t.csv", header, table, newline)
    _, rows = pipeline(path, "csv")
    assert len(rows) == len(table)
    for source, record in zip(table, rows, strict=True):
        for name, text in zip(header, source, strict=True):
            assert same_cell(text, record[name]), (text, record[name])


def test_traps_keep_their_exact_values(tmp_path):
    path = write_csv(
        tmp_path / "traps.csv",
        ["sku", "zip", "id", "price", "note", "flag", "day"],
        [
            ["007123", "02134", "98765432109876543210", "19.90", 'a, "b"\nc', "TRUE", "2025-10-31"],
            ["0045", "10001", "12345678901234567890", "1299.00", "", "false", "2025-11-01"],
        ],
        newline="\r\n",
    )
    kinds, rows = pipeline(path, "csv")
    assert kinds == {
        "sku": Kind.STRING,
        "zip": Kind.STRING,
        "id": Kind.STRING,
        "price": Kind.NUMBER,
        "note": Kind.STRING,
        "flag": Kind.BOOLEAN,
        "day": Kind.DATE,
    }
    assert rows[0]["sku"] == "007123"
    assert rows[0]["zip"] == "02134"
    assert rows[0]["id"] == "98765432109876543210"
    assert rows[0]["price"] == Decimal("19.90")
    assert str(rows[1]["price"]) == "1299.00"
    assert rows[0]["note"] == 'a, "b"\nc'
    assert rows[1]["note"] is None
    assert rows[0]["flag"] is True
    assert rows[1]["flag"] is False


def test_bom_crlf_and_na_strings(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes('\ufeffcode,label\r\n"001","NA"\r\n002,null\r\n'.encode())
    kinds, rows = pipeline(path, "csv")
    assert list(kinds) == ["code", "label"]
    assert rows == [{"code": "001", "label": "NA"}, {"code": "002", "label": "null"}]


def test_encoding_setting(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("nom,prix\nSociété,1.5\n".encode("latin-1"))
    with pytest.raises(MalformedFileError):
        pipeline(path, "csv")
    _, rows = pipeline(path, "csv", ReadOptions(encoding="latin-1"))
    assert rows == [{"nom": "Société", "prix": Decimal("1.5")}]


def test_tsv(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("a\tb\n01\t2,5\n")
    _, rows = pipeline(path, format_of("t.tsv"))
    assert rows == [{"a": "01", "b": "2,5"}]


def test_ragged_csv_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(MalformedFileError, match="Expected 2 columns, got 1"):
        list(read_batches(path, "csv"))


def test_header_only_and_empty_files(tmp_path):
    (tmp_path / "h.csv").write_text("a,b\n")
    assert sum(b.num_rows for b in read_batches(tmp_path / "h.csv", "csv")) == 0
    (tmp_path / "e.csv").write_text("")
    assert list(read_batches(tmp_path / "e.csv", "csv")) == []


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        (["a", "b"], ["a", "b"]),
        (["a", "a", "a"], ["a", "a_2", "a_3"]),
        (["a", "", "a_2", "a"], ["a", "column_2", "a_2", "a_3"]),
        (["_sdc_row_number", "x"], ["_sdc_row_number_2", "x"]),
        ([" ", None], ["column_1", "column_2"]),
    ],
)
def test_unique_names(raw, names):
    assert unique_names(raw) == names


def test_json_array_and_sync_shape(tmp_path):
    rows = [
        {"Name": "A", "PN": "179-1098", "QTY": 17, "price": 12345678901234567.891},
        {"Name": "B", "QTY": 98},
    ]
    text = json.dumps(rows).replace("1.2345678901234568e+16", "12345678901234567.891")
    assert "12345678901234567.891" in text
    (tmp_path / "a.json").write_text(text)
    kinds, got = pipeline(tmp_path / "a.json", "json")
    assert kinds["QTY"] is Kind.INTEGER
    assert got[0]["price"] == Decimal("12345678901234567.891")
    assert got[1]["PN"] is None
    (tmp_path / "s.json").write_text('{"Test_Agent": ' + text + "}")
    assert pipeline(tmp_path / "s.json", "json")[1] == got


def test_json_lines_with_nested_values(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "007", "tags": ["x", "y"], "ok": true}\n\n{"id": "008", "extra": {"k": 1}}\n')
    kinds, rows = pipeline(path, "jsonl")
    assert rows[0] == {"id": "007", "tags": '["x","y"]', "ok": True, "extra": None}
    assert rows[1]["extra"] == '{"k":1}'
    assert kinds["ok"] is Kind.BOOLEAN


def test_xlsx(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["sku", "qty", "price", "name", None])
    sheet.append(["007", 17, 19.99, "Brake, bleeder", "x"])
    sheet.append(["008", 3, 0.5, None, None])
    book.save(tmp_path / "a.xlsx")
    kinds, rows = pipeline(tmp_path / "a.xlsx", "xlsx")
    assert list(kinds) == ["sku", "qty", "price", "name", "column_5"]
    assert rows[0] == {
        "sku": "007",
        "qty": 17,
        "price": Decimal("19.99"),
        "name": "Brake, bleeder",
        "column_5": "x",
    }
    assert rows[1]["name"] is None


def test_parquet(tmp_path):
    table = pa.table({"id": pa.array([1, 2**62], pa.int64()), "name": ["a", None], "ok": [True, False]})
    pq.write_table(table, tmp_path / "a.parquet")
    kinds, rows = pipeline(tmp_path / "a.parquet", "parquet")
    assert rows == [{"id": 1, "name": "a", "ok": True}, {"id": 2**62, "name": None, "ok": False}]
    assert kinds["id"] is Kind.INTEGER


@pytest.mark.parametrize("name", ["run.log", "export.db", "page.html", "runtime.bin", "report.pdf", None])
def test_non_data_files_have_no_format(name):
    assert format_of(name) is None


def test_record_writer_writes_exact_numbers():
    out = io.StringIO()
    writer = RecordWriter("s", out)
    writer.write(
        {"k": 1},
        ["a", "b"],
        [[Decimal("12345678901234567.891"), None], ["007", "x"]],
        "2025-01-01T00:00:00Z",
    )
    lines = [json.loads(line, parse_float=Decimal) for line in out.getvalue().splitlines()]
    assert lines[0] == {
        "type": "RECORD",
        "stream": "s",
        "record": {"k": 1, "a": Decimal("12345678901234567.891"), "b": "007"},
        "time_extracted": "2025-01-01T00:00:00Z",
    }
    assert lines[1]["record"] == {"k": 1, "a": None, "b": "x"}


def test_the_fast_writer_writes_a_number_with_the_digits_of_its_cell():
    texts = ["12.50", "-0.0", "1e5", "12345678901234567890.123456789", None, "7"]
    values = json_values(pa.array(texts), Kind.NUMBER, len(texts))
    out = io.StringIO()
    RecordWriter("s", out).write({}, ["n"], [values], "t")
    written = [line.split('"record":{"n":')[1].split("}")[0] for line in out.getvalue().splitlines()]
    assert written == ["12.50", "-0.0", "1e5", "12345678901234567890.123456789", "null", "7"]
    assert json_values(None, Kind.NUMBER, 2) == [msgspec.Raw(b"null")] * 2


@pytest.mark.parametrize("kind", list(Kind))
def test_fast_and_sdk_values_are_equal_numbers_and_the_same_text(kind):
    texts = {
        Kind.NULL: [None, None],
        Kind.BOOLEAN: ["TRUE", "false"],
        Kind.INTEGER: ["-9223372036854775808", "0"],
        Kind.NUMBER: ["1.50", "-2e-7"],
        Kind.DATE: ["2025-01-31", None],
        Kind.DATETIME: ["2025-01-31T10:00:00+02:00", None],
        Kind.STRING: ["007", 'a "b"\n'],
    }[kind]
    out = io.StringIO()
    RecordWriter("s", out).write({}, ["c"], [json_values(pa.array(texts, pa.string()), kind, 2)], "t")
    fast = [json.loads(line, parse_float=Decimal)["record"]["c"] for line in out.getvalue().splitlines()]
    assert fast == python_values(pa.array(texts, pa.string()), kind, 2)


@pytest.mark.parametrize("names", [["a", "b"], ['we"ird', "b"], ["a\nb", "é"]])
def test_record_writer_struct_and_dict_paths_agree(names):
    columns = [[1, None, Decimal("1.50")], ["x\ny", "", '"q"']]
    out = io.StringIO()
    RecordWriter("s", out).write({"f": "n", "r": 7}, names, columns, "t")
    records = [json.loads(line, parse_float=Decimal)["record"] for line in out.getvalue().splitlines()]
    expected = [
        {"f": "n", "r": 7, **dict(zip(names, row, strict=True))} for row in zip(*columns, strict=True)
    ]
    assert records == expected
