"""Rows of Python values -> Arrow batches of text columns under unique, deterministic names.

Every reader ends here (or does the same with Arrow itself), so inference and conversion see one shape
whatever the format: all columns strings, empty cells null, names unique and never a metadata name.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
import simplejson

from tap_sequentum.contents.schema import METADATA, RETIRED

#: Names our own metadata columns use (or used); a data column with one of these names is renamed.
RESERVED = (*METADATA, *RETIRED)
ROWS_PER_BATCH = 50_000


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


def rows_to_batch(rows: list[dict], columns: dict[str, None]) -> pa.RecordBatch:
    names = list(columns)
    unique = unique_names(names)
    # An empty string is an empty cell, as in CSV.
    arrays = [
        pa.array([cell_text(row.get(name)) or None for row in rows], type=pa.string()) for name in names
    ]
    return pa.RecordBatch.from_arrays(arrays, names=unique)


def batched_rows(rows: Iterator[dict]) -> Iterator[pa.RecordBatch]:
    columns: dict[str, None] = {}
    chunk: list[dict] = []
    for row in rows:
        if not isinstance(row, dict):
            row = {"value": row}
        for key in row:
            columns.setdefault(key, None)
        chunk.append(row)
        if len(chunk) >= ROWS_PER_BATCH:
            yield rows_to_batch(chunk, columns)
            chunk = []
    if chunk:
        yield rows_to_batch(chunk, columns)


def text_batch(rows: list[list[str | None]], names: list[str]) -> pa.RecordBatch:
    columns = [pa.array([row[i] for row in rows], type=pa.string()) for i in range(len(names))]
    return pa.RecordBatch.from_arrays(columns, names=names)
