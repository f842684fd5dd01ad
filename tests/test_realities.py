"""What Sequentum really delivers (issue 8), synced over HTTP from the sandbox's reality agents.

Export tables as streams, Windows-1252 / UTF-16 / semicolon files, XML, restarted runs, late runs, files
that disappear and files that cannot be read: every cell exact, nothing lost, nothing twice.
"""

from __future__ import annotations

import codecs
import csv
import io
import json

import pytest
from support import config_for, run_cli, running, sync, write_json

from sequentum_emulator.demo import shop_files
from tap_sequentum.client import SequentumClient
from tap_sequentum.contents.formats import unique_names
from tap_sequentum.tap import FIXED_STREAM_TYPES

SHOP, BAKERY, FEED = 1007, 1008, 1009
PRODUCTS, REVIEWS = "shop_crawler__products", "shop_crawler__reviews"
BAKERY_STREAM = "boulangerie_dupain_tarifs__tarifs"


@pytest.fixture(scope="module")
def realities():
    """The demo plus the reality agents; tests here must not change it."""
    yield from running(realities=True)


@pytest.fixture
def fresh():
    yield from running(realities=True)


@pytest.fixture(scope="module")
def discovered(realities, tmp_path_factory):
    config = write_json(tmp_path_factory.mktemp("cat") / "c.json", config_for(realities))
    proc = run_cli(["--config", str(config), "--discover"])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def synced(realities, discovered):
    return sync(config_for(realities), catalog=discovered)


def source_rows(
    sandbox, agent_id: int, run_id: int, file_id: int, encoding: str, delimiter: str
) -> list[dict]:
    """The file as the sandbox serves it, parsed independently with the csv module."""
    buffer = io.BytesIO()
    SequentumClient(sandbox.api_key, sandbox.base_url).download(agent_id, run_id, file_id, buffer)
    text = buffer.getvalue().decode(encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = unique_names(next(reader))
    return [dict(zip(header, line, strict=True)) for line in reader]


def same(text: str, value: object) -> bool:
    if text == "":
        return value is None
    return str(value).lower() == text.lower() if isinstance(value, bool) else str(value) == text


def assert_exact(records: list[dict], sources: dict[int, list[dict]]) -> int:
    checked = 0
    by_file: dict[int, list[dict]] = {}
    for record in records:
        by_file.setdefault(record["_sdc_file_id"], []).append(record)
    assert set(by_file) == set(sources)
    for file_id, rows in by_file.items():
        assert [r["_sdc_row_number"] for r in rows] == list(range(1, len(sources[file_id]) + 1))
        for record, source in zip(rows, sources[file_id], strict=True):
            for column, cell in source.items():
                assert same(cell, record[column]), (file_id, column, cell, record[column])
                checked += 1
    return checked


def files_of(sandbox, agent_id: int) -> list[tuple[int, dict]]:
    client = SequentumClient(sandbox.api_key, sandbox.base_url)
    return [
        (run["id"], item)
        for run in client.list_runs(agent_id)
        for item in client.list_files(agent_id, run["id"])
        if item["fileType"] == 1
    ]


# -- export tables ------------------------------------------------------------------------------------


def test_two_export_tables_are_two_streams_with_only_their_columns(realities, discovered, synced):
    names = {s["tap_stream_id"] for s in discovered["streams"]}
    assert {PRODUCTS, REVIEWS} <= names and "shop_crawler" not in names
    properties = {s["tap_stream_id"]: set(s["schema"]["properties"]) for s in discovered["streams"]}
    products, reviews = properties[PRODUCTS], properties[REVIEWS]
    assert "title" in products and "title" not in reviews
    assert "stars" in reviews and "stars" not in products
    for stream, prefix in ((PRODUCTS, "Products"), (REVIEWS, "Reviews")):
        sources = {
            item["id"]: source_rows(realities, SHOP, run_id, item["id"], "utf-8-sig", ",")
            for run_id, item in files_of(realities, SHOP)
            if item["name"].startswith(prefix)
        }
        assert len(sources) == 4  # decorated names (Products_20260105_083000.csv, Reviews_<run>.csv) included
        assert assert_exact(synced.records[stream], sources) > 100
    skus = [r["sku"] for r in synced.records[PRODUCTS]]
    assert any(s.startswith("0") for s in skus)  # leading zeros kept


def test_merged_export_tables_hold_every_agents_rows(realities, tmp_path):
    config = config_for(realities, merge_export_tables=True)
    catalog = json.loads(
        run_cli(["--config", str(write_json(tmp_path / "c.json", config)), "--discover"]).stdout
    )
    names = {s["tap_stream_id"] for s in catalog["streams"]}
    assert {"products", "reviews", "price_monitor", "steam", "tarifs", "feed"} <= names
    result = sync(config, catalog=catalog)
    agents = {r["_sdc_agent_id"] for r in result.records["price_monitor"]}
    assert agents == {1005, 1006}  # "Price Monitor" (TSV) and "price-monitor" (JSON) share the Export Name
    keys = [(r["_sdc_file_id"], r["_sdc_row_number"]) for r in result.records["price_monitor"]]
    assert len(keys) == len(set(keys))
    # Bookkeeping is per table and agent: each agent's runs are looked at once, whatever they hold.
    state = result.state["bookmarks"]["price_monitor"]
    assert {1005, 1006} <= {p["context"]["_sdc_agent_id"] for p in state["partitions"]}


def test_a_setting_maps_irregular_file_names_to_tables(fresh):
    fresh.add_run(
        SHOP, 9, "2026-04-01T00:00:00Z", files=[("prod-export-final.csv", b"sku,title,price\n009,x,1.50\n")]
    )
    config = config_for(fresh, agent_ids=[SHOP], export_table_names={"prod-export*": "Products"})
    result = sync(config)
    file_id = next(f["id"] for f in result.records["run_files"] if f["name"] == "prod-export-final.csv")
    assert [r["title"] for r in result.records[PRODUCTS] if r["_sdc_file_id"] == file_id] == ["x"]


def test_an_agent_gaining_a_table_keeps_its_streams_names(fresh):
    agent = fresh.add_agent("Single table")["id"]
    fresh.add_run(agent, 9, "2026-04-01T00:00:00Z", files=[("single_table.csv", b"a\n1\n")])
    first = sync(config_for(fresh, agent_ids=[agent]))
    assert set(first.records) - {stream_type.name for stream_type in FIXED_STREAM_TYPES} == {"single_table"}
    fresh.add_run(
        agent, 9, "2026-04-02T00:00:00Z", files=[("single_table.csv", b"a\n2\n"), ("extra.csv", b"b\n3\n")]
    )
    second = sync(config_for(fresh, agent_ids=[agent]), state=first.state)
    assert [r["a"] for r in second.records["single_table"]] == [2]
    assert [r["b"] for r in second.records["single_table__extra"]] == [3]


# -- encodings, delimiters, XML -----------------------------------------------------------------------


def test_windows_1252_utf16_and_semicolons_arrive_exactly(realities, discovered, synced):
    schema = next(s for s in discovered["streams"] if s["tap_stream_id"] == BAKERY_STREAM)["schema"]
    assert "Prix (€)" in schema["properties"]  # the non-ASCII header survived discovery
    sources = {}
    for run_id, item in files_of(realities, BAKERY):
        raw = io.BytesIO()
        SequentumClient(realities.api_key, realities.base_url).download(BAKERY, run_id, item["id"], raw)
        encoding = "utf-16" if raw.getvalue().startswith(codecs.BOM_UTF16_LE) else "cp1252"
        sources[item["id"]] = source_rows(realities, BAKERY, run_id, item["id"], encoding, ";")
    assert assert_exact(synced.records[BAKERY_STREAM], sources) > 50
    values = {v for r in synced.records[BAKERY_STREAM] for v in r.values() if isinstance(v, str)}
    assert {"Café crème", "Thé €"} <= values


def test_the_encoding_used_is_logged(realities, tmp_path):
    config = write_json(tmp_path / "c.json", config_for(realities, agent_ids=[BAKERY]))
    proc = run_cli(["--config", str(config)])
    assert proc.returncode == 0, proc.stderr
    assert "as cp1252" in proc.stderr and "as utf-16" in proc.stderr


def test_forced_encoding_and_delimiter_settings(fresh):
    agent = fresh.add_agent("Forced")["id"]
    body = "nom|prix\nCrème|2,50\n".encode("latin-1")
    fresh.add_run(agent, 9, "2026-04-01T00:00:00Z", files=[("forced.csv", body)])
    rows = sync(config_for(fresh, agent_ids=[agent], csv_encoding="latin-1", csv_delimiter="|")).records[
        "forced"
    ]
    assert rows[0]["nom"] == "Crème" and rows[0]["prix"] == "2,50"


def test_a_late_non_utf8_byte_is_detected_again_not_fatal(fresh):
    agent = fresh.add_agent("Late bytes")["id"]
    body = (
        b"name,n\n"
        + b"".join(b"plain %d,%d\n" % (i, i) for i in range(20_000))
        + "Thé €,1\n".encode("cp1252")
    )
    fresh.add_run(agent, 9, "2026-04-01T00:00:00Z", files=[("late_bytes.csv", body)])
    rows = sync(config_for(fresh, agent_ids=[agent])).records["late_bytes"]
    assert len(rows) == 20_001 and rows[-1]["name"] == "Thé €"


def test_xml_records_are_rows_with_leaves_attributes_and_nested_json(realities, synced):
    rows = synced.records["job_board_feed__feed"]
    assert len(rows) == 24  # two runs of 12 <job> records
    first = rows[0]
    assert {"id", "remote", "tags"} <= set(first)
    assert json.loads(first["tags"])["tag"]  # nested element kept as JSON
    feeds = {f["id"] for f in synced.records["run_files"] if f["name"] == "feed.xml"}
    assert {r["_sdc_file_id"] for r in rows} == feeds
    assert "Acme <Data> Ltd" in {r["company"] for r in rows}  # escaped characters arrive unescaped
    assert {r["note"] for r in rows} >= {None, "Hybrid, 2 days on site"}  # an empty element is empty


# -- runs that change, appear late or lose their files -------------------------------------------------


def test_a_restarted_failure_is_watched_and_its_files_arrive_exactly_once(fresh):
    config = config_for(fresh, agent_ids=[SHOP])
    first = sync(config)
    waiting = next(r for r in first.records["runs"] if r["status"] == 6)
    assert waiting["tableType"] == "run"
    second = sync(config, state=first.state)
    assert second.records.get("runs", []) == []  # unchanged: nothing again
    fresh.restart_run(SHOP, waiting["id"])
    third = sync(config, state=second.state)
    assert [r["status"] for r in third.records["runs"]] == [1]
    fresh.set_run_status(SHOP, waiting["id"], 9, files=shop_files(waiting["created"]))
    fourth = sync(config, state=third.state)
    assert [(r["id"], r["status"]) for r in fourth.records["runs"]] == [(waiting["id"], 9)]
    assert {r["_sdc_run_id"] for r in fourth.records[PRODUCTS]} == {waiting["id"]}
    assert {r["_sdc_run_id"] for r in fourth.records[REVIEWS]} == {waiting["id"]}
    fifth = sync(config, state=fourth.state)
    assert fifth.records.get(PRODUCTS, []) == [] and fifth.records.get("runs", []) == []


def test_a_watched_run_that_gains_files_before_it_is_final_gives_each_file_once(fresh):
    agent = fresh.add_agent("Retrying")["id"]
    run = fresh.add_run(
        agent, 6, "2026-04-01T00:00:00Z", files=[("retrying_1.csv", b"n\n1\n")], waiting_retry=True
    )
    first = sync(config_for(fresh, agent_ids=[agent]))
    assert [r["n"] for r in first.records["retrying"]] == [1]
    fresh.restart_run(agent, run["id"])
    fresh.set_run_status(agent, run["id"], 9, files=[("retrying_2.csv", b"n\n2\n")])
    second = sync(config_for(fresh, agent_ids=[agent]), state=first.state)
    assert [r["n"] for r in second.records["retrying"]] == [2]


def test_a_restarted_run_synced_while_it_runs_again_gives_each_file_once(fresh, tmp_path):
    """With a catalog (as Meltano syncs) the stream also syncs while the restarted run is running: the
    files extracted before the restart must stay known until it ends."""
    agent = fresh.add_agent("Retrying")["id"]
    run = fresh.add_run(
        agent, 6, "2026-04-01T00:00:00Z", files=[("retrying_1.csv", b"n\n1\n")], waiting_retry=True
    )
    config = config_for(fresh, agent_ids=[agent])
    discovered = run_cli(["--config", str(write_json(tmp_path / "c.json", config)), "--discover"])
    catalog = json.loads(discovered.stdout)
    first = sync(config, catalog=catalog)
    assert [r["n"] for r in first.records["retrying"]] == [1]
    fresh.restart_run(agent, run["id"])
    running = sync(config, state=first.state, catalog=catalog)
    assert running.records.get("retrying", []) == []
    fresh.set_run_status(agent, run["id"], 9, files=[("retrying_2.csv", b"n\n2\n")])
    finished = sync(config, state=running.state, catalog=catalog)
    assert [r["n"] for r in finished.records["retrying"]] == [2]  # not retrying_1.csv's row again


def test_a_run_interrupted_then_restarted_keeps_what_it_gave_while_other_runs_go_out(fresh, tmp_path):
    """A sync stops inside a watched run; before the next one, Sequentum restarts that run and another run
    finishes. The other run is emitted meanwhile: what the restarted run gave must not be forgotten."""
    agent = fresh.add_agent("Retrying")["id"]
    run = fresh.add_run(
        agent,
        6,
        "2026-04-01T00:00:00Z",
        files=[("retrying_1.csv", b"n\n1\n"), ("retrying_2.csv", b"n\n2\n")],
        waiting_retry=True,
    )
    config = config_for(fresh, agent_ids=[agent], max_retries=0)
    config_path = write_json(tmp_path / "c.json", config)
    catalog = json.loads(run_cli(["--config", str(config_path), "--discover"]).stdout)
    second_file = max(
        f["id"] for f in SequentumClient(fresh.api_key, fresh.base_url).list_files(agent, run["id"])
    )
    fresh.add_fault(rf"/file/{second_file}/download$", "503", times=1000)
    proc = run_cli(["--config", str(config_path), "--catalog", str(write_json(tmp_path / "k.json", catalog))])
    assert proc.returncode == 1
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [m["record"]["n"] for m in messages if m["type"] == "RECORD" and m["stream"] == "retrying"] == [1]
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]

    fresh.clear_faults()
    fresh.restart_run(agent, run["id"])
    fresh.add_run(agent, 9, "2026-04-02T00:00:00Z", files=[("retrying_3.csv", b"n\n3\n")])
    meanwhile = sync(config, state=state, catalog=catalog)
    assert [r["n"] for r in meanwhile.records["retrying"]] == [3]
    fresh.set_run_status(agent, run["id"], 9, files=[("retrying_4.csv", b"n\n4\n")])
    finished = sync(config, state=meanwhile.state, catalog=catalog)
    assert [r["n"] for r in finished.records["retrying"]] == [2, 4]  # not retrying_1.csv's row again
    assert not sync(config, state=finished.state, catalog=catalog).records.get("retrying")


def test_a_run_visible_only_after_the_bookmark_passed_it_is_not_lost(fresh):
    """Within late_runs_window_minutes of the newest run (the agent list's hint does not change for it, so
    here every sync reads the runs list: runs_full_check_hours 0)."""
    agent = fresh.add_agent("Late runs")["id"]
    config = config_for(fresh, agent_ids=[agent], runs_full_check_hours=0)
    fresh.add_run(agent, 9, "2026-04-10T00:00:00Z", files=[("late_runs.csv", b"n\n10\n")])
    first = sync(config)
    fresh.add_run(agent, 9, "2026-04-09T23:30:00Z", files=[("late_runs.csv", b"n\n5\n")])  # older created
    second = sync(config, state=first.state)
    assert [r["n"] for r in second.records["late_runs"]] == [5]
    assert len(second.records["runs"]) == 1
    third = sync(config, state=second.state)
    assert third.records.get("late_runs", []) == [] and third.records.get("runs", []) == []


def test_a_file_gone_before_download_is_recorded_and_never_blocks(fresh, tmp_path):
    agent = fresh.add_agent("Vanishing")["id"]
    fresh.add_run(agent, 9, "2026-04-01T00:00:00Z", files=[("vanishing_1.csv", b"n\n1\n")])
    run = fresh.add_run(
        agent,
        9,
        "2026-04-02T00:00:00Z",
        files=[("vanishing_2.csv", b"n\n2\n"), ("vanishing_3.csv", b"n\n3\n")],
    )
    gone = next(
        f
        for f in SequentumClient(fresh.api_key, fresh.base_url).list_files(agent, run["id"])
        if f["name"] == "vanishing_2.csv"
    )
    fresh.remove_file(agent, run["id"], gone["id"], keep_listed=True)
    config = write_json(tmp_path / "c.json", config_for(fresh, agent_ids=[agent], on_bad_file="stop"))
    discovery = run_cli(["--config", str(config), "--discover"])
    assert discovery.returncode == 0, discovery.stderr  # discovery goes on
    assert "vanishing" in {s["tap_stream_id"] for s in json.loads(discovery.stdout)["streams"]}
    proc = run_cli(["--config", str(config)])
    assert proc.returncode == 0, proc.stderr  # gone files never stop a stream, even with on_bad_file: stop
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(
        m["record"]["n"] for m in messages if m["type"] == "RECORD" and m["stream"] == "vanishing"
    ) == [1, 3]
    errors = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "file_errors"]
    assert [(e["file_id"], e["action"]) for e in errors] == [(gone["id"], "skipped")]
    assert "404" in errors[0]["reason"]
    warning = [line for line in proc.stderr.splitlines() if "vanishing_2.csv" in line]
    assert len(warning) == 1


@pytest.mark.parametrize("deselected", [(), ("run_files",)])
def test_a_run_removed_after_it_was_listed_never_stops_the_sync(fresh, tmp_path, monkeypatch, deselected):
    """Run retention (or a deletion) removes a run between the runs list and its file list: the run has no
    files any more, said in one line, and every other run and stream syncs."""
    agent = fresh.add_agent("Retained")["id"]
    runs = [
        fresh.add_run(agent, 9, f"2026-04-0{day}T00:00:00Z", files=[("retained.csv", b"n\n%d\n" % day)])
        for day in (1, 2, 3)
    ]
    config = write_json(tmp_path / "c.json", config_for(fresh, agent_ids=[agent]))
    catalog = json.loads(run_cli(["--config", str(config), "--discover"]).stdout)
    for entry in catalog["streams"]:
        entry["metadata"][0]["metadata"]["selected"] = entry["tap_stream_id"] not in deselected
    listing = SequentumClient.list_runs

    def removed_meanwhile(self, agent_id, *args, **kwargs):
        answer = listing(self, agent_id, *args, **kwargs)
        if agent_id == agent and runs[0]["id"] in fresh.data.runs:
            fresh.delete_run(agent, runs[0]["id"])  # the oldest run expires right after it was listed
        return answer

    monkeypatch.setattr(SequentumClient, "list_runs", removed_meanwhile)
    proc = run_cli(["--config", str(config), "--catalog", str(write_json(tmp_path / "k.json", catalog))])
    assert proc.returncode == 0, proc.stderr
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    rows = [m["record"]["n"] for m in messages if m["type"] == "RECORD" and m["stream"] == "retained"]
    assert sorted(rows) == [2, 3]
    said = [line for line in proc.stderr.splitlines() if f"run {runs[0]['id']} " in line.lower()]
    assert len(said) == 1 and "removed" in said[0], proc.stderr


def test_one_unreadable_file_never_stops_the_other_streams(fresh, tmp_path):
    broken = fresh.add_agent("Broken parquet")["id"]
    fresh.add_run(
        broken, 9, "2026-04-01T00:00:00Z", files=[("broken_parquet.parquet", b"\x00garbage\xff" * 50)]
    )
    fresh.add_run(broken, 9, "2026-04-02T00:00:00Z", files=[("broken_parquet.csv", b"n\n7\n")])
    ids = [broken, SHOP]
    base = config_for(fresh, agent_ids=ids)
    skipped = sync(base)
    assert [r["n"] for r in skipped.records["broken_parquet"]] == [7]
    assert skipped.records[PRODUCTS]
    assert [e["action"] for e in skipped.records["file_errors"]] == ["skipped"]
    again = sync(base, state=skipped.state)
    assert again.records.get("broken_parquet", []) == []  # skipped files are not retried

    config = write_json(tmp_path / "c.json", config_for(fresh, agent_ids=ids, on_bad_file="stop"))
    proc = run_cli(["--config", str(config)])
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "broken_parquet.parquet" in last and "stopped" in last and "Traceback" not in proc.stderr
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    streams = {m["stream"] for m in messages if m["type"] == "RECORD"}
    assert {PRODUCTS, REVIEWS, "file_errors"} <= streams  # every other stream synced
    assert "broken_parquet" not in streams  # the stopped stream does not pass the bad file
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    assert "seen_run_ids" not in state["bookmarks"].get("broken_parquet", {})
    fresh.remove_file(broken, SequentumClient(fresh.api_key, fresh.base_url).list_runs(broken)[-1]["id"],
                      files_of(fresh, broken)[-1][1]["id"], keep_listed=False)  # fmt: skip
    resumed = sync(config_for(fresh, agent_ids=ids, on_bad_file="stop"), state=state)
    assert [r["n"] for r in resumed.records["broken_parquet"]] == [7]


def test_a_table_only_in_older_runs_is_reported_not_lost(demo_sandbox, tmp_path):
    config = config_for(demo_sandbox, agent_ids=[1003])
    catalog = json.loads(
        run_cli(["--config", str(write_json(tmp_path / "c.json", config)), "--discover"]).stdout
    )
    assert {s["tap_stream_id"] for s in catalog["streams"]} >= {"acdelco_parts"}
    result = sync(config, catalog=catalog)
    reported = {(e["stream"], e["action"]) for e in result.records["file_errors"]}
    assert ("acdelco_parts__products", "no_stream") in reported
    wide = config_for(demo_sandbox, agent_ids=[1003], discovery_sample_runs=10)
    catalog = json.loads(
        run_cli(["--config", str(write_json(tmp_path / "w.json", wide)), "--discover"]).stdout
    )
    assert {"acdelco_parts__products", "acdelco_parts__products_reviews"} <= {
        s["tap_stream_id"] for s in catalog["streams"]
    }
