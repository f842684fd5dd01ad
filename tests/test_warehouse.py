"""A real warehouse load: `meltano run sequentum-to-postgres` into a PostgreSQL this test starts.

The PostgreSQL server binaries come from the machine (./scripts/test installs Debian's `postgresql` when it
can; without them these tests are skipped, and the skip says why). A throwaway cluster runs on a free port in
a temporary folder, as the `postgres` user when we are root (initdb refuses root), and is removed afterwards.
The checks: every emitted record lands once, and types survive (integers bigint, decimals exact numeric,
date-times timestamps at the right instant, dates date, leading-zero strings text).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from meltano_support import Meltano, record_counts
from support import config_for, parse_messages, run_cli, write_json

from sequentum_emulator import Sandbox

SCHEMA = "tap_sequentum"  # target-postgres' default_target_schema: the extractor's namespace
TRAPS_CSV = (
    b"sku,order_id,amount,qty,ok,ordered_on,paid_at,local_time\n"
    b"007123,98765432109876543210,12345678901234.5678,-3,true,2025-11-01,2025-11-03T10:00:00+02:00,"
    b"2025-11-03T09:00:00\n"
    b"0045,10001,19.90,7,false,2025-11-02,2025-11-03T08:00:00.123456Z,2025-11-03T09:30:00\n"
)


def postgres_bin() -> Path | None:
    """The bin folder of the newest installed PostgreSQL server (Debian's layout, else initdb on PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def require_postgres() -> Path:
    bin_dir = postgres_bin()
    if bin_dir is None or not all((bin_dir / tool).exists() for tool in ("initdb", "pg_ctl", "psql")):
        pytest.skip(
            "PostgreSQL is not installed (no initdb, pg_ctl and psql): ./scripts/test installs Debian's "
            "postgresql when run as root; elsewhere install the server (e.g. apt-get install postgresql)"
        )
    return bin_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres() -> Iterator[SimpleNamespace]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust auth, UTC, no fsync)."""
    bin_dir = require_postgres()
    as_root = os.geteuid() == 0
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    base = Path(tempfile.mkdtemp(prefix="tap-sequentum-pg-"))
    if as_root:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", free_port()

    def pg(*args: str) -> None:
        proc = subprocess.run([*run_as, *args], capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, f"{args[0]} failed:\n{proc.stdout}\n{proc.stderr}"

    pg(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c timezone=UTC"
    pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-w", "-o", options, "start")
    try:
        yield SimpleNamespace(psql=bin_dir / "psql", port=port)
    finally:
        pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


def sql(postgres: SimpleNamespace, query: str) -> list[list[str]]:
    """Rows of a query as text (psql's unaligned output; NULL is empty)."""
    cmd = [
        str(postgres.psql),
        "-h",
        "127.0.0.1",
        "-p",
        str(postgres.port),
        "-U",
        "postgres",
        "-d",
        "postgres",
    ]
    proc = subprocess.run(
        [*cmd, "-X", "-At", "-F", "\t", "-c", query], capture_output=True, text=True, timeout=60, check=True
    )
    return [line.split("\t") for line in proc.stdout.splitlines()]


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
        target = {
            "TARGET_POSTGRES_HOST": "127.0.0.1",
            "TARGET_POSTGRES_PORT": str(postgres.port),
            "TARGET_POSTGRES_USER": "postgres",
            "TARGET_POSTGRES_PASSWORD": "unused-with-trust-auth",
            "TARGET_POSTGRES_DATABASE": "postgres",
        }
        meltano.run("sequentum-to-postgres", **target)  # meltano.yml's warehouse job
        first = table_counts(postgres)
        meltano.run("--full-refresh", "sequentum-to-postgres", **target)
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
