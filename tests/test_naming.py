"""Content stream names."""

from __future__ import annotations

import pytest

from tap_sequentum.contents.naming import AgentStreams, Router, export_table, fit
from tap_sequentum.contents.naming import agent_stream_names as stream_names
from tap_sequentum.text import slugify


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Société Générale \u2013 prix", "societe_generale_prix"),
        ("steam", "steam"),
        ("ACDelco parts", "acdelco_parts"),
        ("real-estate listings", "real_estate_listings"),
        ("  Price   Monitor!! ", "price_monitor"),
        ("Straße Ørsted Łódź", "strasse_orsted_lodz"),
        ("東京", ""),
        ("", ""),
        (None, ""),
        ("2025 prices", "2025_prices"),
    ],
)
def test_slugify(name, slug):
    assert slugify(name) == slug


def test_collisions_keep_the_oldest_agent_plain():
    names = stream_names([(1006, "price-monitor"), (1005, "Price Monitor"), (1, "steam")])
    assert names == {1: "steam", 1005: "price_monitor", 1006: "price_monitor_1006"}


def test_reserved_and_empty_names():
    names = stream_names([(7, "Runs"), (8, "東京"), (9, "agents")], reserved={"runs", "agents"})
    assert names == {7: "runs_7", 8: "agent_8", 9: "agents_9"}


def test_names_do_not_depend_on_listing_order():
    agents = [(3, "a b"), (1, "A-B"), (2, "a_b")]
    assert stream_names(agents) == stream_names(list(reversed(agents)))


def test_a_suffixed_name_never_lands_on_another_agents_name():
    names = stream_names([(900, "shop 1002"), (1001, "Shop"), (1002, "shop")])
    assert len(set(names.values())) == 3
    assert names[900] == "shop_1002"
    assert names[1001] == "shop"


@pytest.mark.parametrize(
    ("file_name", "table"),
    [
        ("steam.csv", "steam"),
        ("Products.csv", "products"),
        ("Products_20260105_083000.csv", "products"),
        ("Reviews_50123.csv", "reviews"),
        ("prix_2025-10-31.csv", "prix"),
        ("steam_50123_2.csv", "steam"),  # run id and parallel session
        ("export-2025-10-31T08-30-00Z.json", "export"),
        ("feed_20260105T083000Z.xml", "feed"),
        ("orders_3f2b9c1e-8d4a-4e5f-9a6b-0c1d2e3f4a5b.csv", "orders"),
        ("products_reviews.csv", "products_reviews"),
        ("2025 prices.csv", "2025_prices"),
        ("export-v2.csv", "export_v2"),
        ("50123.csv", ""),  # only decoration: the agent's own table
        ("Café Crème.csv", "cafe_creme"),
        ("C:\\exports\\Listings.CSV", "listings"),
        ("", ""),
        (None, ""),
    ],
)
def test_export_table_from_the_file_name(file_name, table):
    assert export_table(file_name) == table


def test_a_mapping_wins_over_the_rule():
    mapping = {"*_rev_*.csv": "Reviews", "top 100*": "top_100"}
    assert export_table("shop_rev_2026.csv", mapping) == "reviews"
    assert export_table("Top 100 - 2026-01-01.csv", mapping) == "top_100"
    assert export_table("Products.csv", mapping) == "products"


AGENTS = {1001: "steam", 1007: "Shop crawler", 1005: "Price Monitor", 1006: "price-monitor"}


def test_an_agents_own_table_keeps_the_agent_name_and_other_tables_add_theirs():
    router = Router(AGENTS, frozenset({"runs"}))
    assert router.stream_of(1001, "steam.csv") == "steam"
    assert router.stream_of(1001, "steam_50123.csv") == "steam"
    assert router.stream_of(1001, "50123.csv") == "steam"
    assert router.stream_of(1007, "Products.csv") == "shop_crawler__products"
    assert router.stream_of(1007, "Reviews_50123.csv") == "shop_crawler__reviews"
    assert router.stream_of(1007, "shop_crawler.csv") == "shop_crawler"
    assert router.stream_of(1006, "price_monitor.json") == "price_monitor_1006"
    assert router.agents_of("shop_crawler__reviews") == [1007]
    assert router.agents_of("price_monitor_1006") == [1006]
    assert router.agents_of("price_monitor") == [1005]
    assert router.agents_of("unknown") == []


def test_a_second_table_never_renames_the_first():
    """The name depends on (agent, table) only, so the same file goes to the same stream before and
    after the agent gains a table."""
    router = Router(AGENTS)
    before = router.stream_of(1007, "Products.csv")
    assert router.stream_of(1007, "Products_2026-01-01.csv") == before
    assert router.stream_of(1007, "Reviews.csv") != before


def test_merged_tables_are_named_after_the_table_across_agents():
    router = Router(AGENTS, frozenset({"runs"}), merge=True)
    assert router.stream_of(1005, "price_monitor.tsv") == "price_monitor"
    assert router.stream_of(1006, "price_monitor.json") == "price_monitor"
    assert router.stream_of(1007, "Products.csv") == "products"
    assert router.stream_of(1001, "runs.csv") == "runs_table"  # a metadata stream's name is taken
    assert router.agents_of("products") == sorted(AGENTS)


def test_names_fit_in_63_characters_and_stay_unique():
    long_agent = "Very long agent name " * 5
    router = Router({1: long_agent})
    one = router.stream_of(1, "a really long export table name that goes on and on.csv")
    two = router.stream_of(1, "a really long export table name that goes on and on and on.csv")
    assert len(one) <= 63 and len(two) <= 63 and one != two
    assert router.agents_of(one) == [1] and router.agents_of(two) == [1]
    assert len(router.stream_of(1, "x.csv")) <= 63
    assert fit("short") == "short"


# -- names are kept: a table is (agent id, export table), its stream name chosen once ------------------------

PRICE_WATCH = {"price_watch": "price_watch", "reviews": "price_watch__reviews"}
KEPT = {
    1005: AgentStreams("price_watch", "price_watch", PRICE_WATCH),
    1007: AgentStreams("shop_crawler", None, {"products": "shop_crawler__products"}),
}
RENAMED = {1005: "Price Watch EU", 1007: "Products", 1010: "Price Watch"}


@pytest.mark.parametrize(
    ("agent_id", "file_name", "table", "stream"),
    [
        # The export file keeps the agent's old name: the table it always was.
        (1005, "Price Watch.csv", "price_watch", "price_watch"),
        (1005, "Price Watch_50123.csv", "price_watch", "price_watch"),
        # Only run decoration, or named like the agent is called now: the agent's own table.
        (1005, "50123.csv", "price_watch", "price_watch"),
        (1005, "Price Watch EU.csv", "price_watch", "price_watch"),
        (1005, "Reviews_2026-01-01.csv", "reviews", "price_watch__reviews"),
        # A table seen for the first time is named after the kept agent part.
        (1005, "FAQ.csv", "faq", "price_watch__faq"),
        # An agent renamed like one of its tables: the table already named wins.
        (1007, "Products.csv", "products", "shop_crawler__products"),
        (1007, "12.csv", "products", "shop_crawler__products"),
        # A new agent named like the renamed one does not take its name.
        (1010, "Price Watch.csv", "price_watch", "price_watch_1010"),
        (1010, "Reviews.csv", "reviews", "price_watch_1010__reviews"),
    ],
)
def test_kept_names_survive_renames(agent_id, file_name, table, stream):
    router = Router(RENAMED, frozenset({"runs"}), kept=KEPT)
    assert router.table_of(agent_id, file_name) == table
    assert router.stream_of(agent_id, file_name) == stream


def test_what_discovery_keeps_for_an_agent():
    router = Router(RENAMED, kept=KEPT)
    assert router.streams_of(1005, ["faq"]) == AgentStreams(
        "price_watch",
        "price_watch",
        {"price_watch": "price_watch", "reviews": "price_watch__reviews", "faq": "price_watch__faq"},
    )
    assert router.streams_of(1010, ["price_watch"]) == AgentStreams(
        "price_watch_1010", "price_watch", {"price_watch": "price_watch_1010"}
    )
    assert router.streams_of(1007, []).own is None


def test_without_kept_names_the_rule_names_a_renamed_agents_table_after_its_new_name():
    """What discovery does with no memory (and what state adoption then makes up for)."""
    router = Router({1005: "Price Watch EU"})
    assert router.stream_of(1005, "Price Watch.csv") == "price_watch_eu__price_watch"
    assert router.stream_of(1005, "50123.csv") == "price_watch_eu"
