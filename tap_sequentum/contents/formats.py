"""Readers that turn a downloaded run file into Arrow record batches of text columns.

Every reader yields batches whose columns are all strings (or null for empty cells) under unique,
deterministic names, so inference and conversion see one shape whatever the format. Reading is
streaming where the format allows it (CSV, TSV, JSON Lines, Parquet), so memory stays flat as files grow.
"""

from __future__ import annotations

import base64
import codecs
import datetime as dt
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import simplejson

from tap_sequentum.contents.schema import METADATA
from tap_sequentum.domain import file_extension
from tap_sequentum.errors import MalformedFileError

#: Names our own metadata columns use; a data column with one of these names is renamed.
RESERVED = tuple(METADATA)

_ROWS_PER_BATCH = 50_000


@dataclass(frozen=True)
class ReadOptions:
    """How to read files: text encoding (CSV/TSV) and Arrow block size.

    Small blocks keep memory flat (pyarrow reads ahead dozens of blocks); a cell larger than a block
    is still read correctly.
    """

    encoding: str = "utf-8"
    block_size: int = 256 << 10


def unique_names(raw: Sequence[Any]) -> list[str]:
    """Deterministic unique column names: blanks become `column_<n>`, repeats get `_2`, `_3`...

    Names are kept exactly as in the header otherwise; the metadata names are never reused by data.
    """
    taken: set[str] = set(RESERVED)
    wanted = [str(name) if name is not None and str(name).strip() else "" for name in raw]
    present = set(wanted)
    out: list[str] = []
    for position, name in enumerate(wanted, start=1):
        base = name or f"column_{position}"
        candidate, n = base, 1
        while candidate in taken or (candidate != name and candidate in present):
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        out.append(candidate)
    return out


def format_of(name: str | None) -> str | None:
    """The content format of a file from its extension, or None for files that are not data."""
    return FORMATS.get(file_extension(name) or "")


# -- CSV / TSV -------------------------------------------------------------------------------------


def read_delimited(path: Path, options: ReadOptions, delimiter: str = ",") -> Iterator[pa.RecordBatch]:
    """Stream a CSV/TSV file as text batches with pyarrow (quoted newlines, `""`, BOM and CRLF included)."""
    parse = pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    try:
        header = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(encoding=options.encoding, block_size=options.block_size),
            parse_options=parse,
        ).schema.names
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            return
        raise MalformedFileError(_arrow_message(exc)) from None
    names = unique_names(header)
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(
                encoding=options.encoding,
                block_size=options.block_size,
                column_names=names,
                skip_rows_after_names=1,
            ),
            parse_options=parse,
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                # Only truly empty cells are null: "NA", "null", "N/A" are data.
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        yield from reader
    except pa.ArrowInvalid as exc:
        raise MalformedFileError(_arrow_message(exc)) from None


def _arrow_message(exc: Exception) -> str:
    """Arrow's message, first line only and cut short: it may quote a whole (huge) cell."""
    text = str(exc).strip().splitlines()[0].replace("CSV parse error: ", "")
    return text if len(text) <= 300 else text[:300] + "..."


# -- JSON, JSON Lines ------------------------------------------------------------------------------


def cell_text(value: Any) -> str | None:
    """A JSON/XLSX value as the text inference sees; numbers keep their exact text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return None if math.isnan(value) else repr(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return simplejson.dumps(value, ensure_ascii=False, separators=(",", ":"), use_decimal=True)
    return str(value)


def _rows_to_batch(rows: list[dict], columns: dict[str, None]) -> pa.RecordBatch:
    names = list(columns)
    unique = unique_names(names)
    # An empty string is an empty cell, as in CSV.
    arrays = [
        pa.array([cell_text(row.get(name)) or None for row in rows], type=pa.string()) for name in names
    ]
    return pa.RecordBatch.from_arrays(arrays, names=unique)


def _batched_rows(rows: Iterator[dict]) -> Iterator[pa.RecordBatch]:
    columns: dict[str, None] = {}
    chunk: list[dict] = []
    for row in rows:
        if not isinstance(row, dict):
            row = {"value": row}
        for key in row:
            columns.setdefault(key, None)
        chunk.append(row)
        if len(chunk) >= _ROWS_PER_BATCH:
            yield _rows_to_batch(chunk, columns)
            chunk = []
    if chunk:
        yield _rows_to_batch(chunk, columns)


def _loads(text: str | bytes) -> Any:
    # Decimal keeps every digit of 12345678901234567.891; Python ints are exact already.
    return json.loads(text, parse_float=Decimal, parse_constant=str)


def read_json(path: Path, options: ReadOptions) -> Iterator[pa.RecordBatch]:
    """A JSON array of objects, or the `{"<agent name>": [rows]}` shape the synchronous start returns."""
    try:
        data = _loads(path.read_bytes().decode(_text_encoding(options)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedFileError(f"not valid JSON: {exc}") from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        data = [row for rows in lists for row in rows] if len(lists) == len(data) and lists else [data]
    if not isinstance(data, list):
        raise MalformedFileError("JSON content must be an array of objects or {name: [objects]}")
    yield from _batched_rows(iter(data))


def read_json_lines(path: Path, options: ReadOptions) -> Iterator[pa.RecordBatch]:
    """One JSON object per line, streamed."""

    def rows() -> Iterator[dict]:
        with path.open("r", encoding=_text_encoding(options), newline="\n") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield _loads(line)
                except ValueError as exc:
                    raise MalformedFileError(f"line {number} is not valid JSON: {exc}") from None

    try:
        yield from _batched_rows(rows())
    except UnicodeDecodeError as exc:
        raise MalformedFileError(f"not {options.encoding} text: {exc}") from None


def _text_encoding(options: ReadOptions) -> str:
    """The codec for Python-decoded text: a UTF-8 byte order mark is always accepted."""
    codec = codecs.lookup(options.encoding or "utf-8").name
    return "utf-8-sig" if codec == "utf-8" else codec


# -- XLSX, Parquet ---------------------------------------------------------------------------------


def read_xlsx(path: Path, options: ReadOptions) -> Iterator[pa.RecordBatch]:
    """The first sheet of a workbook, streamed row by row with openpyxl's read-only mode.

    pandas.read_excel would load the whole sheet (and pandas itself costs ~40 MiB per process);
    openpyxl, which pandas uses underneath anyway, streams.
    """
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise MalformedFileError(f"not a readable XLSX workbook: {exc}") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True) if book.worksheets else iter(())
        header = next(rows, None)
        if header is None:
            return
        raw = [cell_text(value) for value in header]
        names = unique_names(raw)
        chunk: list[list[str | None]] = []
        for row in rows:
            cells = [cell_text(value) or None for value in row]
            if not any(cells):
                continue  # formatting-only rows at the end of a sheet
            if len(cells) > len(names):
                if chunk:
                    yield _text_batch(chunk, names)
                    chunk = []
                raw += [None] * (len(cells) - len(names))
                names = unique_names(raw)
            chunk.append(cells + [None] * (len(names) - len(cells)))
            if len(chunk) >= _ROWS_PER_BATCH:
                yield _text_batch(chunk, names)
                chunk = []
        if chunk:
            yield _text_batch(chunk, names)
    finally:
        book.close()


def _text_batch(rows: list[list[str | None]], names: list[str]) -> pa.RecordBatch:
    columns = [pa.array([row[i] for row in rows], type=pa.string()) for i in range(len(names))]
    return pa.RecordBatch.from_arrays(columns, names=names)


def read_parquet(path: Path, options: ReadOptions) -> Iterator[pa.RecordBatch]:
    """Parquet batches with every column rendered as text (ints exact, timestamps ISO 8601)."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise MalformedFileError(f"not a readable Parquet file: {exc}") from None
    names = unique_names(parquet.schema_arrow.names)
    for batch in parquet.iter_batches(batch_size=_ROWS_PER_BATCH):
        arrays = [_as_text(column) for column in batch.columns]
        yield pa.RecordBatch.from_arrays(arrays, names=names)


def _as_text(column: pa.Array) -> pa.Array:
    """A typed Parquet column as the text inference reads, exactly: Arrow's own casts where they
    are exact (integers, decimals, floats in shortest form, booleans, dates), ISO 8601 for
    timestamps (nanoseconds and zone kept), base64 for binary, JSON for nested values."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            return pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
        text = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S%z")
        return pc.replace_substring_regex(text, pattern=r"([+-][0-9]{2})([0-9]{2})$", replacement=r"\1:\2")
    if any(
        check(kind)
        for check in (
            pa.types.is_string,
            pa.types.is_large_string,
            pa.types.is_integer,
            pa.types.is_decimal,
            pa.types.is_floating,
            pa.types.is_boolean,
            pa.types.is_date,
        )
    ):
        return column.cast(pa.string())
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return pa.array(
            [None if v is None else base64.b64encode(v).decode("ascii") for v in column.to_pylist()],
            type=pa.string(),
        )
    return pa.array([cell_text(v) for v in column.to_pylist()], type=pa.string())


Reader = Callable[[Path, ReadOptions], Iterator[pa.RecordBatch]]


def _tsv(path: Path, options: ReadOptions) -> Iterator[pa.RecordBatch]:
    return read_delimited(path, options, delimiter="\t")


READERS: dict[str, Reader] = {
    "csv": read_delimited,
    "tsv": _tsv,
    "json": read_json,
    "jsonl": read_json_lines,
    "xlsx": read_xlsx,
    "parquet": read_parquet,
}

#: File extension -> format name.
FORMATS: dict[str, str] = {
    "csv": "csv",
    "tsv": "tsv",
    "tab": "tsv",
    "json": "json",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "xlsx": "xlsx",
    "parquet": "parquet",
}


def read_batches(path: Path, fmt: str, options: ReadOptions | None = None) -> Iterator[pa.RecordBatch]:
    """All batches of a file in the given format (see `format_of`)."""
    return READERS[fmt](path, options or ReadOptions())
