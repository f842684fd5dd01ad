"""A real warehouse load: `meltano run tap-sequentum target-postgres` into a PostgreSQL this test starts
(postgres_support.py; the job's dbt step is test_dbt.py's).

The checks: every emitted record lands once, and types survive (integers bigint, decimals exact numeric,
date-times timestamps at the right instant, dates date, leading-zero strings text).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from meltano_support import Meltano, record_counts
from postgres_support import sql, target_env
from support import config_for, parse_messages, run_cli, write_json

from sequentum_emulator import Sandbox

SCHEMA = "tap_sequentum"  # target-postgres' default_target_schema: the extractor's namespace
TRAPS_CSV = (
    b"sku,order_id,amount,qty,ok,ordered_on,paid_at,local_time\n"
    b"007123,98765432109876543210,12345678901234.5678,-3,true,2025-11-01,2025-11-03T10:00:00+02:00,"
    b"2025-11-03T09:00:00\n"
    b"0045,10001,19.90,7,false,2025-11-02,2025-11-03T08:00:00.123456Z,2025-11-03T09:30:00\n"
)


def table_counts(postgres: SimpleNamespace) -> dict[str, int]:
    tables = [t for (t,) in sql(postgres, f"SELECT tablename FROM pg_tables WHERE schemaname = '{SCHEMA}'")]
    return {t: int(sql(postgres, f'SELECT count(*) FROM {SCHEMA}."{t}"')[0][0]) for t in tables}


def column_types(postgres: SimpleNamespace, table: str) -> dict[str, str]:
    rows = sql(
        postgres,
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = '{SCHEMA}' AND table_name = '{table}'",
    )
    return dict(rows)


@pytest.fixture(scope="module")
def loaded(postgres, meltano_installed, tmp_path_factory) -> SimpleNamespace:
    """The demo data plus a file of traps, loaded by Meltano; then again with --full-refresh."""
    home = tmp_path_factory.mktemp("warehouse")
    with Sandbox() as sandbox:
        agent = sandbox.add_agent("Warehouse traps")
        sandbox.add_run(agent["id"], files=[("warehouse_traps.csv", TRAPS_CSV)])
        tap = run_cli(["--config", str(write_json(home / "config.json", config_for(sandbox)))])
        meltano = Meltano(meltano_installed, home, sandbox)
        target = target_env(postgres)
        # The warehouse job's extract and load (its dbt-postgres:build runs in test_dbt.py).
        meltano.run("tap-sequentum", "target-postgres", **target)
        first = table_counts(postgres)
        meltano.run("--full-refresh", "tap-sequentum", "target-postgres", **target)
    return SimpleNamespace(
        emitted=record_counts(tap.stdout), messages=parse_messages(tap.stdout), first=first
    )


def test_every_emitted_record_lands_once_even_after_a_full_refresh(loaded, postgres):
    assert loaded.first == loaded.emitted
    assert "warehouse_traps" in loaded.first
    assert table_counts(postgres) == loaded.emitted


def test_integers_decimals_dates_and_timestamps_keep_their_types(loaded, postgres):
    steam = column_types(postgres, "steam")
    assert {
        c: steam[c] for c in ("rank", "app_id", "current_players", "_sdc_row_number", "_sdc_run_id")
    } == dict.fromkeys(("rank", "app_id", "current_players", "_sdc_row_number", "_sdc_run_id"), "bigint")
    assert steam["price"] == "numeric"
    assert steam["free"] == "boolean"
    assert steam["snapshot_at"] == steam["_sdc_run_created"] == "timestamp without time zone"
    listings = column_types(postgres, "real_estate_listings__listings")
    assert listings["listing_id"] == listings["zip"] == "text"
    assert listings["listed_on"] == "date"
    assert listings["bathrooms"] == "numeric"
    runs = column_types(postgres, "runs")
    assert runs["id"] == "bigint"
    assert runs["created"] == "timestamp without time zone"
    traps = column_types(postgres, "warehouse_traps")
    assert traps == traps | {
        "sku": "text",
        "order_id": "text",
        "amount": "numeric",
        "qty": "bigint",
        "ok": "boolean",
        "ordered_on": "date",
        "paid_at": "timestamp without time zone",
        "local_time": "timestamp without time zone",
    }


def test_values_arrive_exactly(loaded, postgres):
    columns = ["sku", "order_id", "amount", "qty", "ok", "ordered_on", "paid_at", "local_time"]
    rows = sql(
        postgres,
        "SELECT sku, order_id, amount::text, qty, ok, ordered_on, paid_at, local_time "
        f"FROM {SCHEMA}.warehouse_traps ORDER BY _sdc_row_number",
    )
    assert [dict(zip(columns, row, strict=True)) for row in rows] == [
        {
            "sku": "007123",
            "order_id": "98765432109876543210",
            "amount": "12345678901234.5678",
            "qty": "-3",
            "ok": "t",
            "ordered_on": "2025-11-01",
            "paid_at": "2025-11-03 08:00:00",  # 10:00+02:00 is 08:00 UTC
            "local_time": "2025-11-03 09:00:00",
        },
        {
            "sku": "0045",
            "order_id": "10001",
            "amount": "19.90",
            "qty": "7",
            "ok": "f",
            "ordered_on": "2025-11-02",
            "paid_at": "2025-11-03 08:00:00.123456",
            "local_time": "2025-11-03 09:30:00",
        },
    ]


def test_leading_zeros_of_the_demo_data_survive(loaded, postgres):
    emitted = [
        m["record"]["listing_id"]
        for m in loaded.messages
        if m["type"] == "RECORD" and m["stream"] == "real_estate_listings__listings"
    ]
    zeros = sorted(listing for listing in emitted if listing and listing.startswith("0"))
    assert zeros
    table = f"{SCHEMA}.real_estate_listings__listings"
    query = f"SELECT listing_id FROM {table} WHERE listing_id LIKE '0%' ORDER BY 1"
    assert [row[0] for row in sql(postgres, query)] == zeros
