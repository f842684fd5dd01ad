"""tap-sequentum as a Meltano plugin: the project files, real `meltano run`s into DuckDB, and the
ecosystem contracts on content streams (stream maps, flattening, state, the cached catalog, logs)."""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from meltano_support import (
    DOWNLOADED,
    ROOT,
    Meltano,
    downloads,
    expected_settings,
    local_hub,
    plugin,
    project,
    record_counts,
)
from support import (
    SyncResult,
    build_wheel,
    config_for,
    environment,
    parse_messages,
    run_cli,
    run_process,
    write_json,
)

from sequentum_emulator import DEFAULT_API_KEY, Sandbox
from sequentum_emulator.__main__ import parse_args
from tap_sequentum.tap import FIXED_STREAM_TYPES, TapSequentum

HUB_FILE = ROOT / "plugins" / "extractors" / "tap-sequentum--sequentum.yml"
METADATA_STREAMS = {stream_type.name for stream_type in FIXED_STREAM_TYPES}
#: Meltano setting kinds of JSON Schema types, in order of precedence.
STEAM_AGENT = 1001
MAIN_JOB = "sequentum-to-duckdb"
#: The main job's extract and load, without its dbt-duckdb:build (test_dbt.py runs the whole job).
EXTRACT_LOAD = ("tap-sequentum", "target-duckdb")
NEW_STEAM_CSV = (
    b"rank,app_id,name,current_players,peak_players,price,free,snapshot_at\n"
    b"1,730,Counter-Strike 2,1002003,1500000,0.00,true,2026-03-01T08:00:00Z\n"
    b"2,570,Dota 2,650000,800000,0.00,true,2026-03-01T08:00:00Z\n"
    b"3,1086940,Baldur's Gate 3,120000,180000,59.99,false,2026-03-01T08:00:00Z\n"
)
STEAM_MAPS = {"steam": {"__alias__": "steam_top10", "__filter__": "rank <= 10", "peak_players": None}}


# --- the project files --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def about() -> dict:
    return json.loads(run_cli(["--about", "--format=json"]).stdout)


def test_extractor_settings_mirror_the_tap_about(about):
    expected = expected_settings(about)
    declared = plugin("extractors", "tap-sequentum")["settings"]
    assert declared == expected, "meltano.yml's tap-sequentum settings should be:\n" + yaml.safe_dump(
        expected, sort_keys=False, width=110, allow_unicode=True
    )
    by_name = {s["name"]: s for s in declared}
    assert by_name["api_key"]["sensitive"] is True
    assert by_name["api_key"]["kind"] == "password"
    assert by_name["start_date"]["kind"] == "date_iso8601"
    assert [s["name"] for s in declared if s.get("sensitive")] == ["api_key"]


def test_meltano_yml_and_the_hub_declare_the_capabilities_the_tap_reports(about):
    extractor = plugin("extractors", "tap-sequentum")
    hub = yaml.safe_load(HUB_FILE.read_text())
    assert extractor["capabilities"] == about["capabilities"], "meltano.yml: as --about lists them"
    assert hub["capabilities"] == sorted(about["capabilities"]), "the Hub definition: sorted"
    assert extractor["namespace"] == "tap_sequentum"
    assert extractor["pip_url"] == "-e ."
    assert extractor["select"] == ["*.*"]


def test_hub_definition_is_the_meltano_yml_extractor():
    hub = yaml.safe_load(HUB_FILE.read_text())
    extractor = plugin("extractors", "tap-sequentum")
    for key in ("name", "namespace", "label", "description", "executable", "settings", "select"):
        assert hub[key] == extractor[key], key
    # Meltano discovers before every run (it would cache a package's catalog): new agents arrive on their own.
    assert hub["use_cached_catalog"] is extractor["use_cached_catalog"] is False
    assert hub["settings_group_validation"] == extractor["settings_group_validation"]
    assert not hub["pip_url"].startswith("-e"), "a Hub plugin installs from a package"
    assert hub["variant"] == HUB_FILE.stem.split("--")[1]


def test_demo_environment_is_the_sandbox_and_prod_holds_no_secret():
    environments = {e["name"]: e["config"]["plugins"]["extractors"][0] for e in project()["environments"]}
    sandbox = parse_args([])
    assert environments["demo"]["config"] == {
        "base_url": f"http://127.0.0.1:{sandbox.port}",
        "api_key": DEFAULT_API_KEY,
        "discovery_sample_runs": 10,
    }
    assert sandbox.storage_port == 8766
    assert environments["prod"]["config"] == {"base_url": "https://dashboard.sequentum.com"}
    assert project()["default_environment"] == "demo"
    sensitive = {
        s["name"]
        for kind in project()["plugins"].values()
        for p in kind
        for s in p["settings"]
        if s.get("sensitive")
    }
    configured = {
        k
        for kind in project()["plugins"].values()
        for p in kind
        for k, v in p.get("config", {}).items()
        if not str(v).startswith("$")  # a variable's name (dbt-postgres takes target-postgres'), not a value
    }
    assert not sensitive & configured


def test_demo_script_reads_the_databases_meltano_writes():
    script = (ROOT / "scripts" / "meltano-demo").read_text()
    demo = next(e for e in project()["environments"] if e["name"] == "demo")["config"]["plugins"]["loaders"]
    paths = {
        "sequentum.duckdb": plugin("loaders", "target-duckdb")["config"]["filepath"],
        "demo.duckdb": next(p for p in demo if p["name"] == "target-duckdb")["config"]["filepath"],
    }
    for name, filepath in paths.items():
        assert filepath == f"$MELTANO_PROJECT_ROOT/output/{name}"
        assert f"DATABASE=$OUTPUT/{name}" in script


def test_loaders_are_pinned_to_versions_that_load_every_row():
    assert plugin("loaders", "target-duckdb")["pip_url"].split() == ["target-duckdb==0.8.0", "duckdb==1.2.2"]
    assert plugin("loaders", "target-postgres")["pip_url"] == "meltanolabs-target-postgres==0.8.1"
    assert plugin("loaders", "target-jsonl")["pip_url"] == "target-jsonl==0.1.4"
    postgres = plugin("loaders", "target-postgres")
    # COPY (use_copy) goes through floats and drops UTC offsets; INSERT keeps decimals and instants.
    assert postgres["config"].get("use_copy", False) is False
    assert postgres["config"]["load_method"] == "upsert"
    assert project()["venv"]["backend"] == "uv"


def test_jobs_and_schedules_run_the_pipelines():
    jobs = {job["name"]: job["tasks"] for job in project()["jobs"]}
    assert jobs == {
        MAIN_JOB: ["tap-sequentum target-duckdb dbt-duckdb:build"],
        "sequentum-to-postgres": ["tap-sequentum target-postgres dbt-postgres:build"],
    }
    schedules = project()["schedules"]
    assert sorted(schedule["job"] for schedule in schedules) == sorted(jobs), "a schedule per job"
    assert {schedule["interval"] for schedule in schedules} == {"@hourly"}
    assert f"JOB={MAIN_JOB} " in (ROOT / "scripts" / "meltano-demo").read_text(), "the demo runs the main job"


def test_sample_config_is_valid_and_points_at_the_sandbox(demo_sandbox):
    sample = json.loads((ROOT / "sample_config.json").read_text())
    assert sample["base_url"] == f"http://127.0.0.1:{parse_args([]).port}"
    assert sample["api_key"] == DEFAULT_API_KEY
    tap = TapSequentum(config={**sample, "base_url": demo_sandbox.base_url}, validate_config=True)
    assert {"agents", "runs", "steam"} <= set(tap.streams)


def test_env_example_names_only_real_settings():
    names = re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    assert "TAP_SEQUENTUM_API_KEY" in names
    settings = {
        "TAP_SEQUENTUM": {s["name"] for s in plugin("extractors", "tap-sequentum")["settings"]},
        "TARGET_POSTGRES": {s["name"] for s in plugin("loaders", "target-postgres")["settings"]},
    }
    for name in names:
        prefix = next(p for p in settings if name.startswith(p + "_"))
        assert name.removeprefix(prefix + "_").lower() in settings[prefix], name


# --- the tap as Meltano runs it: a process with a config, a catalog and a state file -------------


def tap(tmp_path: Path, config: dict, *args: str) -> SyncResult:
    path = write_json(tmp_path / "config.json", config)
    proc = run_cli(["--config", str(path), *args])
    assert proc.returncode == 0, proc.stderr
    return SyncResult(parse_messages(proc.stdout), proc.stdout, proc.stderr, proc.returncode)


def last_schema(result: SyncResult, stream: str) -> dict:
    return [m for m in result.messages if m["type"] == "SCHEMA" and m["stream"] == stream][-1]


@pytest.fixture(scope="module")
def plain(demo_sandbox, tmp_path_factory) -> SyncResult:
    """A sync with no stream map, to compare mapped ones with."""
    return tap(tmp_path_factory.mktemp("plain"), config_for(demo_sandbox))


def test_stream_maps_alias_filter_and_drop_a_column_of_a_content_stream(demo_sandbox, plain, tmp_path):
    mapped = tap(tmp_path, config_for(demo_sandbox, stream_maps=STEAM_MAPS))
    top10 = [r for r in plain.records["steam"] if r["rank"] <= 10]
    assert 0 < len(top10) < len(plain.records["steam"])
    assert "steam" not in mapped.records
    assert mapped.records["steam_top10"] == [
        {k: v for k, v in r.items() if k != "peak_players"} for r in top10
    ]
    schema = last_schema(mapped, "steam_top10")
    assert "peak_players" not in schema["schema"]["properties"]
    assert (
        schema["schema"]["properties"]["price"]
        == last_schema(plain, "steam")["schema"]["properties"]["price"]
    )
    assert schema["key_properties"] == ["_sdc_file_id", "_sdc_row_number"]
    assert mapped.records["real_estate_listings__listings"] == plain.records["real_estate_listings__listings"]


def test_flattening_keeps_content_records_and_flattens_nested_metadata(demo_sandbox, plain, tmp_path):
    flat = tap(tmp_path, config_for(demo_sandbox, flattening_enabled=True, flattening_max_depth=1))
    content = set(plain.records) - METADATA_STREAMS
    assert content
    for stream in content:
        assert flat.records[stream] == plain.records[stream], stream
        assert last_schema(flat, stream)["schema"] == last_schema(plain, stream)["schema"], stream
    agents = last_schema(flat, "agents")["schema"]["properties"]
    assert "inputParameters" in agents
    assert (
        agents["inputParameters"]["type"]
        != last_schema(plain, "agents")["schema"]["properties"]["inputParameters"]["type"]
    )


def test_a_sync_from_a_catalog_downloads_each_data_file_once(tmp_path):
    with Sandbox() as sandbox:
        discovered = run_cli(
            ["--config", str(write_json(tmp_path / "d.json", config_for(sandbox))), "--discover"]
        )
        catalog = discovered.stdout
        assert any(r.path.endswith("/download") for r in sandbox.requests), "discovery samples data files"
        sandbox.clear_requests()
        synced = tap(
            tmp_path,
            config_for(sandbox),
            "--catalog",
            str(write_json(tmp_path / "c.json", json.loads(catalog))),
        )
        fetched = [r.path for r in sandbox.requests if r.path.endswith("/download")]
    files = {r["_sdc_file_id"] for s in set(synced.records) - METADATA_STREAMS for r in synced.records[s]}
    assert len(fetched) == len(set(fetched)) == len(files)


def test_stdout_is_singer_only_and_stderr_has_metrics_and_a_line_per_file(plain):
    result = plain
    for line in result.stdout.splitlines():
        assert json.loads(line)["type"] in {"SCHEMA", "RECORD", "STATE", "ACTIVATE_VERSION", "BATCH"}
    metrics = [json.loads(m) for m in re.findall(r"METRIC: (\{.*\})$", result.stderr, re.MULTILINE)]
    assert {"record_count", "sync_duration"} <= {m["metric"] for m in metrics}
    rows_per_file: dict[int, int] = {}
    for stream in set(result.records) - METADATA_STREAMS:
        for record in result.records[stream]:
            rows_per_file[record["_sdc_file_id"]] = rows_per_file.get(record["_sdc_file_id"], 0) + 1
    lines = [line for line in result.stderr.splitlines() if "Downloaded " in line]
    assert len(lines) == len(rows_per_file)
    for line in lines:
        assert " INFO " in line
        match = DOWNLOADED.search(line)
        assert match, line
        assert int(match[6]) == rows_per_file[int(match[2])]
        assert re.search(r"rows emitted in \d+\.\d\d s$", line)


def test_record_count_metrics_count_content_records(plain):
    counted: dict[str, int] = {}
    for metric in re.findall(r"METRIC: (\{.*\})$", plain.stderr, re.MULTILINE):
        metric = json.loads(metric)
        if metric["metric"] == "record_count":
            stream = metric["tags"]["stream"]
            counted[stream] = counted.get(stream, 0) + metric["value"]
    counted = {stream: count for stream, count in counted.items() if count}  # file_errors: 0
    assert counted == {stream: len(records) for stream, records in plain.records.items()}


# --- real `meltano run`s into the embedded database ----------------------------------------------

DUCKDB_COUNTS = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
tables = [t for (t,) in con.execute(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'tap_sequentum'").fetchall()]
print(json.dumps({t: con.execute(f'SELECT count(*) FROM tap_sequentum."{t}"').fetchone()[0] for t in tables}))
"""


def duckdb_counts(database: Path) -> dict[str, int]:
    """Rows per table, read with the loader's own duckdb."""
    python = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
    proc = subprocess.run(
        [str(python), "-c", DUCKDB_COUNTS, str(database)], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def duckdb_runs(meltano_installed, tmp_path_factory) -> SimpleNamespace:
    """The main job's extract and load: full run, a new sandbox run, incremental run, Meltano's state fed to
    the tap, full refresh."""
    home = tmp_path_factory.mktemp("duckdb")
    database = home / "sequentum.duckdb"
    runs = SimpleNamespace()
    with Sandbox() as sandbox:
        config = write_json(home / "config.json", config_for(sandbox))
        runs.emitted = record_counts(run_cli(["--config", str(config)]).stdout)
        meltano = Meltano(meltano_installed, home, sandbox)
        runs.first = meltano.run(*EXTRACT_LOAD)
        runs.after_first = duckdb_counts(database)
        runs.new_run = sandbox.add_run(STEAM_AGENT, files=[("steam.csv", NEW_STEAM_CSV)])
        runs.second = meltano.run(*EXTRACT_LOAD)
        runs.after_second = duckdb_counts(database)
        state = meltano.state("demo:tap-sequentum-to-target-duckdb")["singer_state"]
        state_path = write_json(home / "state.json", state)
        runs.resumed = run_cli(["--config", str(config), "--state", str(state_path)])
        runs.third = meltano.run("--full-refresh", *EXTRACT_LOAD)
        runs.after_third = duckdb_counts(database)
    return runs


def test_meltano_run_loads_every_record_the_tap_emits(duckdb_runs):
    assert duckdb_runs.after_first == duckdb_runs.emitted
    content = set(duckdb_runs.emitted) - METADATA_STREAMS
    assert content >= {"steam", "real_estate_listings__listings", "price_monitor"}


def test_second_run_adds_only_the_new_run_and_no_duplicates(duckdb_runs):
    added = {t: n - duckdb_runs.after_first.get(t, 0) for t, n in duckdb_runs.after_second.items()}
    new = {"steam": 3, "runs": 1, "run_files": 1, "run_costs": 1, "credit_transactions": 1}  # its debit
    assert added == dict.fromkeys(added, 0) | new
    assert [name.split(" (")[0] for name in downloads(duckdb_runs.second.stderr)] == ["steam.csv"]


def test_meltano_state_is_honoured_by_the_tap(duckdb_runs):
    assert duckdb_runs.resumed.returncode == 0, duckdb_runs.resumed.stderr
    counts = record_counts(duckdb_runs.resumed.stdout)
    assert not set(counts) - METADATA_STREAMS, "no content row is extracted twice"
    messages = parse_messages(duckdb_runs.resumed.stdout)
    runs = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "runs"]
    assert all(not r["is_finished"] for r in runs), "only runs still unfinished are emitted again"


def test_full_refresh_re_extracts_everything_without_duplicates(duckdb_runs):
    first, third = downloads(duckdb_runs.first.stderr), downloads(duckdb_runs.third.stderr)
    assert len(third) == len(first) + 1
    assert set(first) < set(third)
    assert duckdb_runs.after_third == duckdb_runs.after_second


def test_meltano_logs_carry_metrics_and_a_line_per_downloaded_file(duckdb_runs):
    log = duckdb_runs.first.stderr
    # `METRIC: {...}`, or `METRIC metric_name=... metric_value=...` as Meltano renders structured logs.
    metrics = [line for line in log.splitlines() if re.search(r"tap-sequentum\s+METRIC", line)]
    assert any("record_count" in line for line in metrics)
    assert re.search(r"tap-sequentum\s+Downloaded .+ bytes, \d+ rows emitted in \d+\.\d\d s", log)
    assert len(downloads(log)) == len(set(downloads(log)))


# --- stream maps through Meltano, into the JSON Lines loader -------------------------------------


def test_stream_maps_and_flattening_set_in_meltano_reach_the_loader(
    meltano_installed, tmp_path, demo_sandbox
):
    meltano = Meltano(meltano_installed, tmp_path, demo_sandbox)
    meltano.run(
        "tap-sequentum",
        "target-jsonl",
        TAP_SEQUENTUM_STREAM_MAPS=json.dumps(STEAM_MAPS),
        TAP_SEQUENTUM_FLATTENING_ENABLED="true",
        TAP_SEQUENTUM_FLATTENING_MAX_DEPTH="1",
    )
    files = {path.name.rsplit("-", 1)[0]: path for path in (tmp_path / "jsonl").glob("*.jsonl")}
    assert "steam" not in files
    rows = [json.loads(line) for line in files["steam_top10"].read_text().splitlines()]
    assert rows
    assert all(r["rank"] <= 10 and "peak_players" not in r for r in rows)
    assert {"app_id", "price", "snapshot_at", "_sdc_file_id"} <= set(rows[0])


# --- the Hub definition, installed from the wheel: Meltano discovers before every run -----------------


@pytest.fixture(scope="module")
def hub_project(meltano_installed, tmp_path_factory) -> Path:
    """A project that adds the extractor from a Hub serving our definition (as a package user will, once it
    is on hub.meltano.com) and installs it from the tap's built wheel: Meltano would cache the catalog of such
    a plugin, never that of an editable one. Plus the JSON Lines loader of meltano.yml."""
    root = tmp_path_factory.mktemp("hub-project")
    wheel = build_wheel(ROOT, tmp_path_factory.mktemp("wheel"), "tap_sequentum-*.whl")
    (root / "meltano.yml").write_text(
        yaml.safe_dump(
            {
                "project_id": "tap-sequentum-hub-test",
                "venv": {"backend": "uv"},
                "default_environment": "test",
                "environments": [{"name": "test"}],
            }
        )
    )

    def meltano(*args: str, **env: str) -> None:
        own = environment("TAP_SEQUENTUM_", "MELTANO_", MELTANO_SEND_ANONYMOUS_USAGE_STATS="false", **env)
        proc = run_process([str(meltano_installed), *args], cwd=root, env=own, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]

    with local_hub(HUB_FILE) as hub:
        meltano(
            "add", "--plugin-type", "extractor", "--no-install", "tap-sequentum", MELTANO_HUB_API_ROOT=hub
        )
    meltano_yml = yaml.safe_load((root / "meltano.yml").read_text())
    (extractor,) = meltano_yml["plugins"]["extractors"]
    assert (extractor["variant"], extractor["pip_url"]) == ("sequentum", "tap-sequentum")
    (lock,) = (root / "plugins" / "extractors").glob("tap-sequentum--sequentum.lock")
    assert json.loads(lock.read_text())["use_cached_catalog"] is False, "the definition Meltano locked"
    extractor["pip_url"] = str(wheel)  # the package, until it is published
    meltano_yml["plugins"]["loaders"] = [plugin("loaders", "target-jsonl")]
    (root / "meltano.yml").write_text(yaml.safe_dump(meltano_yml, sort_keys=False))
    meltano("install")
    return root


PRICES = b"sku,price\nPW-1,1.50\nPW-2,2.50\n"


def jsonl_rows(folder: Path) -> dict[str, list[dict]]:
    """Every row target-jsonl wrote, per stream, over all runs (one file per stream and run)."""
    rows: dict[str, list[dict]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        stream = path.name.rsplit("-", 1)[0]
        rows.setdefault(stream, []).extend(json.loads(line) for line in path.read_text().splitlines())
    return rows


def split_at_sync(requests: list) -> tuple[list[str], list[str]]:
    """A `meltano run`'s requests: the discovery's (before the sync lists the agents again), the sync's."""
    paths = [r.path for r in requests if r.host == "api"]
    lists = [i for i, path in enumerate(paths) if path.endswith("/agent/all")]
    return paths[: lists[1]], paths[lists[1] :]


def test_meltano_takes_a_renamed_agent_and_a_new_one_by_itself(meltano_installed, hub_project, tmp_path):
    """Issue 19, with the tap installed as a package: after the agent `Price Watch` is renamed and the agent
    `Fresh Agent` is added in Sequentum, the next `meltano run` (no --refresh-catalog, no catalog file, no
    select change) takes both: the renamed agent's rows continue in the same table, none twice, and the new
    agent's rows land in a table of their own. Each run discovers first; the tap's memory makes that cost
    the agent list plus three requests per agent that changed."""
    jsonl = tmp_path / "jsonl"
    with Sandbox(seed_demo=False) as sandbox:
        price_watch = sandbox.add_agent("Price Watch")["id"]
        shop = sandbox.add_agent("Shop")["id"]
        sandbox.add_run(price_watch, files=[("Price Watch.csv", PRICES)])
        sandbox.add_run(shop, files=[("shop.csv", b"sku,stars\nS-1,5\n")])
        meltano = Meltano(meltano_installed, tmp_path, sandbox, project_root=hub_project)
        job = ("run", "tap-sequentum", "target-jsonl")
        meltano(*job)
        first = jsonl_rows(jsonl)
        sandbox.rename_agent(price_watch, "Price Watch EU")
        sandbox.add_run(price_watch, files=[("Price Watch.csv", b"sku,price\nPW-3,3.50\n")])
        fresh = sandbox.add_agent("Fresh Agent")["id"]
        sandbox.add_run(fresh, files=[("fresh_agent.csv", b"id,name\n007,Bond\n008,Fields\n")])
        sandbox.clear_requests()
        second = meltano(*job)
        discovered, synced = split_at_sync(sandbox.requests)
        sandbox.clear_requests()
        third = meltano(*job)
        unchanged, _ = split_at_sync(sandbox.requests)
    rows = jsonl_rows(jsonl)
    assert [r["sku"] for r in first["price_watch"]] == ["PW-1", "PW-2"]
    assert [r["sku"] for r in rows["price_watch"]] == ["PW-1", "PW-2", "PW-3"], "the same table, none twice"
    assert not [stream for stream in rows if stream.startswith("price_watch_eu")]
    assert [(r["id"], r["name"]) for r in rows["fresh_agent"]] == [("007", "Bond"), ("008", "Fields")]
    assert {r["name"] for r in rows["agents"] if r["id"] == price_watch} == {"Price Watch", "Price Watch EU"}
    assert "file_errors" not in rows or not rows["file_errors"]
    for run in (second, third):
        assert "Running catalog discovery" in run.stderr, "Meltano discovered before the run"
        assert "no stream" not in run.stderr.lower() and "matches no agent" not in run.stderr
    # The discovery of the second run read the two agents that changed (runs list, file list, one sample
    # each: `Shop` cost nothing); the third one's, nothing but the agent list.
    assert sorted(discovered) == sorted(
        ["/api/v1/agent/all"]
        + [f"/api/v1/agent/{agent}/runs" for agent in (price_watch, fresh)]
        + [p for p in discovered if p.endswith("/files") or p.endswith("/download")]
    )
    assert len(discovered) == 1 + 3 * 2 and not [p for p in discovered if f"/agent/{shop}/" in p]
    assert unchanged == ["/api/v1/agent/all"]
    assert len(synced) > 0


# --- the demo script, end to end ------------------------------------------------------------------


def meltano_demo(tmp_path: Path, port: int = 0, timeout: float = 900) -> subprocess.CompletedProcess:
    """./scripts/meltano-demo with its output, sandbox port and Meltano database of this test; skipped when
    .env holds an API key (the demo would sync from Sequentum Cloud)."""
    dotenv = ROOT / ".env"
    if re.search(r"^TAP_SEQUENTUM_API_KEY=.", dotenv.read_text() if dotenv.exists() else "", re.M):
        pytest.skip(".env holds an API key: the demo would sync from Sequentum Cloud")
    env = environment(
        "TAP_SEQUENTUM_",
        "TARGET_",
        "MELTANO_",
        MELTANO_DEMO_OUTPUT=str(tmp_path / "output"),
        MELTANO_DEMO_SANDBOX_PORT=str(port),
        MELTANO_DATABASE_URI=f"sqlite:///{tmp_path / 'meltano.db'}",
    )
    return run_process(["bash", str(ROOT / "scripts" / "meltano-demo")], env=env, timeout=timeout)


def test_the_demo_script_syncs_twice_and_shows_what_landed(meltano_installed, tmp_path):
    proc = meltano_demo(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    shown = proc.stdout
    assert "bundled sandbox (environment demo)" in shown
    assert re.search(rf"run --full-refresh {MAIN_JOB} \(full\): .* downloaded: [1-9]", shown)
    assert re.search(rf"run {MAIN_JOB} \(incremental\): .* downloaded: 1 ", shown)
    # Each run discovers; the second one's discovery reads only the agent that ran again (steam).
    found = re.findall(r"^  its discovery: (\d+) agents: (\d+) unchanged .* (\d+) sampled$", shown, re.M)
    (agents, _, _), (_, unchanged, sampled) = [tuple(map(int, line)) for line in found]
    assert (unchanged, sampled) == (agents - 1, 1)
    steam = re.findall(r"^  steam\s+([\d,]+)\s+\+([\d,]+)$", shown, re.MULTILINE)
    assert len(steam) == 2
    (total_1, added_1), (total_2, added_2) = steam
    assert total_1 == added_1
    assert int(total_2) == int(total_1) + int(added_2) > int(total_1)
    assert re.search(r"^    \d+ \| 0\d+ \|", shown, re.MULTILINE), "a leading-zero listing_id in the samples"
    # What scraping cost, beside the counts after each run: per agent and per 1,000 rows (run_costs x runs).
    assert shown.count("credits per 1,000 rows") == 2
    cost = r"\s+(\d+)\s+(\d+\.\d{4})\s+([\d,]+)\s+(\d+\.\d{4})$"
    steam_costs = re.findall(rf"^  steam{cost}", shown, re.MULTILINE)
    assert len(steam_costs) == 2 and len(re.findall(rf"^  total{cost}", shown, re.MULTILINE)) == 2
    (runs_1, credits_1, rows_1, _), (runs_2, credits_2, rows_2, _) = steam_costs
    assert int(runs_2) == int(runs_1) + 1 and float(credits_2) > float(credits_1), "the new run's cost"
    assert (rows_1, rows_2) == (total_1, total_2), "runs' dataCount adds up to the rows loaded"
    # What Sequentum really delivers: two export tables are two tables; cp1252 and XML arrive too.
    for table in ("shop_crawler__products", "shop_crawler__reviews", "boulangerie_dupain_tarifs__tarifs",
                  "job_board_feed__feed"):  # fmt: skip
        assert re.search(rf"^  {table}\s+[1-9][\d,]*\s", shown, re.MULTILINE), table
    assert (tmp_path / "output" / "demo.duckdb").exists()


def test_the_demo_says_in_one_line_how_to_avoid_a_taken_port(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = meltano_demo(tmp_path, port, timeout=300)
    assert proc.returncode == 1
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert f"port {port} is already in use" in line
    assert "MELTANO_DEMO_SANDBOX_PORT=0 ./scripts/meltano-demo" in line


# --- the README's Meltano commands, as a user types them in the demo project -----------------------


def readme_meltano_commands() -> list[list[str]]:
    """The `meltano ...` lines of the README's Meltano block, as argument lists."""
    readme = (ROOT / "README.md").read_text()
    block = next(b for b in re.findall(r"^```bash\n(.*?)^```", readme, re.M | re.S) if "select" in b)
    lines = [line for line in block.splitlines() if line.startswith("meltano ")]
    return [shlex.split(line, comments=True)[1:] for line in lines]


def test_the_readme_meltano_commands_work_in_the_demo_environment(meltano_installed, tmp_path):
    commands = readme_meltano_commands()
    shown = {tuple(args[2:4]) for args in commands}
    assert {("select", "tap-sequentum"), ("config", "list"), ("state", "list")} <= shown
    with Sandbox() as sandbox:
        meltano = Meltano(meltano_installed, tmp_path, sandbox)
        # The key comes from the demo environment, as for a user; only the port is the test's own.
        out = {args[2]: meltano(*args, TAP_SEQUENTUM_API_KEY=None).stdout for args in commands}
    assert re.search(r"\[selected +\] steam\.price", out["select"])
    assert re.search(r"\[automatic +\] runs\.id", out["select"])
    assert "base_url [env: TAP_SEQUENTUM_BASE_URL]" in out["config"]
    assert "demo:tap-sequentum-to-target-duckdb" in out["state"].split()


def test_meltano_ignores_the_default_environment_where_the_readme_names_it(meltano_installed, tmp_path):
    """Why the README writes `--environment demo`: Meltano's own rule, and what a user sees without it."""
    with Sandbox() as sandbox:
        meltano = Meltano(meltano_installed, tmp_path, sandbox)
        bare = meltano("select", "tap-sequentum", "--list", check=False, TAP_SEQUENTUM_API_KEY=None)
        exported = meltano(
            "config", "list", "tap-sequentum", TAP_SEQUENTUM_API_KEY=None, MELTANO_ENVIRONMENT="demo"
        )
    assert bare.returncode != 0
    assert "The default environment 'demo' will be ignored for `meltano select`" in bare.stderr
    assert "No Sequentum API key" in bare.stderr
    assert "from the active environment in `meltano.yml`" in exported.stdout
