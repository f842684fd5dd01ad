"""What discovery may reuse (`contents/reuse.py`), what a content stream records it reads
(`contents/identity.py`), and discovery's memory on disk (`contents/cache.py`): tables of cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tap_sequentum.contents.cache import DiscoveryCache, default_folder, file_name, folder_of
from tap_sequentum.contents.fetch import RunFile
from tap_sequentum.contents.identity import (
    Adoption,
    StreamIdentity,
    adopt,
    adoptions,
    catalog_identities,
    kept_streams,
    with_identities,
)
from tap_sequentum.contents.infer import Kind
from tap_sequentum.contents.naming import AgentStreams
from tap_sequentum.contents.reuse import (
    AgentMemory,
    Look,
    TableMemory,
    first_look,
    learned,
    refreshed,
    remembered,
    same_runs,
)
from tap_sequentum.contents.runs import FileProblem, unrouted_warning

HINT = "2026-03-01T08:00:00.000000Z|9|3|"
SAMPLED = AgentMemory(name="Shop", hint=HINT, sampling="s1", read_runs=(7, 5), complete=True)

# -- first_look: how much of an agent discovery reads ------------------------------------------------------


@pytest.mark.parametrize(
    ("hint", "memory", "look"),
    [
        (HINT, None, Look.SAMPLE),  # never seen
        (None, None, Look.SAMPLE),
        (HINT, SAMPLED, Look.REUSE),  # the list entry says nothing changed
        ("2026-03-02T08:00:00.000000Z|9|3|", SAMPLED, Look.RUNS),  # it ran: are there other runs to read?
        ("2026-03-01T08:00:00.000000Z|1|3|", SAMPLED, Look.RUNS),  # its last run's status changed
        ("2026-03-01T08:00:00.000000Z|9|4|", SAMPLED, Look.RUNS),  # a new version
        (None, SAMPLED, Look.RUNS),  # no hint: a missing hint never skips anything
        (None, AgentMemory(sampling="s1"), Look.RUNS),  # remembered without a hint either
        (HINT, AgentMemory(hint=HINT, sampling="other settings"), Look.SAMPLE),
        (HINT, AgentMemory(hint=HINT, sampling=None), Look.SAMPLE),  # learnt from a sync, never sampled
    ],
)
def test_first_look(hint, memory, look):
    assert first_look(hint, memory, "s1") is look


@pytest.mark.parametrize(
    ("read", "complete", "candidates", "same"),
    [
        ((7,), True, [7, 5, 3], True),  # the newest run with data is the one sampled
        ((7,), True, [9, 7, 5], False),  # a newer run with data comes first
        ((7, 5), True, [7, 5], True),  # two runs wanted, the same two
        ((8, 7), True, [7, 5], False),  # the run read first is gone (removed)
        ((), False, [], True),  # no finished run then, none now
        ((), False, [3], False),  # a first finished run
        ((7, 5), False, [7, 5], True),  # ran out of runs then (none had data): the same runs now
        ((7, 5), False, [7, 5, 4], False),  # ran out, and a run more to read (an older one that finished)
    ],
)
def test_same_runs(read, complete, candidates, same):
    memory = AgentMemory(read_runs=read, complete=complete)
    assert same_runs(memory, candidates) is same


# -- what a sample, a reuse and a sync leave in memory ------------------------------------------------------


def test_a_sample_adds_tables_widens_kinds_and_keeps_names():
    before = AgentMemory(
        name="Shop",
        sampling="s1",
        base="shop",
        own="shop",
        tables={
            "shop": TableMemory("shop", {"sku": Kind.STRING, "qty": Kind.INTEGER}),
            "reviews": TableMemory("shop__reviews", {"stars": Kind.INTEGER}),  # only in older runs
        },
    )
    streams = AgentStreams("shop", "shop", {"shop": "shop", "reviews": "shop__reviews", "faq": "shop__faq"})
    after = remembered(
        before,
        name="Shop EU",
        hint=HINT,
        sampling="s1",
        read_runs=[9],
        complete=True,
        samples={"shop": {"qty": Kind.NUMBER, "colour": Kind.STRING}, "faq": {"q": Kind.STRING}},
        streams=streams,
    )
    assert after.tables == {
        "shop": TableMemory("shop", {"sku": Kind.STRING, "qty": Kind.NUMBER, "colour": Kind.STRING}),
        "reviews": TableMemory("shop__reviews", {"stars": Kind.INTEGER}),  # never forgotten
        "faq": TableMemory("shop__faq", {"q": Kind.STRING}),
    }
    assert (after.name, after.hint, after.read_runs, after.complete) == ("Shop EU", HINT, (9,), True)


def test_kinds_learnt_with_other_settings_are_learnt_again_but_names_stay():
    before = AgentMemory(sampling="infer", tables={"shop": TableMemory("shop", {"qty": Kind.INTEGER})})
    after = remembered(
        before,
        name="Shop",
        hint=None,
        sampling="strings",
        read_runs=[9],
        complete=True,
        samples={"shop": {"qty": Kind.STRING}},
        streams=AgentStreams("shop", "shop", {"shop": "shop"}),
    )
    assert after.tables == {"shop": TableMemory("shop", {"qty": Kind.STRING})}


def test_a_reuse_takes_the_name_and_hint_and_names_tables_a_sync_met():
    before = learned(SAMPLED, ["reviews"])
    assert before.tables == {"reviews": TableMemory()}
    assert learned(before, ["reviews"]) is before  # already known: unchanged
    after = refreshed(
        before, name="Shop EU", hint=None, streams=AgentStreams("shop", None, {"reviews": "shop__reviews"})
    )
    assert after.tables == {"reviews": TableMemory("shop__reviews")}
    assert (after.name, after.hint, after.read_runs, after.sampling) == ("Shop EU", None, (7, 5), "s1")
    assert learned(None, ["t"]).sampling is None  # a new agent's table: it is sampled at the next discovery


def test_memory_round_trips_through_json():
    memory = AgentMemory(
        name="Société",
        hint=HINT,
        sampling="s1",
        read_runs=(7, 5),
        complete=True,
        base="societe",
        own="societe",
        tables={"prix": TableMemory("societe__prix", {"Prix (€)": Kind.STRING, "n": Kind.INTEGER})},
    )
    assert AgentMemory.from_json(json.loads(json.dumps(memory.to_json()))) == memory
    with pytest.raises(TypeError):
        AgentMemory.from_json({"hint": 7})
    with pytest.raises(ValueError):
        AgentMemory.from_json({"tables": {"t": {"columns": {"c": "decimal"}}}})


# -- identity: what a content stream reads, in the catalog and in the state ----------------------------------

OWN = StreamIdentity((1005,), "price_watch", agent_table=True)
REVIEWS = StreamIdentity((1007,), "reviews")


def test_identity_metadata_round_trips_and_old_catalogs_record_none():
    assert StreamIdentity.from_metadata(OWN.metadata()) == OWN
    assert StreamIdentity.from_metadata(REVIEWS.metadata()) == REVIEWS
    assert "tap-sequentum.agent-table" not in REVIEWS.metadata()
    for metadata in (
        {},
        {"tap-sequentum.agent-ids": [], "tap-sequentum.export-table": "t"},
        {"tap-sequentum.agent-ids": ["1"], "tap-sequentum.export-table": "t"},
        {"tap-sequentum.agent-ids": [True], "tap-sequentum.export-table": "t"},
        {"tap-sequentum.agent-ids": [1]},
    ):
        assert StreamIdentity.from_metadata(metadata) is None, metadata


def test_the_catalog_carries_identities_through_json():
    catalog = {
        "streams": [
            {
                "tap_stream_id": "price_watch",
                "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}],
            },
            {"tap_stream_id": "shop__reviews", "metadata": []},
            {"tap_stream_id": "runs", "metadata": [{"breadcrumb": [], "metadata": {}}]},
        ]
    }
    written = with_identities(catalog, {"price_watch": OWN, "shop__reviews": REVIEWS})
    assert written["streams"][0]["metadata"][0]["metadata"]["selected"] is True
    assert catalog_identities(json.loads(json.dumps(written))) == {
        "price_watch": OWN,
        "shop__reviews": REVIEWS,
    }


def test_a_catalog_keeps_the_names_a_sync_routes_by():
    merged = StreamIdentity((1005, 1006), "products")
    assert kept_streams({"price_watch": OWN, "shop__reviews": REVIEWS, "products": merged}) == {
        1005: AgentStreams(
            "price_watch", "price_watch", {"price_watch": "price_watch", "products": "products"}
        ),
        1006: AgentStreams(None, None, {"products": "products"}),
        1007: AgentStreams(None, None, {"reviews": "shop__reviews"}),
    }


def state_of(identity: StreamIdentity, bookmark: str = "2026-01-01T00:00:00Z", **extra) -> dict:
    return {"replication_key_value": bookmark, "seen_run_ids": [1, 2], **identity.state(), **extra}


RENAMED = StreamIdentity((1005,), "price_watch")  # the own table's files, under the agent's new name
DECORATED = StreamIdentity((1005,), "price_watch_eu", agent_table=True)  # files named with decoration only


@pytest.mark.parametrize(
    ("bookmarks", "identities", "found"),
    [
        # The agent's own table, discovered again under the agent's new name (no memory).
        ({"pw": state_of(OWN)}, {"pw_eu__pw": RENAMED}, [Adoption("pw_eu__pw", "pw")]),
        # ... and its files named only with run decoration: the agent's own table under its new slug.
        ({"pw": state_of(OWN)}, {"pw_eu": DECORATED}, [Adoption("pw_eu", "pw")]),
        # The old stream is in this sync too: it keeps its state, nothing is adopted.
        ({"price_watch": state_of(OWN)}, {"price_watch": OWN, "price_watch_eu": DECORATED}, []),
        # The new stream has state of its own already.
        ({"price_watch": state_of(OWN), "pw2": state_of(OWN)}, {"pw2": OWN}, []),
        # Another agent, or another table of the agent: not the same files.
        ({"price_watch": state_of(OWN)}, {"other": StreamIdentity((1006,), "price_watch", True)}, []),
        ({"shop__reviews": state_of(REVIEWS)}, {"shop_eu__faq": StreamIdentity((1007,), "faq")}, []),
        # State written before identities were recorded, and merged streams (several agents): never adopted.
        ({"price_watch": {"seen_run_ids": [1]}}, {"pw": OWN}, []),
        ({"price_watch": state_of(OWN)}, {"products": StreamIdentity((1005, 1006), "price_watch")}, []),
        # Renamed twice: the state that got furthest.
        ({"a": state_of(OWN, "2026-01"), "b": state_of(OWN, "2026-02")}, {"c": OWN}, [Adoption("c", "b")]),
    ],
)  # fmt: skip
def test_adoptions(bookmarks, identities, found):
    assert adoptions(bookmarks, identities) == found


def test_adopting_copies_the_state_records_the_new_identity_and_drops_the_source():
    bookmarks = {"price_watch": state_of(OWN), "runs": {"partitions": []}}
    identities = {
        "price_watch_eu__price_watch": StreamIdentity((1005,), "price_watch"),
        "price_watch_eu": StreamIdentity((1005,), "price_watch_eu", agent_table=True),
    }
    adopt(bookmarks, adoptions(bookmarks, identities), identities)
    assert set(bookmarks) == {"runs", "price_watch_eu__price_watch", "price_watch_eu"}
    assert bookmarks["price_watch_eu"] == {**state_of(OWN), "export_table": "price_watch_eu"}
    assert bookmarks["price_watch_eu__price_watch"] == {
        "replication_key_value": "2026-01-01T00:00:00Z",
        "seen_run_ids": [1, 2],
        "agent_id": 1005,
        "export_table": "price_watch",
    }
    bookmarks["price_watch_eu"]["seen_run_ids"].append(3)
    assert bookmarks["price_watch_eu__price_watch"]["seen_run_ids"] == [1, 2], "copies, not shared"


# -- the one warning about data no stream takes -------------------------------------------------------------


def problem(agent_id: int, table: str, file_id: int) -> FileProblem:
    item = RunFile(agent_id, 1, None, file_id, f"{table}.csv", 10)
    return FileProblem(item, f"s__{table}", "no stream", "no_stream", table)


def test_the_unrouted_warning_names_agents_and_tables_once():
    problems = [problem(1010, "fresh", 1), problem(1010, "fresh", 2), problem(1007, "reviews", 3)]
    problems.append(FileProblem(problems[0].item, "s", "bad", "skipped"))  # not about streams: not counted
    names = {1007: "Shop crawler", 1010: "Fresh", 1011: "Quiet"}
    line = unrouted_warning(problems, names, uncovered=[1010, 1011], exported={1011: 3, 1012: 0})
    assert line is not None and "\n" not in line
    assert line.startswith(
        "Data files that no stream of the catalog takes: agent 1007 'Shop crawler' (table reviews: 1 file); "
        "agent 1010 'Fresh' (no content stream; table fresh: 2 files); agent 1011 'Quiet' (no content "
        "stream; 3 runs exported rows). Discover again and select their streams"
    )
    assert line.endswith(
        "each file is in file_errors (no_stream); select run_files to have each of their files in "
        "file_errors."
    )
    assert unrouted_warning([], names, uncovered=[1011], exported={1011: 0}) is None


# -- where the memory lives -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "platform", "folder"),
    [
        ({"HOME": "/home/u"}, "linux", "/home/u/.cache/tap-sequentum"),
        ({"HOME": "/home/u", "XDG_CACHE_HOME": "/xdg"}, "linux", "/xdg/tap-sequentum"),
        ({"HOME": "/Users/u"}, "darwin", "/Users/u/Library/Caches/tap-sequentum"),
        ({"HOME": "C:/Users/u", "LOCALAPPDATA": "C:/Local"}, "win32", "C:/Local/tap-sequentum/Cache"),
    ],
)
def test_the_default_folder_is_the_users_cache(environ, platform, folder):
    assert default_folder(environ, platform) == Path(folder)
    assert folder_of("auto", environ, platform) == Path(folder)


@pytest.mark.parametrize(
    ("setting", "folder"), [("off", None), ("OFF", None), ("", None), ("/mnt/v", "/mnt/v")]
)
def test_the_setting_places_or_disables_the_memory(setting, folder):
    assert folder_of(setting) == (Path(folder) if folder else None)


def test_one_file_per_address_and_naming_settings():
    plain = file_name("https://dashboard.sequentum.com", {"merge_export_tables": False})
    assert plain.startswith("discovery-dashboard_sequentum_com-") and plain.endswith(".json")
    assert plain == file_name("https://dashboard.sequentum.com/", {"merge_export_tables": False})
    assert plain != file_name("https://dashboard.sequentum.com", {"merge_export_tables": True})
    assert plain != file_name("http://127.0.0.1:8765", {"merge_export_tables": False})


def test_writers_merge_per_agent_and_an_unreadable_file_is_ignored(tmp_path):
    path = tmp_path / "m" / "discovery.json"
    shard_1 = DiscoveryCache(path, "https://x", {})
    shard_1.save({1: AgentMemory(name="a")})
    DiscoveryCache(path, "https://x", {}).save({2: AgentMemory(name="b")})
    assert {a: m.name for a, m in shard_1.load().items()} == {1: "a", 2: "b"}
    path.write_text(json.dumps({"version": 99, "agents": {}}))
    assert shard_1.load() == {}
    path.write_text(json.dumps({"version": 1, "agents": {"1": {"tables": {"t": {"columns": {"c": "?"}}}}}}))
    assert shard_1.load() == {}
    assert DiscoveryCache(None, "https://x", {}).load() == {}
