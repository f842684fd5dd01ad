"""Sequentum's enumerations and timestamps."""

from __future__ import annotations

import pytest

from tap_sequentum.domain import (
    RUN_EVERY_PERIODS,
    SCHEDULE_TYPES,
    enum_code,
    file_extension,
    file_type_name,
    free_form,
    is_finished,
    list_hint,
    normalize_timestamp,
    run_every_period,
    schedule_type,
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


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (3, 3),
        ("3", 3),
        (3.0, 3),
        (3.5, None),
        ("CRON", 3),
        ("cron", 3),
        (" RunEvery ", 2),
        ("runonce", 1),
        ("Running", None),  # a run status's name is no schedule type
        ("Weekly", None),
        (None, None),
        (True, None),
        (0, 0),  # a number is kept, known or not
        (7, 7),
    ],
)
def test_enum_code_reads_numbers_and_names(value, code):
    assert enum_code(value, SCHEDULE_TYPES) == code


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, (1, "RunOnce")),
        (2, (2, "RunEvery")),
        (3, (3, "CRON")),
        ("CRON", (3, "CRON")),  # older Sequentum versions send the name
        ("Cron", (3, "CRON")),
        ("runEvery", (2, "RunEvery")),
        ("3", (3, "CRON")),
        (0, (0, None)),  # "None" in Sequentum's requests: the code stays, no name
        (9, (9, None)),
        ("Weekly", (None, "Weekly")),  # an unknown name stays as text
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_schedule_type(value, expected):
    assert schedule_type(value) == expected


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (1, 2, (1, "Minutes")),
        (2, 2, (2, "Hours")),
        (3, 2, (3, "Days")),
        (4, 2, (4, "Weeks")),
        (5, 2, (5, "Months")),
        ("Hours", 2, (2, "Hours")),
        ("hour", 2, (2, "Hours")),
        ("DAYS", 2, (3, "Days")),
        ("5", 2, (5, "Months")),
        (0, 2, (1, "Minutes")),  # one doc line numbers periods from 0: a 0 can only be its minutes
        (0, 3, (None, None)),  # a CRON schedule's 0 is no period
        (0, None, (None, None)),
        (None, 2, (None, None)),
        (6, 2, (6, None)),
        ("fortnight", 2, (None, None)),
        (3, 3, (3, "Days")),  # sent on another type: read the same way
    ],
)
def test_run_every_period(value, kind, expected):
    assert run_every_period(value, kind) == expected


def test_the_enumerations_are_sequentums():
    assert SCHEDULE_TYPES == {1: "RunOnce", 2: "RunEvery", 3: "CRON"}
    assert list(RUN_EVERY_PERIODS.values()) == ["Minutes", "Hours", "Days", "Weeks", "Months"]


@pytest.mark.parametrize(
    ("value", "as_text", "expected"),
    [
        ('{"market": "XPAR"}', False, {"market": "XPAR"}),  # a JSON object sent as its text
        ({"market": "XPAR"}, False, {"market": "XPAR"}),
        (' {"a": [1, 2]}', False, {"a": [1, 2]}),
        ("{not json", False, "{not json"),  # text that is not JSON stays text
        ("[1, 2]", False, "[1, 2]"),  # only an object is parsed
        ("plain", False, "plain"),
        ("", False, ""),
        (None, False, None),
        ([{"name": "q"}], False, [{"name": "q"}]),
        ({"market": "XPAR"}, True, '{"market":"XPAR"}'),  # Parquet batches: compact JSON text
        ('{"q": "é"}', True, '{"q":"é"}'),
        ([1, 2], True, "[1,2]"),
        ({}, True, "{}"),
        ("plain", True, "plain"),
        (None, True, None),
    ],
)
def test_free_form(value, as_text, expected):
    assert free_form(value, as_text=as_text) == expected
