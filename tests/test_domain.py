"""Sequentum's enumerations and timestamps."""

from __future__ import annotations

import pytest

from tap_sequentum.domain import (
    file_extension,
    file_type_name,
    is_finished,
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
