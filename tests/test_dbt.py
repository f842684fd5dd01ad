"""The dbt package (dbt/): what it mirrors from the tap stays generated, and the marts' figures are what
the sandbox holds, in DuckDB and in PostgreSQL.

The external tests run each warehouse's Meltano job (extract, load, `dbt-<adapter>:build` with the package's
data tests) on the demo agents plus the realities, a steam run that broke (3 rows instead of about 50, one
column empty), an unreadable file and schedules of every kind (due soon, missed, disabled); then, a schedule
deleted, the job again (the tap emits its tombstone); then the integration project (dbt/integration_tests:
the package installed from its folder). Every expected figure is computed here from the sandbox's dataset or
from the records the tap emits, never read from dbt.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import statistics
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from meltano_support import ROOT, Meltano, plugin, project
from postgres_support import sql, target_env
from support import config_for, environment, parse_messages, run_cli, run_process, write_json

from sequentum_emulator import Sandbox
from sequentum_emulator.billing import run_costs
from tap_sequentum.domain import FILE_TYPES, RUN_STATUSES, SCHEDULE_TYPES, SUCCESS_STATUSES
from tap_sequentum.tap import FIXED_STREAM_TYPES

DBT = ROOT / "dbt"
MARTS = "analytics"  # the utilities' `schema` setting
INTEGRATION = "analytics_it"  # where the integration project builds the package's models
STEAM = 1001
#: A steam run that "succeeded" with 3 rows (its agent's runs have about 50) and peak_players empty.
BROKEN_STEAM_CSV = (
    b"rank,app_id,name,current_players,peak_players,price,free,snapshot_at\n"
    b"1,730,Counter-Strike 2,1002003,,0.00,true,2026-03-01T08:00:00Z\n"
    b"2,570,Dota 2,650000,,0.00,true,2026-03-01T08:00:00Z\n"
    b"3,1086940,Baldur's Gate 3,120000,,59.99,false,2026-03-01T08:00:00Z\n"
)
LOOKBACK_RUNS, MIN_RUNS, ROW_DROP_RATIO, EMPTY_LOOKBACK = 10, 3, 0.5, 5  # dbt_project.yml's vars
GRACE = dt.timedelta(hours=2)  # sequentum__schedule_grace_hours
#: Minutes between two runs of each CRON expression the sandbox holds: the coarsest unit its fields repeat on.
CRON_MINUTES = {
    "0 * * * *": 60,
    "*/15 * * * *": 15,
    "0 */6 * * *": 6 * 60,
    "0 3 * * *": 24 * 60,
    "20 14 * * 1": 7 * 24 * 60,
    "30 8 * * 1": 7 * 24 * 60,
    "0 0 18 ? * MON-FRI": 7 * 24 * 60,  # Quartz, with seconds: a day-of-week field is a week
    "30 6 1,15 * *": 31 * 24 * 60,
    "10 22 3 * *": 31 * 24 * 60,
}
PERIOD_MINUTES = {1: 1, 2: 60, 3: 24 * 60, 4: 7 * 24 * 60, 5: 31 * 24 * 60}


# --- what the package mirrors from the tap --------------------------------------------------------


def test_generated_files_are_what_the_tap_says():
    proc = run_process(["bash", str(ROOT / "scripts" / "update-dbt"), "--check"])
    assert proc.returncode == 0, proc.stderr


def read_seed(name: str) -> list[dict]:
    with (DBT / "seeds" / f"{name}.csv").open() as seed:
        return list(csv.DictReader(seed))


def test_code_seeds_are_the_taps_own_tables():
    assert {
        int(row["status_code"]): (
            row["status_name"],
            row["is_finished"] == "true",
            row["is_success"] == "true",
        )
        for row in read_seed("sequentum__run_statuses")
    } == {code: (name, finished, code in SUCCESS_STATUSES) for code, (name, finished) in RUN_STATUSES.items()}
    assert {
        int(row["file_type_code"]): row["file_type_name"] for row in read_seed("sequentum__file_types")
    } == FILE_TYPES
    assert {
        int(row["schedule_type_code"]): row["schedule_type_name"]
        for row in read_seed("sequentum__schedule_types")
    } == SCHEDULE_TYPES


def test_every_stream_has_a_described_source_and_a_staging_model():
    sources = yaml.safe_load((DBT / "models" / "staging" / "src_sequentum.yml").read_text())["sources"][0]
    tables = {table["name"]: table for table in sources["tables"]}
    streams = {stream.name: stream for stream in FIXED_STREAM_TYPES}
    assert set(streams) == set(tables)
    for name, stream in streams.items():
        assert [c["name"] for c in tables[name]["columns"]] == list(stream.schema["properties"]), name
        assert all(column["description"] for column in tables[name]["columns"])
        assert (DBT / "models" / "staging" / f"stg_sequentum__{name}.sql").exists()
    assert (
        sources["config"]["loaded_at_field"] == "{{ var('sequentum__loaded_at_field', '_sdc_batched_at') }}"
    )
    assert "freshness" in sources["config"]


def test_every_model_is_described_and_keyed():
    described = {}
    for path in (DBT / "models").rglob("*.yml"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            described[model["name"]] = model
    models = {path.stem for path in (DBT / "models").rglob("*.sql")}
    assert models == set(described)
    for name in models - {"int_sequentum__runs", "int_sequentum__schedule_expectations"}:
        model = described[name]
        tests = json.dumps(
            [model.get("data_tests", []), [c.get("data_tests") for c in model.get("columns", [])]]
        )
        assert model["description"] and ("unique" in tests), f"{name}: a description and a tested key"


def test_the_dbt_utilities_read_what_the_loaders_write():
    duckdb_pin = next(
        p for p in plugin("loaders", "target-duckdb")["pip_url"].split() if p.startswith("duckdb")
    )
    dbt_duckdb, dbt_postgres = plugin("utilities", "dbt-duckdb"), plugin("utilities", "dbt-postgres")
    assert duckdb_pin in dbt_duckdb["pip_url"].split(), "dbt must open the file with target-duckdb's duckdb"
    assert dbt_duckdb["config"]["path"] == plugin("loaders", "target-duckdb")["config"]["filepath"]
    demo = next(e for e in project()["environments"] if e["name"] == "demo")["config"]["plugins"]
    assert demo["utilities"][0]["config"]["path"] == demo["loaders"][0]["config"]["filepath"]
    assert "DBT_DUCKDB_PATH=$TARGET_DUCKDB_FILEPATH" in (ROOT / "scripts" / "meltano-demo").read_text()
    loader = {s["name"] for s in plugin("loaders", "target-postgres")["settings"]}
    for setting, value in dbt_postgres["config"].items():
        if str(value).startswith("$TARGET_POSTGRES_"):
            assert value.removeprefix("$TARGET_POSTGRES_").lower() in loader, setting
    assert plugin("loaders", "target-duckdb")["config"]["add_metadata_columns"] is True
    for utility in (dbt_duckdb, dbt_postgres):
        settings = {s["name"]: s.get("value") for s in utility["settings"]}
        profiles = Path(settings["profiles_dir"].replace("$MELTANO_PROJECT_ROOT", str(ROOT)))
        assert yaml.safe_load((profiles / "profiles.yml").read_text())["sequentum"]["outputs"]
        assert settings["project_dir"] == "$MELTANO_PROJECT_ROOT/dbt"
        assert "build" in utility["commands"]


# --- the marts on a real pipeline ------------------------------------------------------------------


def broken_sandbox() -> tuple[Sandbox, tuple[int, int]]:
    """The demo agents and the realities, a steam run that broke, a file that cannot be read (its agent and
    id), and schedules: the demo's (all due in the past), steam's next run in ten minutes, and the broken
    agent's daily and weekday runs, one disabled, and one per warehouse that its pipeline deletes."""
    sandbox = Sandbox(realities=True).start()
    sandbox.add_run(STEAM, files=[("steam.csv", BROKEN_STEAM_CSV)])
    agent = sandbox.add_agent("Broken parquet")["id"]
    broken = [("broken_parquet.parquet", b"\x00bad\xff" * 50)]
    bad_run = sandbox.add_run(agent, 9, "2026-04-01T00:00:00Z", files=broken)["id"]
    sandbox.add_run(agent, 9, "2026-04-02T00:00:00Z", files=[("broken_parquet.csv", b"n\n7\n")])
    sandbox.add_schedule(STEAM, name="Quarter-hourly", schedule="*/15 * * * *", nextRunTime=soon(minutes=10))
    daily = {"scheduleType": "RunEvery", "runEveryCount": 1, "runEveryPeriod": "Days"}
    sandbox.add_schedule(agent, name="Daily", nextRunTime=soon(hours=6), **daily)
    weekdays = {"schedule": "0 0 18 ? * MON-FRI", "timezone": "Europe/Paris"}
    sandbox.add_schedule(agent, name="Weekdays", nextRunTime=soon(days=3), **weekdays)
    sandbox.add_schedule(agent, name="Nightly", schedule="0 3 * * *", isEnabled=False)
    for kind in ("duckdb", "postgres"):
        sandbox.add_schedule(
            agent, name=f"Deleted in {kind}", schedule="0 3 * * *", nextRunTime=soon(hours=20)
        )
    return sandbox, (agent, sandbox.data.runs[bad_run].files[0].id)


def soon(**delta: float) -> str:
    """A time that far from now, to the second (as Sequentum computes next runs)."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def hours_since(moment: dt.datetime) -> float:
    return (dt.datetime.now(dt.UTC).replace(tzinfo=None) - moment).total_seconds() / 3600


def naive(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment else None


def expected(sandbox: Sandbox, messages: list[dict]) -> SimpleNamespace:
    """The marts' figures, from the sandbox's runs and bills and from the content records the tap emitted."""
    data = sandbox.data
    runs = list(data.runs.values())
    finished = {code for code, (_, final) in RUN_STATUSES.items() if final}

    def exported(run) -> int | None:
        rows = run.counts.get("exportCount")
        return rows if rows is not None else (run.counts.get("dataCount") if run.status in finished else None)

    bills = {cost["runId"]: cost["cost"] for agent in data.agents.values() for cost in run_costs(agent)}
    health = {}
    for agent_id in data.agents:
        own = sorted((r for r in runs if r.agent_id == agent_id), key=lambda r: (r.created, r.id))
        done = [r for r in own if r.status in finished]
        failures = [r for r in done if r.status not in SUCCESS_STATUSES]
        data_runs = [r for r in own if (exported(r) or 0) > 0]
        health[agent_id] = {
            "runs": len(own),
            "successful_runs": sum(r.status in SUCCESS_STATUSES for r in own),
            "success_rate": round(Decimal(sum(r.status in SUCCESS_STATUSES for r in done)) / len(done), 4)
            if done
            else None,
            "last_failure_message": failures[-1].message if failures else None,
            "last_data_at": max(naive(r.end_time or r.created) for r in data_runs) if data_runs else None,
            "last_data_run_created": max(naive(r.created) for r in data_runs) if data_runs else None,
        }
    agent_costs = defaultdict(lambda: (Decimal(0), 0))  # (month, agent): credits, exported rows
    for agent in data.agents.values():
        for cost in run_costs(agent):
            month = dt.date.fromisoformat(cost["date"][:7] + "-01")
            credits, rows = agent_costs[(month, agent.id)]
            agent_costs[(month, agent.id)] = (
                credits + cost["cost"],
                rows + (exported(data.runs[cost["runId"]]) or 0),
            )
    drops = set()
    for agent_id in data.agents:
        ok = sorted((r for r in runs if r.agent_id == agent_id and r.status in SUCCESS_STATUSES),
                    key=lambda r: (r.created, r.id))  # fmt: skip
        for index, run in enumerate(ok):
            before = [exported(r) for r in ok[max(0, index - LOOKBACK_RUNS) : index]]
            if len(before) >= MIN_RUNS and (exported(run) or 0) < ROW_DROP_RATIO * statistics.median(before):
                drops.add(run.id)
    return SimpleNamespace(
        daily=Counter((r.agent_id, r.created.date(), RUN_STATUSES[r.status][0]) for r in runs),
        credits=sum(bills.values()),
        bills=len(bills),
        agent_costs=dict(agent_costs),
        health=health,
        drops=drops,
        **content_expectations(messages),
    )


def content_expectations(messages: list[dict]) -> dict:
    """Per content stream and agent: rows and the newest run's creation; and the columns empty in the newest
    run with rows, filled in one of the runs before it."""
    runs: dict = defaultdict(lambda: defaultdict(list))
    for message in messages:
        record = message.get("record", {})
        if message["type"] == "RECORD" and "_sdc_row_number" in record:
            key = (message["stream"], record["_sdc_agent_id"])
            runs[key][(record["_sdc_run_created"], record["_sdc_run_id"])].append(record)
    freshness, empty = {}, set()
    for (stream, agent), by_run in runs.items():
        newest_first = sorted(by_run, reverse=True)
        created = dt.datetime.fromisoformat(newest_first[0][0].replace("Z", "+00:00"))
        freshness[(stream, agent)] = (sum(map(len, by_run.values())), naive(created))

        def filled(rows: list[dict], column: str) -> int:
            return sum(r.get(column) is not None and str(r[column]).strip() != "" for r in rows)

        columns = {c for rows in by_run.values() for r in rows for c in r if not c.startswith("_sdc_")}
        latest, earlier = newest_first[0], newest_first[1 : 1 + EMPTY_LOOKBACK]
        empty |= {
            (stream, agent, c)
            for c in columns
            if filled(by_run[latest], c) == 0 and any(filled(by_run[run], c) for run in earlier)
        }
    return {"freshness": freshness, "empty_columns": empty}


class Warehouse:
    """Queries into the warehouse a pipeline loaded, each value as text (NULL as None)."""

    def __init__(self, kind: str, home: Path, postgres: SimpleNamespace | None = None) -> None:
        self.kind, self.home, self.postgres = kind, home, postgres

    @property
    def database(self) -> Path:
        return self.home / "sequentum.duckdb"

    def rows(self, query: str) -> list[dict]:
        if self.kind == "postgres":
            header = f"SELECT row_to_json(q)::text FROM ({query}) AS q"
            return [json.loads(line[0], parse_float=Decimal) for line in sql(self.postgres, header)]
        python = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
        script = (
            "import duckdb, json, sys\n"
            "con = duckdb.connect(sys.argv[1], read_only=True)\n"
            "cursor = con.execute(sys.argv[2])\n"
            "names = [d[0] for d in cursor.description]\n"
            "print(json.dumps([dict(zip(names, row)) for row in cursor.fetchall()], default=str))\n"
        )
        proc = run_process([str(python), "-c", script, str(self.database), query])
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def dbt(self, *args: str, project_dir: Path, schema: str) -> subprocess.CompletedProcess:
        """dbt of the Meltano utility, with the profile Meltano gives it."""
        executable = ROOT / ".meltano" / "utilities" / f"dbt-{self.kind}" / "venv" / "bin" / "dbt"
        env = {
            "DBT_PROFILES_DIR": str(DBT / "profiles" / self.kind),
            "DBT_TARGET_PATH": str(self.home / "it" / "target"),
            "DBT_LOG_PATH": str(self.home / "it" / "logs"),
        }
        if self.kind == "postgres":
            target = target_env(self.postgres)
            env |= {f"DBT_POSTGRES_{k.removeprefix('TARGET_POSTGRES_')}": v for k, v in target.items()}
            env["DBT_POSTGRES_DBNAME"] = env.pop("DBT_POSTGRES_DATABASE")
            env["DBT_POSTGRES_SCHEMA"] = schema
        else:
            env |= {"DBT_DUCKDB_PATH": str(self.database), "DBT_DUCKDB_SCHEMA": schema}
        proc = run_process(
            [str(executable), *args, "--project-dir", str(project_dir)],
            env=environment("DBT_", **env),
            cwd=project_dir,
            timeout=600,
        )
        assert proc.returncode == 0, f"dbt {' '.join(args)} failed:\n{proc.stdout[-5000:]}"
        return proc


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """The broken sandbox both warehouses load (a sync only reads it), and the figures it should give."""
    sandbox, unreadable = broken_sandbox()
    try:
        home = tmp_path_factory.mktemp("dbt-tap")
        config = write_json(home / "config.json", config_for(sandbox, discovery_sample_runs=10))
        tap = run_cli(["--config", str(config)])  # discovering as the demo environment does
        assert tap.returncode == 0, tap.stderr
        yield SimpleNamespace(
            sandbox=sandbox, unreadable=unreadable, expected=expected(sandbox, parse_messages(tap.stdout))
        )
    finally:
        sandbox.stop()


def pipeline(kind: str, scenario, meltano_installed: Path, home: Path, postgres=None) -> SimpleNamespace:
    """The warehouse's Meltano job; a schedule deleted, the job again (its tombstone); the integration
    project. The schedules expected are the sandbox's at the end (the other warehouse's pipeline deletes
    its own)."""
    meltano = Meltano(meltano_installed, home, scenario.sandbox)
    env = target_env(postgres) if postgres else {}
    job = meltano.run(f"sequentum-to-{kind}", **env)
    agent = scenario.unreadable[0]
    deleted = next(
        s for s in scenario.sandbox.data.agent(agent).schedules.values() if s.name == f"Deleted in {kind}"
    )
    scenario.sandbox.delete_schedule(agent, deleted.id)  # within the week: the upcoming runs show it gone
    again = meltano.run(f"sequentum-to-{kind}", **env)
    warehouse = Warehouse(kind, home, postgres)
    # The package as another project installs it.
    project_dir = home / "integration_tests"
    shutil.copytree(DBT / "integration_tests", project_dir)
    (project_dir / "packages.yml").write_text(yaml.safe_dump({"packages": [{"local": str(DBT)}]}))
    warehouse.dbt("deps", project_dir=project_dir, schema=INTEGRATION)
    warehouse.dbt("build", project_dir=project_dir, schema=INTEGRATION)
    schedules = {s.id: s for a in scenario.sandbox.data.agents.values() for s in a.schedules.values()}
    return SimpleNamespace(
        warehouse=warehouse, job=job, again=again, deleted=deleted.id, schedules=schedules, **vars(scenario)
    )


@pytest.fixture(scope="module")
def duckdb_pipeline(scenario, meltano_installed, tmp_path_factory) -> SimpleNamespace:
    return pipeline("duckdb", scenario, meltano_installed, tmp_path_factory.mktemp("dbt-duckdb"))


@pytest.fixture(scope="module")
def postgres_pipeline(scenario, meltano_installed, postgres, tmp_path_factory) -> SimpleNamespace:
    home = tmp_path_factory.mktemp("dbt-postgres")
    return pipeline("postgres", scenario, meltano_installed, home, postgres)


@pytest.fixture(params=["duckdb", "postgres"])
def built(request, meltano_installed) -> SimpleNamespace:
    return request.getfixturevalue(f"{request.param}_pipeline")


def timestamp(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("T", " ")) if text else None


def test_the_job_builds_the_package_and_its_data_tests_pass(built):
    log = built.job.stderr
    assert "Extension executing `dbt build`" in log
    assert "Completed successfully" in log and "ERROR=0" in log
    assert built.warehouse.rows(f"SELECT count(*) AS n FROM {MARTS}.sequentum__agent_health")[0]["n"] == len(
        built.sandbox.data.agents
    )


def test_runs_by_agent_day_and_status_are_the_sandbox_runs(built):
    rows = built.warehouse.rows(
        f"SELECT agent_id, run_date, status_name, runs FROM {MARTS}.sequentum__agent_daily_runs"
    )
    counted = Counter(
        {
            (r["agent_id"], dt.date.fromisoformat(str(r["run_date"])), r["status_name"]): r["runs"]
            for r in rows
        }
    )
    assert counted == built.expected.daily
    by_status = Counter()
    for (_, _, status), runs in counted.items():
        by_status[status] += runs
    assert by_status["Completed"] > by_status["Success"] > 0 and by_status["Failure"] > 0


def test_agent_health_is_what_the_runs_say(built):
    rows = built.warehouse.rows(f"SELECT * FROM {MARTS}.sequentum__agent_health")
    for row in rows:
        want = built.expected.health[row["agent_id"]]
        assert row["runs"] == want["runs"]
        assert row["successful_runs"] == want["successful_runs"]
        rate = row["success_rate"]
        assert (Decimal(str(rate)) if rate is not None else None) == want["success_rate"], row["agent_name"]
        assert row["last_failure_message"] == want["last_failure_message"]
        assert timestamp(row["last_data_at"]) == want["last_data_at"]
        if want["last_data_at"]:
            hours = float(row["hours_since_last_data"])
            assert hours == pytest.approx(hours_since(want["last_data_at"]), abs=0.2)
    steam = next(row for row in rows if row["agent_id"] == STEAM)
    assert float(steam["hours_since_last_data"]) < 0.2, "the broken steam run just exported its 3 rows"


def test_credits_per_run_and_per_1000_rows_are_the_bills(built):
    total = built.warehouse.rows(
        f"SELECT sum(credits) AS credits, count(credits) AS billed FROM {MARTS}.sequentum__run_economics"
    )[0]
    assert Decimal(str(total["credits"])) == built.expected.credits
    assert total["billed"] == built.expected.bills
    rows = built.warehouse.rows(f"SELECT * FROM {MARTS}.sequentum__agent_costs")
    found = {
        (dt.date.fromisoformat(str(r["period_start"])), r["agent_id"]): (
            Decimal(str(r["credits"])),
            r["exported_rows"],
        )
        for r in rows
    }
    assert found == built.expected.agent_costs
    for row in rows:
        credits, exported = float(row["credits"]), row["exported_rows"]
        per_1000 = round(1000 * credits / exported, 4) if exported else None
        assert (float(row["credits_per_1000_rows"]) if exported else None) == pytest.approx(
            per_1000, abs=1e-4
        )
    spaces = built.warehouse.rows(f"SELECT sum(credits) AS credits FROM {MARTS}.sequentum__space_costs")[0]
    assert Decimal(str(spaces["credits"])) == built.expected.credits


def test_content_freshness_is_the_newest_run_of_each_stream(built):
    rows = built.warehouse.rows(f"SELECT * FROM {MARTS}.sequentum__content_freshness")
    found = {(r["content_table"], r["agent_id"]): (r["row_count"], timestamp(r["last_run_at"])) for r in rows}
    assert found == built.expected.freshness
    for row in rows:
        last_run = built.expected.freshness[(row["content_table"], row["agent_id"])][1]
        assert float(row["hours_since_last_run"]) == pytest.approx(hours_since(last_run), abs=0.2)
        assert float(row["hours_since_last_load"]) < 0.5, "loaded by this pipeline"
    listings = found[("real_estate_listings__listings", 1004)][1]
    assert listings == dt.datetime(2025, 12, 15, 6, 30, 2, 145678)


def test_files_not_extracted_are_the_unreadable_file(built):
    rows = built.warehouse.rows(
        "SELECT agent_id, files_not_extracted, skipped, last_file_id "
        f"FROM {MARTS}.sequentum__files_not_extracted WHERE files_not_extracted > 0"
    )
    agent, file_id = built.unreadable
    assert rows == [{"agent_id": agent, "files_not_extracted": 1, "skipped": 1, "last_file_id": file_id}]


def test_scraper_breakage_finds_the_row_drop_and_the_emptied_column(built):
    drops = built.warehouse.rows(f"SELECT run_id, is_latest_run FROM {MARTS}.sequentum__breakage_row_drops")
    assert {r["run_id"] for r in drops} == built.expected.drops
    steam_runs = [r for r in built.sandbox.data.runs.values() if r.agent_id == STEAM]
    broken = max(steam_runs, key=lambda r: r.created)
    assert broken.id in built.expected.drops and {r["is_latest_run"] for r in drops} == {True}
    empty = built.warehouse.rows(
        f"SELECT content_table, agent_id, column_name FROM {MARTS}.sequentum__breakage_empty_columns"
    )
    found = {(r["content_table"], r["agent_id"], r["column_name"]) for r in empty}
    assert found == built.expected.empty_columns
    assert ("steam", STEAM, "peak_players") in found


# --- schedules: the next run beside the last, and missed schedules ----------------------------------


def interval(schedule) -> dt.timedelta | None:
    """Time between two runs of a schedule, as the staging model counts it; None for RunOnce."""
    if schedule.schedule_type == 2:
        return dt.timedelta(minutes=schedule.run_every_count * PERIOD_MINUTES[schedule.run_every_period])
    if schedule.schedule_type == 3:
        return dt.timedelta(minutes=CRON_MINUTES[schedule.schedule])
    return None


def last_expected(schedule, now: dt.datetime) -> dt.datetime | None:
    """When an enabled schedule last expected its agent to run: a next run already past, else the next run
    less the interval, or a RunOnce schedule's start; None when that is still to come."""
    if not schedule.is_enabled:
        return None
    nxt = naive(schedule.next_run_time)
    if nxt is not None and nxt <= now:
        moment = nxt
    elif schedule.schedule_type == 1:
        moment = naive(schedule.start_time)
    else:
        moment = nxt - interval(schedule) if nxt is not None else None
    return moment if moment is not None and moment <= now else None


def schedule_health(built, now: dt.datetime) -> dict[int, dict]:
    """Per agent: its schedules, those enabled, the soonest next run, the latest expected run, missed."""
    health = {}
    for agent_id in built.sandbox.data.agents:
        own = [s for s in built.schedules.values() if s.agent_id == agent_id]
        enabled = [s for s in own if s.is_enabled]
        expected_runs = {s.id: last_expected(s, now) for s in enabled}
        data_created = built.expected.health[agent_id]["last_data_run_created"]
        health[agent_id] = {
            "schedules": len(own),
            "enabled_schedules": len(enabled),
            "next_scheduled_run_at": min(
                (naive(s.next_run_time) for s in enabled if s.next_run_time), default=None
            ),
            "last_expected_run_at": max(filter(None, expected_runs.values()), default=None),
            "is_schedule_missed": any(
                at <= now - GRACE and (data_created is None or data_created < at)
                for at in expected_runs.values()
                if at is not None
            ),
        }
    return health


def test_agent_health_shows_the_next_scheduled_run_beside_the_last_and_flags_missed_schedules(built):
    rows = built.warehouse.rows(f"SELECT * FROM {MARTS}.sequentum__agent_health")
    columns = list(rows[0])
    assert columns.index("next_scheduled_run_at") == columns.index("last_run_status") + 1
    now = timestamp(str(rows[0]["measured_at"]))
    want = schedule_health(built, now)
    names = (
        "schedules",
        "enabled_schedules",
        "next_scheduled_run_at",
        "last_expected_run_at",
        "is_schedule_missed",
    )
    found = {
        row["agent_id"]: {
            name: timestamp(str(row[name])) if name.endswith("_at") and row[name] else row[name]
            for name in names
        }
        for row in rows
    }
    assert found == want
    missed = {agent for agent, row in found.items() if row["is_schedule_missed"]}
    agent = built.unreadable[0]
    # Steam's broken run just exported rows after its hourly schedule's last expected run (in February), and
    # its quarter-hourly one expected a run minutes ago; ACDelco's only schedule is disabled; price-monitor's
    # RunOnce ran on time. real-estate's twice-monthly schedule and the broken agent's daily one got nothing.
    assert {STEAM, 1003, 1006}.isdisjoint(missed) and {1004, agent} <= missed
    assert found[STEAM]["next_scheduled_run_at"] == dt.datetime(2026, 2, 16, 9)
    assert found[1003] == {**found[1003], "enabled_schedules": 0, "next_scheduled_run_at": None}
    assert found[agent]["last_expected_run_at"] > now - dt.timedelta(days=1)  # next run less a day


def test_staged_schedules_are_the_sandboxs_with_the_deleted_one_left_out(built):
    raw = built.warehouse.rows("SELECT id FROM tap_sequentum.schedules WHERE _sdc_deleted_at IS NOT NULL")
    assert raw == [{"id": built.deleted}]  # the tombstone the second sync wrote
    assert "Completed successfully" in built.again.stderr
    rows = built.warehouse.rows(
        "SELECT schedule_id, schedule_type_name, run_every_period_name, interval_minutes, input_parameters "
        f"FROM {MARTS}.stg_sequentum__schedules"
    )
    staged = {r["schedule_id"]: r for r in rows}
    assert set(staged) == set(built.schedules) and built.deleted not in staged
    for schedule_id, row in staged.items():
        schedule = built.schedules[schedule_id]
        assert row["schedule_type_name"] == SCHEDULE_TYPES[schedule.schedule_type]
        minutes = interval(schedule)
        assert row["interval_minutes"] == (minutes.total_seconds() // 60 if minutes else None), schedule.name
    by_name = {built.schedules[i].name: r for i, r in staged.items()}
    assert by_name["Fin de trimestre"]["run_every_period_name"] == "Months"
    assert json.loads(by_name["Fin de trimestre"]["input_parameters"]) == {"market": "XPAR"}
    assert (by_name["Weekdays"]["interval_minutes"], by_name["Quarter-hourly"]["interval_minutes"]) == (
        10080,
        15,
    )


# --- the integration project: the package from its folder ------------------------------------------


def test_one_export_table_across_agents_is_one_union(built):
    rows = built.warehouse.rows(
        f"SELECT _sdc_table, _sdc_agent_id, count(*) AS n FROM {INTEGRATION}.price_monitor_across_agents "
        "GROUP BY _sdc_table, _sdc_agent_id"
    )
    found = {(r["_sdc_table"], r["_sdc_agent_id"]): r["n"] for r in rows}
    freshness = built.expected.freshness
    assert found == {
        ("price_monitor", 1005): freshness[("price_monitor", 1005)][0],
        ("price_monitor_1006", 1006): freshness[("price_monitor_1006", 1006)][0],
    }
