"""A living organisation (issue 19): renamed agents, new agents and new export tables flow on their own, and
discovering again costs only what changed. Each test is a row of the issue's table, over HTTP to the sandbox:
what happened before, and what happens now."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from support import SyncResult, config_for, parse_messages, run_cli, running, write_json

from sequentum_emulator import Sandbox
from tap_sequentum.contents.identity import AGENT_IDS, AGENT_TABLE, EXPORT_TABLE

PRICES = b"sku,price\nPW-SECRET-001,1.50\nPW-SECRET-002,2.50\n"
NEW_PRICES = b"sku,price\nPW-SECRET-003,3.50\n"
SHOP = b"sku,stars\nS-1,5\n"


def cli(tmp_path: Path, config: dict, *args: str, state: dict | None = None, catalog: dict | None = None):
    """The tap as Meltano runs it: a config file, and a catalog and a state file when given."""
    argv = ["--config", str(write_json(tmp_path / "config.json", config)), *args]
    if catalog is not None:
        argv += ["--catalog", str(write_json(tmp_path / "catalog.json", catalog))]
    if state is not None:
        argv += ["--state", str(write_json(tmp_path / "state.json", state))]
    proc = run_cli(argv)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def discover(tmp_path: Path, config: dict) -> tuple[dict, str]:
    proc = cli(tmp_path, config, "--discover")
    return json.loads(proc.stdout), proc.stderr


def synced(tmp_path: Path, config: dict, catalog: dict, state: dict | None = None) -> SyncResult:
    proc = cli(tmp_path, config, catalog=catalog, state=state)
    result = SyncResult(parse_messages(proc.stdout), proc.stdout, proc.stderr)
    if result.state is None:
        result.state = state
    return result


def streams(catalog: dict) -> set[str]:
    return {entry["tap_stream_id"] for entry in catalog["streams"]}


def root_metadata(catalog: dict, stream: str) -> dict:
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == stream)
    return next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])


def skus(result: SyncResult, stream: str) -> list[str]:
    return [record["sku"] for record in result.records.get(stream, [])]


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| WARNING" in line]


@pytest.fixture
def sandbox():
    """A sandbox without the demo's agents: each test builds the organisation it is about."""
    yield from running(seed_demo=False)


@pytest.fixture
def org(sandbox: Sandbox) -> dict:
    """`Price Watch` (its export file `Price Watch.csv`) and `Shop`, each with a finished run."""
    price_watch = sandbox.add_agent("Price Watch")["id"]
    shop = sandbox.add_agent("Shop")["id"]
    sandbox.add_run(price_watch, files=[("Price Watch.csv", PRICES)])
    sandbox.add_run(shop, files=[("shop.csv", SHOP)])
    return {"price_watch": price_watch, "shop": shop}


def rename_and_run_again(sandbox: Sandbox, agent_id: int) -> None:
    """Sequentum renames the agent; its export file keeps its name; it runs again."""
    sandbox.rename_agent(agent_id, "Price Watch EU")
    sandbox.add_run(agent_id, files=[("Price Watch.csv", NEW_PRICES)])


# -- an agent was renamed ------------------------------------------------------------------------------


def test_the_catalog_records_what_each_content_stream_reads(sandbox, org, tmp_path):
    catalog, _ = discover(tmp_path, config_for(sandbox))
    recorded = root_metadata(catalog, "price_watch")
    assert {k: recorded[k] for k in (AGENT_IDS, EXPORT_TABLE, AGENT_TABLE)} == {
        AGENT_IDS: [org["price_watch"]],
        EXPORT_TABLE: "price_watch",
        AGENT_TABLE: True,
    }
    assert root_metadata(catalog, "shop")[AGENT_IDS] == [org["shop"]]
    assert AGENT_IDS not in root_metadata(catalog, "runs")


def test_a_renamed_agent_flows_on_with_the_cached_catalog(sandbox, org, tmp_path):
    """Before: `Catalog stream 'price_watch' is selected but matches no agent`, exit 1, no record at all."""
    config = config_for(sandbox)
    catalog, _ = discover(tmp_path, config)
    first = synced(tmp_path, config, catalog)
    assert skus(first, "price_watch") == ["PW-SECRET-001", "PW-SECRET-002"]
    rename_and_run_again(sandbox, org["price_watch"])
    second = synced(tmp_path, config, catalog, first.state)
    assert skus(second, "price_watch") == ["PW-SECRET-003"], "the new run only, in the same stream"
    assert {r["name"] for r in second.records["agents"]} == {"Price Watch EU"}
    assert not second.records.get("file_errors")
    assert not warnings(second.stderr)
    bookmark = second.state["bookmarks"]["price_watch"]
    assert (bookmark["agent_id"], bookmark["export_table"], bookmark["agent_table"]) == (
        org["price_watch"],
        "price_watch",
        True,
    )


def test_discovering_again_keeps_a_renamed_agents_stream_names(sandbox, org, tmp_path):
    """Before: the table became `price_watch_eu__price_watch` and the whole history was extracted again."""
    config = config_for(sandbox)
    catalog, _ = discover(tmp_path, config)
    first = synced(tmp_path, config, catalog)
    rename_and_run_again(sandbox, org["price_watch"])
    again, log = discover(tmp_path, config)
    assert streams(again) == streams(catalog)
    assert f"Agent {org['price_watch']} was renamed 'Price Watch' -> 'Price Watch EU'" in log
    second = synced(tmp_path, config, again, first.state)
    assert skus(second, "price_watch") == ["PW-SECRET-003"]
    assert set(second.records) & {"price_watch_eu", "price_watch_eu__price_watch"} == set()


def test_a_sync_without_a_catalog_names_streams_as_discovery_remembers_them(sandbox, org, tmp_path):
    config = config_for(sandbox)
    discover(tmp_path, config)
    rename_and_run_again(sandbox, org["price_watch"])
    proc = cli(tmp_path, config)
    result = SyncResult(parse_messages(proc.stdout), proc.stdout, proc.stderr)
    assert sorted(skus(result, "price_watch")) == ["PW-SECRET-001", "PW-SECRET-002", "PW-SECRET-003"]
    assert not [name for name in result.records if name.startswith("price_watch_eu")]


def test_without_discoverys_memory_the_renamed_stream_continues_the_old_ones_state(sandbox, org, tmp_path):
    """Where no disk outlives a run, the stream's name changes, but not one old row is extracted again."""
    config = config_for(sandbox, discovery_cache="off")
    catalog, _ = discover(tmp_path, config)
    first = synced(tmp_path, config, catalog)
    rename_and_run_again(sandbox, org["price_watch"])
    again, _ = discover(tmp_path, config)
    assert "price_watch_eu__price_watch" in streams(again) and "price_watch" not in streams(again)
    second = synced(tmp_path, config, again, first.state)
    assert skus(second, "price_watch_eu__price_watch") == ["PW-SECRET-003"]
    (line,) = warnings(second.stderr)
    assert "Stream price_watch_eu__price_watch continues from the state of stream price_watch" in line
    bookmarks = second.state["bookmarks"]
    assert "price_watch" not in bookmarks
    assert bookmarks["price_watch_eu__price_watch"]["export_table"] == "price_watch"
    third = synced(tmp_path, config, again, second.state)
    assert not skus(third, "price_watch_eu__price_watch") and not warnings(third.stderr)


def test_an_old_catalog_with_a_renamed_agent_warns_once_and_syncs_the_rest(sandbox, org, tmp_path):
    """A catalog that records no agent ids (discovered before this version) falls back to names."""
    config = config_for(sandbox)
    catalog, _ = discover(tmp_path, config)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            item["metadata"] = {
                k: v for k, v in item["metadata"].items() if not k.startswith("tap-sequentum.")
            }
    first = synced(tmp_path, config, catalog)
    assert skus(first, "price_watch") == ["PW-SECRET-001", "PW-SECRET-002"]
    rename_and_run_again(sandbox, org["price_watch"])
    second = synced(tmp_path, config, catalog, first.state)
    assert "price_watch" not in second.records
    assert [r["configName"] for r in second.records["runs"]] == ["Price Watch EU"], "the other streams sync"
    lines = warnings(second.stderr)
    assert any("Catalog stream(s) price_watch are selected but read no agent" in line for line in lines)
    # Its files have no stream now: reported, like a new agent's.
    assert {e["action"] for e in second.records["file_errors"]} == {"no_stream"}


# -- a new agent was created -----------------------------------------------------------------------------


def test_a_new_agents_files_are_reported_not_silently_left(sandbox, org, tmp_path):
    """Before: its runs, run files and costs arrived, its rows never did, and not one warning said so."""
    config = config_for(sandbox)
    catalog, _ = discover(tmp_path, config)
    first = synced(tmp_path, config, catalog)
    fresh = sandbox.add_agent("Fresh Agent")["id"]
    sandbox.add_run(fresh, files=[("fresh_agent.csv", SHOP)])
    sandbox.add_run(fresh, files=[("fresh_agent.csv", SHOP)])
    second = synced(tmp_path, config, catalog, first.state)
    errors = second.records["file_errors"]
    assert (
        sorted((e["agent_id"], e["action"], e["stream"]) for e in errors)
        == [(fresh, "no_stream", "fresh_agent")] * 2
    )
    assert {e["file_id"] for e in errors} == {
        f["id"] for f in second.records["run_files"] if f["agent_id"] == fresh and f["fileType"] == 1
    }
    (line,) = warnings(second.stderr)
    assert f"agent {fresh} 'Fresh Agent' (no content stream; table fresh_agent: 2 files)" in line
    assert "Discover again" in line
    # The next discovery has its stream, and the sync from it takes every row.
    again, _ = discover(tmp_path, config)
    third = synced(tmp_path, config, again, second.state)
    assert len(third.records["fresh_agent"]) == 2 and not warnings(third.stderr)


def test_without_run_files_a_new_agent_gets_a_look_of_its_own(sandbox, org, tmp_path):
    config = config_for(sandbox)
    catalog, _ = discover(tmp_path, config)
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] in ("run_files", "runs", "run_costs"):
            for item in entry["metadata"]:
                if item["breadcrumb"] == []:
                    item["metadata"]["selected"] = False
    fresh = sandbox.add_agent("Fresh Agent")["id"]
    sandbox.add_run(fresh, files=[("fresh_agent.csv", SHOP)])
    sandbox.clear_requests()
    result = synced(tmp_path, config, catalog)
    (line,) = warnings(result.stderr)
    assert f"agent {fresh} 'Fresh Agent' (no content stream; 1 run exported rows)" in line
    assert "select run_files" in line
    looked = [
        r.path
        for r in sandbox.requests
        if f"/agent/{fresh}/" in r.path and "versions" not in r.path and "schedules" not in r.path
    ]
    assert looked == [f"/api/v1/agent/{fresh}/runs"], "one request: its runs list"


# -- an agent's runs gained an export table ---------------------------------------------------------------


def test_a_new_export_table_is_reported_and_the_next_discovery_names_it_for_free(sandbox, tmp_path):
    """Before: its files went to file_errors with a line saying "discover again" per file, and discovering
    again found the table only if the newest runs held it."""
    shop = sandbox.add_agent("Shop")["id"]
    sandbox.add_run(
        shop, created="2026-01-01T00:00:00Z", files=[("Products.csv", SHOP), ("Reviews.csv", SHOP)]
    )
    sandbox.add_run(shop, created="2026-01-02T00:00:00Z", files=[("Products.csv", SHOP)])
    config = config_for(sandbox)
    catalog, _ = discover(tmp_path, config)  # samples the newest run: no reviews there
    assert "shop__reviews" not in streams(catalog)
    first = synced(tmp_path, config, catalog)
    assert [(e["stream"], e["action"]) for e in first.records["file_errors"]] == [
        ("shop__reviews", "no_stream")
    ]
    (line,) = warnings(first.stderr)
    assert f"agent {shop} 'Shop' (table reviews: 1 file)" in line and "no content stream" not in line
    sandbox.clear_requests()
    again, _ = discover(tmp_path, config)
    assert [r.path for r in sandbox.requests] == ["/api/v1/agent/all"], "learnt from the sync: no request"
    assert "shop__reviews" in streams(again)
    second = synced(tmp_path, config, again, first.state)
    assert len(second.records["shop__reviews"]) == 1, "the table's history, once"
    assert "shop__products" not in second.records


def test_a_table_in_a_new_run_costs_its_agents_three_requests(sandbox, org, tmp_path):
    config = config_for(sandbox)
    discover(tmp_path, config)
    sandbox.add_run(org["shop"], files=[("shop.csv", SHOP), ("Reviews.csv", SHOP)])
    sandbox.clear_requests()
    again, _ = discover(tmp_path, config)
    assert "shop__reviews" in streams(again)
    assert len(sandbox.requests) == 1 + 4  # the list; runs list, file list, one sample per table


# -- nothing changed, discovery runs again -----------------------------------------------------------------


def build(sandbox: Sandbox, agents: int) -> list[int]:
    ids = []
    for n in range(agents):
        agent_id = sandbox.add_agent(f"Agent {n:04d}")["id"]
        sandbox.add_run(agent_id, files=[(f"agent_{n:04d}.csv", b"sku,price\nA,1\n")])
        ids.append(agent_id)
    return ids


def discovery_requests(sandbox: Sandbox, tmp_path: Path, config: dict) -> int:
    sandbox.clear_requests()
    discover(tmp_path, config)
    return len(sandbox.requests)


@pytest.mark.parametrize("hints", [True, False])
def test_discovering_an_unchanged_organisation_again_costs_what_changed(tmp_path, hints):
    """Before: 3 requests per agent every time (1,000 agents: 3,010 before the sync starts)."""
    agents = 120
    with Sandbox(seed_demo=False, list_hints=hints) as sandbox:
        ids = build(sandbox, agents)
        config = config_for(sandbox)
        pages = math.ceil(agents / 100)
        assert discovery_requests(sandbox, tmp_path, config) == pages + 3 * agents  # nothing remembered
        per_agent = 0 if hints else 1  # without hints, each agent's runs list says nothing changed
        assert discovery_requests(sandbox, tmp_path, config) == pages + per_agent * agents
        sandbox.rename_agent(ids[0], "Renamed")  # the name is in the list: nothing to read
        assert discovery_requests(sandbox, tmp_path, config) == pages + per_agent * agents
        for agent_id in ids[:3]:  # 2.5 % ran again
            sandbox.add_run(agent_id, files=[("agent.csv", b"sku,price\nB,2\n")])
        changed = 3 * 3 if hints else 3 * 2 + agents  # runs list, file list, sample (runs lists: read anyway)
        assert discovery_requests(sandbox, tmp_path, config) == pages + changed


def test_discoverys_memory_holds_no_row_and_no_key_and_losing_it_costs_requests_only(
    sandbox, org, tmp_path, discovery_memory
):
    config = config_for(sandbox)
    catalog, _ = discover(tmp_path, config)
    (memory,) = discovery_memory.glob("discovery-*.json")
    text = memory.read_text()
    assert "SECRET" not in text and sandbox.api_key not in text
    assert json.loads(text)["agents"][str(org["price_watch"])]["tables"]["price_watch"]["columns"] == {
        "sku": "string",
        "price": "number",
    }
    memory.write_text("{not json")
    again, log = discover(tmp_path, config)
    assert again == catalog
    assert "could not be read" in log
    (tmp_path / "a file").write_text("")  # a folder that cannot be made: discovery goes on, says so
    again, log = discover(tmp_path, {**config, "discovery_cache": str(tmp_path / "a file" / "cache")})
    assert again == catalog
    assert "could not be written" in log


def test_discovery_cache_off_or_in_a_folder_of_ones_choice(sandbox, org, tmp_path, discovery_memory):
    discover(tmp_path, config_for(sandbox, discovery_cache="off"))
    assert not discovery_memory.exists()
    volume = tmp_path / "volume"
    discover(tmp_path, config_for(sandbox, discovery_cache=str(volume)))
    assert len(list(volume.glob("discovery-*.json"))) == 1
