"""Sequentum's enumerations and timestamps."""

from __future__ import annotations

import pytest

from tap_sequentum.domain import (
    file_extension,
    file_type_name,
    is_finished,
    list_hint,
    normalize_timestamp,
    status_code,
    status_name,
)


@pytest.mark.parametrize(
    ("status", "name", "finished"),
    [
        (0, "Invalid", False),
        (1, "Running", False),
        (2, "Exporting", False),
        (3, "Starting", False),
        (4, "Queuing", False),
        (5, "Stopping", False),
        (6, "Failure", True),
        (7, "Failed", True),
        (8, "Stopped", True),
        (9, "Completed", True),
        (10, "Success", True),
        (11, "Skipped", True),
        (12, "Waiting", False),
        (13, "UpdatingDataSet", False),
        (99, None, False),
        (None, None, False),
        ("9", "Completed", True),
        ("completed", "Completed", True),
    ],
)
def test_status_table(status, name, finished):
    assert status_name(status) == name
    assert is_finished(status) is finished


def test_status_code_rejects_booleans():
    assert status_code(True) is None


@pytest.mark.parametrize(
    ("code", "name"), [(1, "DeliveredFile"), (6, "LogText"), (8, "InternalContentCache"), (42, None)]
)
def test_file_types(code, name):
    assert file_type_name(code) == name


@pytest.mark.parametrize(
    ("name", "ext"),
    [
        ("test.csv", "csv"),
        ("Report.CSV", "csv"),
        ("a.b.tsv", "tsv"),
        ("noext", None),
        (None, None),
        (".hidden", None),
    ],
)
def test_extension(name, ext):
    assert file_extension(name) == ext


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0001-01-01T00:00:00", None),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
        ("not a date", None),
        ("2024-12-27T11:39:53.008502Z", "2024-12-27T11:39:53.008502Z"),
        ("2024-12-27T11:39:53.0085021Z", "2024-12-27T11:39:53.008502Z"),
        ("2024-12-27T11:39:53", "2024-12-27T11:39:53.000000Z"),
        ("2024-12-27T13:39:53+02:00", "2024-12-27T11:39:53.000000Z"),
    ],
)
def test_normalize_timestamp(value, expected):
    assert normalize_timestamp(value) == expected


@pytest.mark.parametrize(
    ("summary", "hint"),
    [
        ({"lastActivity": None, "status": 9, "version": 3}, None),  # the reference page's shape: no hint
        ({"status": 9}, None),
        ({"lastActivity": "0001-01-01T00:00:00", "status": 9}, None),  # the .NET sentinel is no date
        (
            {"lastActivity": "2026-01-02T03:04:05Z", "status": 9, "version": 3, "updated": None},
            "2026-01-02T03:04:05.000000Z|9|3|",
        ),
        (  # the same instant written another way is the same hint
            {"lastActivity": "2026-01-02T03:04:05.0000000", "status": 9, "version": 3},
            "2026-01-02T03:04:05.000000Z|9|3|",
        ),
    ],
)
def test_list_hint(summary, hint):
    assert list_hint(summary) == hint


def test_list_hint_changes_with_each_field():
    base = {
        "lastActivity": "2026-01-02T03:04:05Z",
        "status": 9,
        "version": 3,
        "updated": "2026-01-01T00:00:00Z",
    }
    changed = [
        {**base, "lastActivity": "2026-01-03T00:00:00Z"},
        {**base, "status": 6},
        {**base, "version": 4},
        {**base, "updated": "2026-01-02T00:00:00Z"},
    ]
    assert len({list_hint(base), *map(list_hint, changed)}) == 5
