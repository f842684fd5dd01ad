"""The demo's data file: what it may say (a typo fails when it is loaded, naming the place) and that its names
are the API's. What it seeds is fingerprinted in test_emulator_demo_data.py."""

from __future__ import annotations

import json

import pytest

from sequentum_emulator import dataset
from sequentum_emulator.demo import (
    DATA,
    DEMO_FILE,
    FILE_TYPES,
    RUN_STATUSES,
    DemoData,
    DemoDataError,
    load,
    seed_section,
)

DROP = object()
STEAM_RUN = ("demo", "agents", 0, "runs", 0)
STEAM_CSV = (*STEAM_RUN, "outputs", 0)
FEED_XML = ("realities", "agents", 2, "runs", 0, "outputs", 0)
STEAM_SCHEDULE = ("demo", "agents", 0, "schedules", 0)  # a CRON schedule
QUARTERLY = ("demo", "agents", 1, "schedules", 0)  # a RunEvery schedule


@pytest.mark.parametrize(
    ("path", "key", "value", "message"),
    [
        (STEAM_CSV, "rwos", 50, "demo.agents[0] (steam).runs[0].outputs[0]: unknown key(s) ['rwos']"),
        (STEAM_CSV, "rows", DROP, "outputs[0]: missing key(s) ['rows']"),
        (STEAM_CSV, "rows", "50", "outputs[0].rows: expected int, not '50'"),
        (STEAM_CSV, "rows", True, "outputs[0].rows: expected int, not True"),
        (STEAM_CSV, "table", "stream", "outputs[0].table: 'stream' is none of"),
        (STEAM_CSV, "render", "cvs", "outputs[0].render: 'cvs' is none of csv, tsv, json, xml"),
        (STEAM_CSV, "root", "jobs", "unknown key(s) ['root']"),  # an XML option on a CSV
        (STEAM_CSV, "shipped", "acdelco_parts.csv", "needs exactly one of table, shipped, opaque, made_by"),
        (STEAM_CSV, "table", DROP, "needs exactly one of table, shipped, opaque, made_by, has none"),
        (STEAM_CSV, "file_type", "Delivered", "outputs[0].file_type: 'Delivered' is none of"),
        (("demo", "agents", 1, "runs", 2, "outputs", 0), "shipped", "prix.csv", "no file 'prix.csv'"),
        (("demo", "agents", 0, "runs", 2, "outputs", 1), "opaque", "zip", "'zip' is none of sqlite"),
        (STEAM_RUN, "status", "Complete", "runs[0].status: 'Complete' is none of Invalid, Running"),
        (STEAM_RUN, "waiting_retry", "yes", "runs[0].waiting_retry: expected bool"),
        (("demo", "agents", 0), "start_URL", "https://x", "demo.agents[0]: unknown key(s) ['start_URL']"),
        (("demo", "agents", 0), "kind", "stem", "(steam).kind: 'stem' is none of"),
        (("demo", "agents", 0), "versions", [], "the first version creates the agent"),
        (("demo", "agents", 0, "versions", 0), "by", "Alex", "versions[0]: unknown key(s) ['by']"),
        (("demo", "agents", 0, "fields"), "proxyPool", 5, "(steam).fields: 'proxyPool' is none of"),
        (("demo", "agents", 0, "fields"), "startUrl", "x", "(steam).fields: 'startUrl' is none of"),
        (("demo", "spaces", 0), "retention", 1, "demo.spaces[0]: unknown key(s) ['retention']"),
        (("demo",), "agent", [], "demo: unknown key(s) ['agent']"),
        ((), "reality", {}, "demo.json: unknown key(s) ['reality']"),
        (FEED_XML, "attributes", ["id", 1], "outputs[0].attributes: expected strings only"),
        (FEED_XML, "quote_strings", True, "unknown key(s) ['quote_strings']"),  # a CSV option on XML
        (
            ("realities", "agents", 0, "runs", 0, "outputs", 0),
            "made_by",
            "shop",
            "'shop' is none of shop_files",
        ),
        (("realities", "agents", 0, "runs", 0, "outputs", 0), "name", "x.csv", "unknown key(s) ['name']"),
        (
            STEAM_SCHEDULE,
            "type",
            "Cron",
            "(steam).schedules[0].type: 'Cron' is none of RunOnce, RunEvery, CRON",
        ),
        (STEAM_SCHEDULE, "cron", DROP, "(steam).schedules[0]: missing key(s) ['cron']"),
        (STEAM_SCHEDULE, "every", 2, "schedules[0]: unknown key(s) ['every']"),  # RunEvery's key on a CRON
        (STEAM_SCHEDULE, "enabled", "yes", "schedules[0].enabled: expected bool"),
        (QUARTERLY, "period", "Month", "schedules[0].period: 'Month' is none of Minutes, Hours"),
        (QUARTERLY, "every", DROP, "schedules[0]: missing key(s) ['every']"),
        (("demo", "agents", 0), "schedule", [], "demo.agents[0]: unknown key(s) ['schedule']"),
    ],
)
def test_a_typo_in_the_data_fails_when_loaded(path, key, value, message):
    data = json.loads((DATA / DEMO_FILE).read_text(encoding="utf-8"))
    target = data
    for step in path:
        target = target[step]
    if value is DROP:
        del target[key]
    else:
        target[key] = value
    with pytest.raises(DemoDataError) as raised:
        load(json.dumps(data))
    assert message in str(raised.value)


def test_notes_are_allowed_anywhere_and_change_nothing():
    data = json.loads((DATA / DEMO_FILE).read_text(encoding="utf-8"))
    data["demo"]["agents"][0]["runs"][0]["outputs"][0]["notes"] = "a note"
    data["demo"]["spaces"][0]["notes"] = "another"

    def seeded(data: DemoData) -> list[tuple]:
        ds = dataset.Dataset()
        seed_section(ds, data.demo)
        return [(f.run_id, f.name, f.file_type, f.data) for f in ds.files.values()]

    assert seeded(load(json.dumps(data))) == seeded(load())


def test_status_and_file_type_names_are_the_datasets_codes():
    statuses = ("RUNNING", "QUEUING", "FAILURE", "FAILED", "STOPPED", "COMPLETED", "SUCCESS")
    assert {name: getattr(dataset, name) for name in statuses} == {
        name: RUN_STATUSES[name.capitalize()] for name in statuses
    }
    assert FILE_TYPES["DeliveredFile"] == dataset.DATA_FILE
    assert FILE_TYPES["InternalExportFiles"] == dataset.INTERNAL_EXPORT_FILE
    assert FILE_TYPES["InternalRuntimeFiles"] == dataset.INTERNAL_RUNTIME_FILE
    assert FILE_TYPES["LogText"] == dataset.LOG_FILE
