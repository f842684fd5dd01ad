"""Content stream names."""

from __future__ import annotations

import pytest

from tap_sequentum.contents.naming import stream_names
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
