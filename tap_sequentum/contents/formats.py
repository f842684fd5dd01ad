"""Readers that turn a downloaded run file into Arrow record batches of text columns.

Every reader yields batches whose columns are all strings (or null for empty cells) under unique,
deterministic names, so inference and conversion see one shape whatever the format. Reading is
streaming where the format allows it (CSV, TSV, JSON Lines, Parquet), so memory stays flat as files grow.
"""

from __future__ import annotations

import base64
import codecs
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from tap_sequentum.contents.columns import ROWS_PER_BATCH, batched_rows, cell_text, text_batch, unique_names
from tap_sequentum.contents.dialect import ReadOptions
from tap_sequentum.contents.source import Source, as_source
from tap_sequentum.contents.xml import read_xml
from tap_sequentum.domain import file_extension
from tap_sequentum.errors import MalformedFileError
from tap_sequentum.settings import AUTO


def format_of(name: str | None) -> str | None:
    """The content format of a file from its extension, or None for files that are not data."""
    return FORMATS.get(file_extension(name) or "")


# -- CSV / TSV -------------------------------------------------------------------------------------


def read_delimited(
    source: Source, options: ReadOptions, delimiter: str | None = None
) -> Iterator[pa.RecordBatch]:
    """Stream a CSV/TSV file as text batches with pyarrow (quoted newlines, `""`, BOM and CRLF included)."""
    delimiter = delimiter or (options.delimiter if options.delimiter not in (None, AUTO) else ",")
    parse = pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    try:
        with source.open() as handle:
            header = pa_csv.open_csv(
                handle,
                read_options=pa_csv.ReadOptions(encoding=options.codec, block_size=options.block_size),
                parse_options=parse,
            ).schema.names
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            return
        raise MalformedFileError(_arrow_message(exc)) from None
    names = unique_names(header)
    try:
        handle = source.open()
        reader = pa_csv.open_csv(
            handle,
            read_options=pa_csv.ReadOptions(
                encoding=options.codec,
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
        with handle:
            yield from reader
    except pa.ArrowInvalid as exc:
        raise MalformedFileError(_arrow_message(exc)) from None


def _arrow_message(exc: Exception) -> str:
    """Arrow's message, first line only and cut short: it may quote a whole (huge) cell."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0].replace("CSV parse error: ", "")
    return text if len(text) <= 300 else text[:300] + "..."


# -- JSON, JSON Lines ------------------------------------------------------------------------------


def _loads(text: str | bytes) -> Any:
    # Decimal keeps every digit of 12345678901234567.891; Python ints are exact already.
    return json.loads(text, parse_float=Decimal, parse_constant=str)


def read_json(source: Source, options: ReadOptions) -> Iterator[pa.RecordBatch]:
    """A JSON array of objects, or the `{"<agent name>": [rows]}` shape the synchronous start returns."""
    try:
        with source.open() as handle:
            data = _loads(handle.read().decode(_text_encoding(options)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedFileError(f"not valid JSON: {exc}") from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        data = [row for rows in lists for row in rows] if len(lists) == len(data) and lists else [data]
    if not isinstance(data, list):
        raise MalformedFileError("JSON content must be an array of objects or {name: [objects]}")
    yield from batched_rows(iter(data))


def read_json_lines(source: Source, options: ReadOptions) -> Iterator[pa.RecordBatch]:
    """One JSON object per line, streamed."""

    def rows() -> Iterator[dict]:
        with io.TextIOWrapper(source.open(), encoding=_text_encoding(options), newline="\n") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield _loads(line)
                except ValueError as exc:
                    raise MalformedFileError(f"line {number} is not valid JSON: {exc}") from None

    try:
        yield from batched_rows(rows())
    except UnicodeDecodeError as exc:
        raise MalformedFileError(f"not {options.codec} text: {exc}") from None


def _text_encoding(options: ReadOptions) -> str:
    """The codec for Python-decoded text: a UTF-8 byte order mark is always accepted."""
    codec = codecs.lookup(options.codec).name
    return "utf-8-sig" if codec == "utf-8" else codec


# -- XLSX, Parquet ---------------------------------------------------------------------------------


def read_xlsx(source: Source, options: ReadOptions) -> Iterator[pa.RecordBatch]:
    """The first sheet of a workbook, streamed row by row with openpyxl's read-only mode.

    pandas.read_excel would load the whole sheet (and pandas itself costs ~40 MiB per process);
    openpyxl, which pandas uses underneath anyway, streams.
    """
    import openpyxl

    try:
        book = openpyxl.load_workbook(source.open(), read_only=True, data_only=True)
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
                    yield text_batch(chunk, names)
                    chunk = []
                raw += [None] * (len(cells) - len(names))
                names = unique_names(raw)
            chunk.append(cells + [None] * (len(names) - len(cells)))
            if len(chunk) >= ROWS_PER_BATCH:
                yield text_batch(chunk, names)
                chunk = []
        if chunk:
            yield text_batch(chunk, names)
    finally:
        book.close()


def read_parquet(source: Source, options: ReadOptions) -> Iterator[pa.RecordBatch]:
    """Parquet batches with every column rendered as text (ints exact, timestamps ISO 8601)."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(source.open())
    except (pa.ArrowInvalid, OSError) as exc:
        raise MalformedFileError(f"not a readable Parquet file: {exc}") from None
    names = unique_names(parquet.schema_arrow.names)
    batches = parquet.iter_batches(batch_size=ROWS_PER_BATCH)
    while True:
        try:
            batch = next(batches, None)
        except OSError as exc:  # pyarrow reports a corrupt page or footer as an IOError
            raise MalformedFileError(f"not a readable Parquet file: {exc}") from None
        if batch is None:
            return
        yield pa.RecordBatch.from_arrays([_as_text(column) for column in batch.columns], names=names)


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


Reader = Callable[[Source, ReadOptions], Iterator[pa.RecordBatch]]


def _tsv(source: Source, options: ReadOptions) -> Iterator[pa.RecordBatch]:
    return read_delimited(source, options, delimiter="\t")


READERS: dict[str, Reader] = {
    "csv": read_delimited,
    "xml": read_xml,
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
    "xml": "xml",
}


#: What the parsing libraries raise for content they cannot read (not for a failing disk: OSError
#: propagates, so a full temp_dir is never mistaken for a bad file and skipped).
_PARSE_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError, KeyError,
                 IndexError, TypeError, EOFError, zipfile.BadZipFile)  # fmt: skip


def read_batches(
    source: Source | Path | bytes, fmt: str, options: ReadOptions | None = None
) -> Iterator[pa.RecordBatch]:
    """All batches of a file in the given format (see `format_of`); unreadable content raises
    `MalformedFileError`, whichever library found it."""
    try:
        yield from READERS[fmt](as_source(source), options or ReadOptions())
    except MalformedFileError:
        raise
    except _PARSE_ERRORS as exc:
        raise MalformedFileError(f"{type(exc).__name__}: {_arrow_message(exc)}") from None
