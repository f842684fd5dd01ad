"""A throwaway PostgreSQL cluster for the warehouse tests (test_warehouse.py, test_dbt.py).

The server binaries come from the machine (./scripts/test installs Debian's `postgresql` when it can; without
them these tests are skipped, and the skip says why). A cluster runs on a free port in a temporary folder, as
the `postgres` user when we are root (initdb refuses root), and is removed afterwards.
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


def cluster() -> Iterator[SimpleNamespace]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust auth, UTC, no fsync) for as long as the fixture that
    yields from this lives."""
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


def target_env(postgres: SimpleNamespace) -> dict[str, str]:
    """target-postgres' settings for the cluster (meltano.yml gives them to dbt-postgres too)."""
    return {
        "TARGET_POSTGRES_HOST": "127.0.0.1",
        "TARGET_POSTGRES_PORT": str(postgres.port),
        "TARGET_POSTGRES_USER": "postgres",
        "TARGET_POSTGRES_PASSWORD": "unused-with-trust-auth",
        "TARGET_POSTGRES_DATABASE": "postgres",
    }


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
