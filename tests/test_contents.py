"""Content streams end to end against the sandbox: exact values, drift, exactly-once state."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from support import config_for, handled_by, run_cli, sync, write_json

from tap_sequentum.client import SequentumClient
from tap_sequentum.contents.formats import unique_names
from tap_sequentum.tap import FIXED_STREAM_TYPES

METADATA_STREAMS = {stream_type.name for stream_type in FIXED_STREAM_TYPES}


def content(result) -> dict[str, list[dict]]:
    return {name: rows for name, rows in result.records.items() if name not in METADATA_STREAMS}


def schemas(result, stream: str) -> list[dict]:
    return [m["schema"] for m in result.messages if m["type"] == "SCHEMA" and m["stream"] == stream]


def same_cell(text: str, value: object) -> bool:
    if text == "":
        return value is None
    if isinstance(value, bool):
        return text.lower() == str(value).lower()
    if isinstance(value, int):
        return str(value) == text
    if isinstance(value, Decimal):
        return Decimal(text) == value
    return value == text


@pytest.fixture(scope="module")
def demo_sync(demo_sandbox):
    """One full sync of the demo (fast path), shared by the tests that only read it."""
    return sync(config_for(demo_sandbox))


def test_every_cell_of_every_demo_csv_arrives_exactly(demo_sandbox, demo_sync):
    result = demo_sync
    client = SequentumClient(demo_sandbox.api_key, demo_sandbox.base_url)
    rows = [r for rows in content(result).values() for r in rows]
    names_of = {f["id"]: f["name"] for f in result.records["run_files"]}  # joined on _sdc_file_id
    by_file: dict[int, list[dict]] = {}
    for row in rows:
        by_file.setdefault(row["_sdc_file_id"], []).append(row)
    checked = 0
    for file_id, records in by_file.items():
        first = records[0]
        name = names_of[file_id]
        if not name.endswith((".csv", ".tsv")):
            continue
        buffer = io.BytesIO()
        client.download(first["_sdc_agent_id"], first["_sdc_run_id"], file_id, buffer)
        text = buffer.getvalue().decode("utf-8-sig")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if name.endswith(".tsv") else ",")
        header = next(reader)
        source = list(reader)
        assert [r["_sdc_row_number"] for r in records] == list(range(1, len(source) + 1))
        names = unique_names(header)
        for line, record in zip(source, records, strict=True):
            assert len(line) == len(header)
            for column, cell in zip(names, line, strict=True):
                assert same_cell(cell, record[column]), (name, column, cell, record[column])
                checked += 1
            others = set(record) - set(names) - {k for k in record if k.startswith("_sdc_")}
            assert all(record[k] is None for k in others)
    assert checked > 1000


def test_demo_traps_keep_leading_zeros_and_big_ids(demo_sync):
    result = demo_sync
    streams = content(result)
    assert {"steam", "societe_generale_prix__prix", "acdelco_parts", "real_estate_listings__listings"} <= set(
        streams
    )
    assert {"price_monitor", "price_monitor_1006"} <= set(streams)
    values = [v for rows in streams.values() for r in rows for v in r.values() if isinstance(v, str)]
    assert any(v.startswith("0") and v.isdigit() and len(v) > 1 for v in values)  # leading zeros kept
    assert any(v.isdigit() and len(v) > 19 for v in values)  # ids beyond int64 kept as text
    assert any("\n" in v for v in values)  # quoted newlines kept
    for rows in streams.values():
        keys = [(r["_sdc_file_id"], r["_sdc_row_number"]) for r in rows]
        assert len(keys) == len(set(keys))


def test_only_finished_runs_and_only_data_files(demo_sync):
    result = demo_sync
    runs = {r["id"]: r for r in result.records["runs"]}
    files = {f["id"]: f for f in result.records["run_files"]}
    for rows in content(result).values():
        for row in rows:
            assert runs[row["_sdc_run_id"]]["is_finished"]
            assert files[row["_sdc_file_id"]]["fileType"] == 1


def add_agent(sandbox, name="Trap Shop"):
    return sandbox.add_agent(name)["id"]


def test_exact_values_and_types_for_a_trap_file(sandbox):
    agent = add_agent(sandbox)
    body = (
        "\ufeffsku,zip,id,price,qty,ok,day,at,note\r\n"
        '007123,02134,98765432109876543210,19.90,17,TRUE,2025-10-31,2025-11-03T08:00:12Z,"a, ""b""\nc"\r\n'
        "0045,10001,12345678901234567891,1299.00,-3,false,2025-11-01,2025-11-03T09:00:00Z,\r\n"
    ).encode()
    sandbox.add_run(agent, status=9, files=[("trap_shop.csv", body), ("run.log", b"log")])
    result = sync(config_for(sandbox, agent_ids=[agent]))
    rows = result.records["trap_shop"]
    assert [r["_sdc_row_number"] for r in rows] == [1, 2]
    assert rows[0]["sku"] == "007123"
    assert rows[0]["zip"] == "02134"
    assert rows[0]["id"] == "98765432109876543210"
    assert rows[0]["price"] == Decimal("19.90")
    assert rows[1]["qty"] == -3
    assert rows[0]["ok"] is True
    assert rows[1]["ok"] is False
    assert rows[0]["note"] == 'a, "b"\nc'
    assert rows[1]["note"] is None
    assert rows[0]["day"] == "2025-10-31"
    assert rows[0]["at"] == "2025-11-03T08:00:12Z"
    schema = schemas(result, "trap_shop")[-1]["properties"]
    assert schema["sku"]["type"] == ["string", "null"]
    assert schema["price"]["type"] == ["number", "null"]
    assert schema["qty"]["type"] == ["integer", "null"]
    assert schema["ok"]["type"] == ["boolean", "null"]
    assert schema["day"]["format"] == "date"
    assert schema["at"]["format"] == "date-time"
    line = next(line for line in result.stdout.splitlines() if '"trap_shop"' in line and '"RECORD"' in line)
    assert '"price":19.90' in line  # the exact digits, not 19.9 and not a float rounding


def test_drift_widens_and_announces_before_records(sandbox):
    agent = add_agent(sandbox)
    sandbox.add_run(agent, status=9, files=[("trap_shop_1.csv", b"code,qty\n1,5\n2,6\n")])
    config = config_for(sandbox, agent_ids=[agent])
    first = sync(config)
    assert schemas(first, "trap_shop")[-1]["properties"]["code"]["type"] == ["integer", "null"]
    sandbox.add_run(agent, status=9, files=[("trap_shop_2.csv", b"code,qty,colour\n007,7.5,red\n3,8,blue\n")])
    second = sync(config, state=first.state)
    messages = [m for m in second.messages if m.get("stream") == "trap_shop"]
    first_record = next(i for i, m in enumerate(messages) if m["type"] == "RECORD")
    widened = [i for i, m in enumerate(messages) if m["type"] == "SCHEMA"][-1]
    assert widened < first_record
    props = messages[widened]["schema"]["properties"]
    assert props["code"]["type"] == ["string", "null"]
    assert props["qty"]["type"] == ["number", "null"]
    assert props["colour"]["type"] == ["string", "null"]
    rows = second.records["trap_shop"]
    assert [r["code"] for r in rows] == ["007", "3"]
    assert [r["qty"] for r in rows] == [Decimal("7.5"), Decimal("8")]


def test_runs_finishing_out_of_order_are_emitted_once(sandbox):
    agent = add_agent(sandbox)
    old = sandbox.add_run(agent, status=1, created="2026-05-01T00:00:00Z")
    sandbox.add_run(agent, status=9, created="2026-05-02T00:00:00Z", files=[("trap_shop_2.csv", b"v\n2\n")])
    config = config_for(sandbox, agent_ids=[agent])
    first = sync(config)
    assert [r["v"] for r in first.records["trap_shop"]] == [2]
    sandbox.set_run_status(agent, old["id"], 9, files=[("trap_shop_1.csv", b"v\n1\n")])
    second = sync(config, state=first.state)
    assert [r["v"] for r in second.records["trap_shop"]] == [1]
    third = sync(config, state=second.state)
    assert third.records.get("trap_shop", []) == []


def test_truncated_download_is_retried_without_duplicates(sandbox):
    agent = add_agent(sandbox)
    body = "n\n" + "".join(f"{i}\n" for i in range(5000))
    sandbox.add_run(agent, status=9, files=[("trap_shop.csv", body.encode())])
    sandbox.redirect_downloads = True
    sandbox.add_fault(r"^/signed/", "truncate", times=2)
    result = sync(config_for(sandbox, agent_ids=[agent]))
    assert [r["n"] for r in result.records["trap_shop"]] == list(range(5000))


def test_interrupted_sync_resumes_without_gaps_or_duplicates(sandbox, tmp_path):
    agent = add_agent(sandbox)
    for day in (1, 2, 3):
        body = "day,n\n" + "".join(f"{day},{i}\n" for i in range(3))
        created = f"2026-05-0{day}T00:00:00Z"
        sandbox.add_run(agent, status=9, created=created, files=[(f"trap_shop_{day}.csv", body.encode())])
    client = SequentumClient(sandbox.api_key, sandbox.base_url)
    second_run = sorted(r["id"] for r in client.list_runs(agent))[1]
    broken = client.list_files(agent, second_run)[0]["id"]
    sandbox.add_fault(rf"/file/{broken}/download$", "503", times=1000)

    config = write_json(tmp_path / "c.json", config_for(sandbox, agent_ids=[agent], max_retries=0))
    proc = run_cli(["--config", str(config)])
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    emitted = [m["record"] for m in lines if m["type"] == "RECORD" and m["stream"] == "trap_shop"]
    assert [r["day"] for r in emitted] == [1, 1, 1]
    last_state = [m["value"] for m in lines if m["type"] == "STATE"][-1]  # what a runner keeps

    sandbox.clear_faults()
    resumed = sync(config_for(sandbox, agent_ids=[agent]), state=last_state)
    assert [(r["day"], r["n"]) for r in resumed.records["trap_shop"]] == [
        (2, 0),
        (2, 1),
        (2, 2),
        (3, 0),
        (3, 1),
        (3, 2),
    ]


def test_resume_inside_a_file_skips_the_rows_already_written(sandbox):
    agent = add_agent(sandbox)
    body = "n\n" + "".join(f"{i}\n" for i in range(10))
    run = sandbox.add_run(agent, status=9, files=[("trap_shop.csv", body.encode())])
    file_id = SequentumClient(sandbox.api_key, sandbox.base_url).list_files(agent, run["id"])[0]["id"]
    state = {
        "bookmarks": {
            "trap_shop": {"current": {"run_id": run["id"], "files_done": [], "file_id": file_id, "rows": 4}}
        }
    }
    for fast in (True, False):
        result = sync(
            config_for(sandbox, agent_ids=[agent], content_fast_path=fast),
            state=json.loads(json.dumps(state)),
        )
        rows = result.records["trap_shop"]
        assert [r["_sdc_row_number"] for r in rows] == list(range(5, 11))
        assert [r["n"] for r in rows] == list(range(4, 10))


def test_fast_and_sdk_paths_write_the_same_records(demo_sandbox, demo_sync):
    fast = demo_sync
    slow = sync(config_for(demo_sandbox, content_fast_path=False))
    assert content(fast) == content(slow)
    assert content(fast)


def test_infer_types_off_gives_strings(demo_sandbox):
    result = sync(config_for(demo_sandbox, infer_types=False, agent_ids=[1001]))
    rows = result.records["steam"]
    assert rows
    for row in rows:
        for key, value in row.items():
            if not key.startswith("_sdc_"):
                assert value is None or isinstance(value, str)


def test_malformed_file_stops_its_stream_when_asked_with_one_clear_line_and_state_stays(sandbox, tmp_path):
    agent = add_agent(sandbox)
    good = sandbox.add_run(
        agent, status=9, created="2026-05-01T00:00:00Z", files=[("trap_shop_1.csv", b"a,b\n1,2\n")]
    )
    bad = sandbox.add_run(
        agent, status=9, created="2026-05-02T00:00:00Z", files=[("trap_shop_2.csv", b"a,b\n1,2\n3\n")]
    )
    config = write_json(tmp_path / "c.json", config_for(sandbox, agent_ids=[agent], on_bad_file="stop"))
    proc = run_cli(["--config", str(config)])
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "trap_shop_2.csv" in last
    assert "not valid CSV" in last
    assert "Expected 2 columns, got 1" in last
    states = [json.loads(line)["value"] for line in proc.stdout.splitlines() if '"STATE"' in line]
    content_state = states[-1]["bookmarks"].get("trap_shop", {})
    assert handled_by(content_state, [good, bad]) == {good["id"]}  # the good run only
    assert "replication_key_value" not in content_state
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [m["record"]["a"] for m in messages if m["type"] == "RECORD" and m["stream"] == "trap_shop"] == [1]
    errors = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "file_errors"]
    assert [(e["file_name"], e["stream"], e["action"]) for e in errors] == [
        ("trap_shop_2.csv", "trap_shop", "stopped")
    ]


def test_a_given_catalog_means_no_discovery_downloads(demo_sandbox, tmp_path):
    config = write_json(tmp_path / "c.json", config_for(demo_sandbox))
    discovered = run_cli(["--config", str(config), "--discover"])
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    steam = next(s for s in catalog["streams"] if s["tap_stream_id"] == "steam")
    assert steam["schema"]["properties"]["price"]["type"] == ["number", "null"]
    assert steam["key_properties"] == ["_sdc_file_id", "_sdc_row_number"]
    catalog_path = write_json(tmp_path / "catalog.json", catalog)
    demo_sandbox.clear_requests()
    proc = run_cli(["--config", str(config), "--catalog", str(catalog_path)])
    assert proc.returncode == 0, proc.stderr
    downloads = [r.path for r in demo_sandbox.requests if r.path.endswith("/download")]
    assert len(downloads) == len(set(downloads))
    records = [json.loads(line) for line in proc.stdout.splitlines() if '"RECORD"' in line]
    emitted_files = {m["record"]["_sdc_file_id"] for m in records if m["stream"] not in METADATA_STREAMS}
    assert len(downloads) == len(emitted_files)


def test_discovery_types_columns_as_the_sampled_cells_say(demo_sandbox, tmp_path):
    """Discovery's kinds are those of the cells it read: steam's rank is integers, its app id text."""
    config = write_json(tmp_path / "c.json", config_for(demo_sandbox, agent_ids=[1001]))
    catalog = json.loads(run_cli(["--config", str(config), "--discover"]).stdout)
    steam = next(s for s in catalog["streams"] if s["tap_stream_id"] == "steam")["schema"]["properties"]
    rows = sync(config_for(demo_sandbox, agent_ids=[1001])).records["steam"]
    for column, schema in steam.items():
        if column.startswith("_sdc_"):
            continue
        cells = {row[column] for row in rows} - {None}
        expected = {"integer": (int,), "number": (int, Decimal), "boolean": (bool,), "string": (str,)}
        assert all(type(cell) in expected[schema["type"][0]] for cell in cells), (column, schema, cells)
    assert steam["rank"]["type"] == ["integer", "null"]


def test_parquet_batches_hold_the_same_typed_rows(demo_sandbox, tmp_path):
    import pyarrow.parquet as pq

    plain = sync(config_for(demo_sandbox, agent_ids=[1001, 1002, 1003]))
    batch_config = {
        "encoding": {"format": "parquet", "compression": "none"},
        "storage": {"root": f"file://{tmp_path}", "prefix": "sequentum-"},
    }
    batched = sync(config_for(demo_sandbox, agent_ids=[1001, 1002, 1003], batch_config=batch_config))
    batches = [m for m in batched.messages if m["type"] == "BATCH"]
    for stream in ("steam", "societe_generale_prix__prix", "acdelco_parts"):
        urls = [u for m in batches if m["stream"] == stream for u in m["manifest"]]
        assert urls, stream
        rows = [r for u in urls for r in pq.read_table(u.removeprefix("file://")).to_pylist()]
        expected = plain.records[stream]
        assert len(rows) == len(expected)
        for got, want in zip(rows, expected, strict=True):
            assert {k: v for k, v in got.items() if v is not None} == {
                k: v for k, v in want.items() if v is not None
            }
    steam_file = next(u for m in batches if m["stream"] == "steam" for u in m["manifest"])
    schema = pq.read_schema(steam_file.removeprefix("file://"))
    assert str(schema.field("rank").type) == "int64"
    assert str(schema.field("price").type).startswith("decimal")
    assert str(schema.field("free").type) == "bool"


def test_logs_count_records_and_name_every_downloaded_file(demo_sandbox, tmp_path):
    config = write_json(tmp_path / "c.json", config_for(demo_sandbox, agent_ids=[1001]))
    proc = run_cli(["--config", str(config)])
    assert proc.returncode == 0, proc.stderr
    messages = [json.loads(line) for line in proc.stdout.splitlines()]  # stdout holds Singer messages only
    assert all(m["type"] in {"SCHEMA", "RECORD", "STATE"} for m in messages)
    records = [m for m in messages if m["type"] == "RECORD" and m["stream"] == "steam"]
    counted = [
        json.loads(line.split("METRIC: ", 1)[1])
        for line in proc.stderr.splitlines()
        if "METRIC: " in line and '"record_count"' in line and '"steam"' in line
    ]
    assert sum(m["value"] for m in counted) == len(records)
    downloaded = [line for line in proc.stderr.splitlines() if "Downloaded steam.csv" in line]
    assert len(downloaded) == len({r["record"]["_sdc_file_id"] for r in records})
    assert all("bytes" in line and "rows emitted in" in line for line in downloaded)


def test_an_older_run_finishing_meanwhile_does_not_reset_an_interrupted_run(sandbox, tmp_path):
    agent = add_agent(sandbox)
    older = sandbox.add_run(agent, status=1, created="2026-05-01T00:00:00Z")
    run = sandbox.add_run(
        agent,
        status=9,
        created="2026-05-02T00:00:00Z",
        files=[("trap_shop_1.csv", b"n\n1\n2\n3\n"), ("trap_shop_2.csv", b"n\n4\n5\n")],
    )
    files = SequentumClient(sandbox.api_key, sandbox.base_url).list_files(agent, run["id"])
    sandbox.add_fault(rf"/file/{max(f['id'] for f in files)}/download$", "503", times=1000)
    config = write_json(tmp_path / "c.json", config_for(sandbox, agent_ids=[agent], max_retries=0))
    proc = run_cli(["--config", str(config)])
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    first = [m["record"]["n"] for m in lines if m["type"] == "RECORD" and m["stream"] == "trap_shop"]
    assert first == [1, 2, 3]
    state = [m["value"] for m in lines if m["type"] == "STATE"][-1]

    sandbox.clear_faults()
    sandbox.set_run_status(agent, older["id"], 9, files=[("trap_shop_0.csv", b"n\n0\n")])
    second = sync(config_for(sandbox, agent_ids=[agent]), state=state)
    assert sorted(r["n"] for r in second.records["trap_shop"]) == [0, 4, 5]


def batch_run_ids(message: dict) -> set[int]:
    """The `_sdc_run_id`s of the rows of a BATCH message's files (JSON Lines, gzipped or not, or Parquet)."""
    import gzip
    from urllib.parse import urlparse

    import pyarrow.parquet as pq

    found: set[int] = set()
    for url in message["manifest"]:
        path = urlparse(url).path
        if ".parquet" in path:
            found |= set(pq.read_table(path).column("_sdc_run_id").to_pylist())
            continue
        data = Path(path).read_bytes()
        text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode()
        found |= {json.loads(line)["_sdc_run_id"] for line in text.splitlines() if line.strip()}
    return found


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_batch_state_never_runs_ahead_of_the_batches(sandbox, tmp_path, fmt):
    """Every STATE that counts a run as handled comes after a BATCH that holds that run's rows."""
    agent = add_agent(sandbox)
    first = sandbox.add_run(
        agent, status=9, created="2026-05-01T00:00:00Z", files=[("trap_shop_1.csv", b"n\n1\n2\n")]
    )
    second = sandbox.add_run(
        agent, status=9, created="2026-05-02T00:00:00Z", files=[("trap_shop_2.csv", b"a,b\n1\n")]
    )
    batch_config = {"encoding": {"format": fmt}, "storage": {"root": f"file://{tmp_path}"}}
    # With a stream map, Parquet goes the SDK's way (records into its batches), not straight from Arrow.
    extra = {"stream_maps": {"trap_shop": {"n2": "n"}}} if fmt == "parquet" else {}
    config = config_for(sandbox, agent_ids=[agent], batch_config=batch_config, on_bad_file="stop", **extra)
    proc = run_cli(["--config", str(write_json(tmp_path / "c.json", config))])
    assert proc.returncode == 1  # the second run's file stops the stream
    delivered: set[int] = set()
    claimed: set[int] = set()
    for message in map(json.loads, proc.stdout.splitlines()):
        if message["type"] == "BATCH" and message["stream"] == "trap_shop":
            delivered |= batch_run_ids(message)
        elif message["type"] == "STATE":
            claimed = handled_by(message["value"]["bookmarks"].get("trap_shop", {}), [first, second])
            assert claimed <= delivered, (claimed, delivered)
    assert claimed == delivered == {first["id"]}  # the first run was delivered and then counted


def test_widened_schema_keeps_deselected_columns_out(sandbox):
    agent = add_agent(sandbox)
    sandbox.add_run(
        agent, status=9, created="2026-05-01T00:00:00Z", files=[("trap_shop_1.csv", b"code,price\n1,5\n")]
    )
    config = config_for(sandbox, agent_ids=[agent])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        from tap_sequentum.tap import TapSequentum

        catalog = json.loads(TapSequentum(config=config, setup_mapper=False).run_discovery())
    for entry in catalog["streams"]:
        entry["metadata"][0]["metadata"]["selected"] = entry["tap_stream_id"] == "trap_shop"
        for item in entry["metadata"]:
            if item["breadcrumb"] in (["properties", "price"], ["properties", "_sdc_agent_id"]):
                item["metadata"]["selected"] = False
    sandbox.add_run(
        agent,
        status=9,
        created="2026-05-02T00:00:00Z",
        files=[("trap_shop_2.csv", b"code,price,c\n007,5.5,r\n")],
    )
    for fast in (True, False):
        result = sync({**config, "content_fast_path": fast}, catalog=json.loads(json.dumps(catalog)))
        for schema in schemas(result, "trap_shop"):
            assert "price" not in schema["properties"]
            assert "_sdc_agent_id" not in schema["properties"]
        for record in result.records["trap_shop"]:
            assert "price" not in record
            assert "_sdc_agent_id" not in record
            # Both files are read before either is emitted: one schema, code a string from the start.
        assert [r["code"] for r in result.records["trap_shop"]] == ["1", "007"]


def test_a_catalog_stream_reads_the_agent_it_records_whatever_its_name(demo_sandbox, tmp_path):
    config = write_json(tmp_path / "c.json", config_for(demo_sandbox, agent_ids=[1001]))
    catalog = json.loads(run_cli(["--config", str(config), "--discover"]).stdout)
    steam = next(s for s in catalog["streams"] if s["tap_stream_id"] == "steam")
    steam["tap_stream_id"] = steam["stream"] = "renamed_by_hand"
    proc = run_cli(["--config", str(config), "--catalog", str(write_json(tmp_path / "cat.json", catalog))])
    assert proc.returncode == 0, proc.stderr
    streams = {json.loads(line)["stream"] for line in proc.stdout.splitlines() if '"RECORD"' in line}
    assert "renamed_by_hand" in streams and "steam" not in streams


def test_a_signal_stops_between_whole_messages_and_the_state_resumes_exactly(sandbox, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    agent = add_agent(sandbox)
    total = 150_000
    body = "n,label\n" + "".join(f"{i},row {i}\n" for i in range(total))
    sandbox.add_run(agent, status=9, files=[("trap_shop.csv", body.encode())])
    config = write_json(tmp_path / "c.json", config_for(sandbox, agent_ids=[agent]))
    with (tmp_path / "stderr").open("w+b") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tap_sequentum.tap", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        assert proc.stdout is not None
        first = [proc.stdout.readline() for _ in range(200)]  # then stop reading: the tap blocks on the pipe
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        rest = proc.stdout.read()
        proc.wait(timeout=120)
        stderr.seek(0)
        err = stderr.read()
    assert proc.returncode == 130, err.decode()
    assert "Traceback" not in err.decode()
    assert "Stopped by signal 2" in err.decode().strip().splitlines()[-1]
    lines = [json.loads(line, parse_float=Decimal) for line in b"".join([*first, rest]).splitlines()]
    emitted = [m["record"]["n"] for m in lines if m["type"] == "RECORD" and m["stream"] == "trap_shop"]
    state = [m["value"] for m in lines if m["type"] == "STATE"][-1]
    assert 0 < len(emitted) < total

    resumed = sync(config_for(sandbox, agent_ids=[agent]), state=state)
    again = [r["n"] for r in resumed.records["trap_shop"]]
    assert sorted(emitted + again) == list(range(total))


def test_a_group_of_small_files_past_the_memory_budget_goes_through_temp_dir(sandbox, tmp_path, monkeypatch):
    """A group's files are all parsed before any is emitted: past GROUP_MEMORY their rows wait on disk (Arrow
    IPC files in temp_dir), not in RAM, and nothing is left there afterwards."""
    import pyarrow as pa

    from tap_sequentum.contents import stream

    monkeypatch.setattr(stream, "GROUP_MEMORY", 1)  # byte: every file's rows spill
    agent = add_agent(sandbox)
    for day in range(1, 6):
        body = f"n\n{day}\n{day}\n".encode()
        sandbox.add_run(
            agent, status=9, created=f"2026-05-0{day}T00:00:00Z", files=[(f"trap_shop_{day}.csv", body)]
        )
    spilled = []
    real = pa.ipc.new_stream

    def counting(sink, schema):
        spilled.append(schema)
        return real(sink, schema)

    monkeypatch.setattr(pa.ipc, "new_stream", counting)
    result = sync(config_for(sandbox, agent_ids=[agent], temp_dir=str(tmp_path)))
    assert [r["n"] for r in result.records["trap_shop"]] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert len(spilled) == 5
    assert not list(tmp_path.iterdir())  # temporary files are removed


def test_a_big_files_rows_wait_in_temp_dir_too(sandbox, tmp_path, monkeypatch):
    """A file past IN_MEMORY_BYTES is read as it downloads and its rows wait on disk: in temp_dir, as a small
    group's do (they went to the system's temporary folder)."""
    import tempfile

    from tap_sequentum.contents import parse

    monkeypatch.setattr(parse, "IN_MEMORY_BYTES", 0)  # every file is a big one
    folders = []
    real = tempfile.NamedTemporaryFile

    def recording(*args, **kwargs):
        folders.append(kwargs.get("dir"))
        return real(*args, **kwargs)

    monkeypatch.setattr(parse.tempfile, "NamedTemporaryFile", recording)
    agent = add_agent(sandbox)
    sandbox.add_run(agent, status=9, files=[("trap_shop.csv", b"n\n1\n2\n")])
    result = sync(config_for(sandbox, agent_ids=[agent], temp_dir=str(tmp_path)))
    assert [r["n"] for r in result.records["trap_shop"]] == [1, 2]
    assert folders and set(folders) == {str(tmp_path)}
    assert not list(tmp_path.iterdir())


def test_a_download_followed_while_it_arrives_reads_every_byte_and_stops_when_closed(sandbox, tmp_path):
    """`Transfer`: pass 1 reads a big file as it arrives; closing it stops the download, removes the file."""
    import time

    from tap_sequentum.client import SequentumClient
    from tap_sequentum.contents.fetch import RunFile, Transfer

    body = b"n\n" + b"".join(b"%d\n" % i for i in range(2_000_000))  # about 15 MB
    agent = add_agent(sandbox)
    run = sandbox.add_run(agent, status=9, files=[("trap_shop.csv", body)])
    client = SequentumClient(sandbox.api_key, sandbox.base_url)
    listed = client.list_files(agent, run["id"])[0]
    item = RunFile(agent, run["id"], None, listed["id"], "trap_shop.csv", listed["fileSize"])
    transfer = Transfer(client, item, temp_dir=str(tmp_path))
    with transfer.open() as following:
        assert following.read() == body  # blocks until the end of the download, then it is whole
    assert transfer.wait().size == len(body)
    transfer.close()
    assert not list(tmp_path.iterdir())

    sandbox.latency = 0.5  # a slow answer: closing must not wait for the whole file
    slow = Transfer(client, item, temp_dir=str(tmp_path))
    started = time.monotonic()
    slow.close()
    assert time.monotonic() - started < 5
    assert not list(tmp_path.iterdir())


def test_a_big_download_that_breaks_half_way_is_parsed_again_from_its_first_byte(sandbox, tmp_path):
    """The restart contract (`client.Sink.restart` -> `TransferRestarted`): a file parsed while it downloads
    is parsed again from its start when the transfer breaks, and every row comes once, in order."""
    from tap_sequentum.client import SequentumClient
    from tap_sequentum.contents.fetch import IN_MEMORY_BYTES, RunFile, Transfer, TransferRestarted

    rows = 1_500_000
    body = b"n,label\n" + b"".join(b"%d,row %d\n" % (i, i) for i in range(rows))
    assert len(body) > IN_MEMORY_BYTES  # followed while it downloads, not fetched into memory
    agent = add_agent(sandbox)
    run = sandbox.add_run(agent, status=9, files=[("trap_shop.csv", body)])
    sandbox.add_fault(r"/download$", "truncate", times=1)  # the first transfer stops half-way
    result = sync(config_for(sandbox, agent_ids=[agent], temp_dir=str(tmp_path)))
    assert [r["n"] for r in result.records["trap_shop"]] == list(range(rows))
    downloads = [r for r in sandbox.requests if r.path.endswith("/download")]
    assert len(downloads) == 2  # broken once, then whole
    assert not list(tmp_path.iterdir())

    # The same contract seen from a reader: the old generation fails, a new reader gets the whole file.
    sandbox.add_fault(r"/download$", "truncate", times=1)
    sandbox.latency = 0.3  # the reader below opens before the first transfer starts
    client = SequentumClient(sandbox.api_key, sandbox.base_url)
    listed = client.list_files(agent, run["id"])[0]
    item = RunFile(agent, run["id"], None, listed["id"], "trap_shop.csv", listed["fileSize"])
    transfer = Transfer(client, item, temp_dir=str(tmp_path))
    first = transfer.open()

    def read_to_the_end() -> None:
        while first.read(1 << 16):
            pass

    with pytest.raises(TransferRestarted):
        read_to_the_end()
    first.close()
    with transfer.open() as again:
        assert again.read() == body
    transfer.close()


def test_a_signal_while_a_big_file_is_parsed_stops_before_its_end(sandbox, tmp_path, monkeypatch):
    """A stop does not wait for a big file to be read to its end: it comes between two batches of pass 1,
    before any of the file's rows went out, and the state stays before the file."""
    import os
    import signal

    from tap_sequentum.contents import parse

    agent = add_agent(sandbox)
    body = b"n\n" + b"".join(b"%d\n" % i for i in range(1_500_000))  # about 11 MB: followed, in batches
    sandbox.add_run(agent, status=9, files=[("trap_shop.csv", body)])
    read: list[int] = []
    real = parse.read_batches

    def signalling(*args, **kwargs):
        for batch in real(*args, **kwargs):
            read.append(batch.num_rows)
            if len(read) == 2:
                os.kill(os.getpid(), signal.SIGTERM)  # a real signal, mid-file
            yield batch

    monkeypatch.setattr(parse, "read_batches", signalling)
    config = write_json(tmp_path / "c.json", config_for(sandbox, agent_ids=[agent]))
    proc = run_cli(["--config", str(config)])
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert "Traceback" not in proc.stderr
    assert sum(read) < 1_500_000  # it did not read on to the end
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    assert not [m for m in messages if m["type"] == "RECORD" and m["stream"] == "trap_shop"]
    states = [m["value"]["bookmarks"].get("trap_shop", {}) for m in messages if m["type"] == "STATE"]
    assert not any(s.get("seen_run_ids") or s.get("current") for s in states)
