"""What one sync costs a Sequentum organisation: requests by endpoint, wall time, STATE, SCHEMA, memory.

Why: Sequentum allows 100 requests per 60 s per API key, so requests bound every sync of a real
organisation, and a tap that re-sends its whole state after each small file makes stdout (and the
target's work) grow with agents x files. This builds an organisation of N agents x R finished runs x one
10-row CSV in the bundled sandbox (20 ms of latency per request, no throttling), then runs the tap as a child
process, exactly as Meltano does, through a list of phases (`PHASES`, each one small function): discovery, a
full sync, an unchanged sync, an unchanged sync an hour after every agent was checked (the full checks due
in that hour), discovery again, one new run, 1 % of the agents changed, discovery again, and an unchanged
sync with an agent list that gives no hints. Each sync starts from the state the one before left.

    .venv/bin/python benchmarks/requests_per_sync.py                 # 150 agents x 20 runs (issue 9)
    .venv/bin/python benchmarks/requests_per_sync.py --agents 1000   # 1000 agents x 2 runs
    .venv/bin/python benchmarks/requests_per_sync.py --agents 5 --runs 1000   # STATE of a long history
    .venv/bin/python benchmarks/requests_per_sync.py --profile       # cProfile of the 150 x 20 full sync

Only public entry points are used: `python -m tap_sequentum.tap` and `sequentum_emulator.Sandbox`.
The STATE is treated as an opaque JSON value: the last one emitted is passed back as `--state`.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import platform
import pstats
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from children import HERE, ROOT, load_average, median, package_versions, run_child, tap_argv

if TYPE_CHECKING:
    from sequentum_emulator import Sandbox

RESULTS = HERE / "results-scale.json"
LATENCY = 0.020  # seconds per request on the sandbox's API host
DOCUMENTED_LIMIT = 100  # requests per 60 s per API key
FINISHED = 9  # Sequentum's "completed" run status
ROWS_PER_FILE = 10
#: Runs per agent when --runs is not given: the issue's 20, or fewer for big organisations so that a
#: full sync (one file list and one download per run) stays within minutes.
DEFAULT_RUNS = 20
DEFAULT_RUNS_ABOVE_150 = 2
METADATA_STREAMS = ("agents", "agent_versions", "runs", "run_files", "file_errors")
METADATA_STREAMS += ("run_costs", "credit_transactions", "spaces", "schedules")

# Request kinds, by path on the API host (downloads may also be redirected to the storage host).
KINDS = [
    ("agent pages", re.compile(r"/agent/all$")),
    ("agent details", re.compile(r"/agent/\d+$")),
    ("versions", re.compile(r"/agent/\d+/versions$")),
    ("runs lists", re.compile(r"/agent/\d+/runs$")),
    ("file lists", re.compile(r"/run/\d+/files$")),
    ("downloads", re.compile(r"/file/\d+/download$")),
    ("billing", re.compile(r"/billing/|/spaces")),
    ("schedules", re.compile(r"/schedules$|/schedules/upcoming$")),
]
KIND_NAMES = [name for name, _ in KINDS] + ["storage", "other"]


def classify(host: str, path: str) -> str:
    if host != "api":
        return "storage"  # the redirected leg of a download: the sandbox adds no latency there
    return next((name for name, pattern in KINDS if pattern.search(path.rstrip("/"))), "other")


# -- the organisation ------------------------------------------------------------------------------


def small_csv(agent: int, run: int) -> bytes:
    """A 10-row delivery, distinct per agent and run, with a string id, a number, an integer and a date."""
    lines = ["sku,name,price,qty,updated_at"]
    for row in range(1, ROWS_PER_FILE + 1):
        h = (agent * 7919 + run * 104729 + row * 2654435761) & 0xFFFF
        lines.append(
            f"{agent:04d}{row:04d},Item {row} of run {run},{h // 100}.{h % 100:02d},{h % 50},"
            f"2025-11-{1 + run % 28:02d}T08:{row:02d}:00Z"
        )
    return ("\n".join(lines) + "\n").encode()


START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def add_run(sandbox: Sandbox, agent_id: int, index: int, run: int) -> None:
    """Run `run` of the agent `index` (from 1): finished, an hour after the one before, one small CSV named as
    all of the agent's files are (`shop-0001-021.csv`: the export table `shop` of every run)."""
    created = START + dt.timedelta(hours=run)
    files = [(f"shop-{index:04d}-{run:03d}.csv", small_csv(index, run))]
    sandbox.add_run(agent_id, FINISHED, created, files=files)


def build_organisation(sandbox: Sandbox, agents: int, runs: int) -> list[int]:
    """N agents, each with R finished runs an hour apart and one small CSV per run; returns the agent ids."""
    ids = []
    for a in range(1, agents + 1):
        agent_id = sandbox.add_agent(f"Bench shop {a:04d}")["id"]
        ids.append(agent_id)
        for r in range(1, runs + 1):
            add_run(sandbox, agent_id, a, r)
    return ids


# -- what a sync wrote -----------------------------------------------------------------------------

_TYPE = re.compile(rb'"type"\s*:\s*"([A-Z_]+)"')
_STREAM = re.compile(rb'"stream"\s*:\s*"((?:[^"\\]|\\.)*)"')


@dataclass
class Output:
    """A Singer stdout, summarised; the last STATE is kept as raw bytes (opaque)."""

    stdout_bytes: int = 0
    messages: dict[str, int] = field(default_factory=dict)
    state_bytes: int = 0
    largest_state_bytes: int = 0
    schema_streams: int = 0
    records: dict[str, int] = field(default_factory=dict)
    last_state: bytes | None = field(default=None, repr=False)


def read_output(path: Path) -> Output:
    """One pass over the file: type from the line's prefix (json only when the prefix does not say)."""
    out = Output()
    messages: collections.Counter[str] = collections.Counter()
    records: collections.Counter[str] = collections.Counter()
    schemas: set[str] = set()
    with path.open("rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            found = _TYPE.search(line, 0, 128)
            stream = _STREAM.search(line, 0, 512)
            if found is None or (stream is None and found.group(1) in (b"RECORD", b"SCHEMA")):
                message = json.loads(line)
                kind, name = message.get("type", "?"), message.get("stream")
            else:
                kind = found.group(1).decode()
                name = json.loads(b'"' + stream.group(1) + b'"') if stream is not None else None
            messages[kind] += 1
            if kind == "RECORD":
                records[name] += 1
            elif kind == "SCHEMA":
                schemas.add(name)
            elif kind == "STATE":
                out.state_bytes += len(line)
                out.largest_state_bytes = max(out.largest_state_bytes, len(line))
                out.last_state = line
    out.stdout_bytes = path.stat().st_size
    out.messages = dict(messages)
    out.records = dict(sorted(records.items()))
    out.schema_streams = len(schemas)
    return out


def next_state(output: Output, previous: Path | None, path: Path) -> Path:
    """Where the state now is, as Meltano keeps it: the last STATE's value, or `previous` if none came."""
    if output.last_state is None:
        if previous is None:
            raise SystemExit("the full sync emitted no STATE message")
        return previous
    path.write_text(json.dumps(json.loads(output.last_state)["value"]))
    return path


# -- one measured phase ----------------------------------------------------------------------------


@dataclass
class Phase:
    """One sync (or the discovery), repeated: request counts from the first run, median wall time."""

    name: str
    requests: dict[str, int]
    total_requests: int
    failed_requests: int  # answers >= 400 (a 429 would mean the benchmark throttled itself)
    seconds: list[float]
    cpu_seconds: list[float]  # the tap's own user + system time: wall minus this is mostly waiting
    peak_rss_mib: float
    stdout_bytes: int
    messages: dict[str, int] = field(default_factory=dict)
    state_bytes: int = 0
    largest_state_bytes: int = 0
    schema_streams: int = 0
    records: dict[str, int] = field(default_factory=dict)
    catalog_streams: int | None = None
    kept_state_bytes: int | None = None  # the STATE a scheduler keeps after this sync

    @property
    def median_seconds(self) -> float:
        return median(self.seconds)

    def network_ratio(self, latency: float) -> float:
        """Wall time over the pure network time (API requests x latency): 1.0 means no CPU cost at all."""
        api = self.total_requests - self.requests.get("storage", 0)
        return self.median_seconds / (api * latency) if api and latency else float("nan")

    def summary(self, latency: float, agents: int) -> dict[str, object]:
        data = asdict(self)
        data["median_seconds"] = round(self.median_seconds, 2)
        data["seconds"] = [round(s, 2) for s in self.seconds]
        data["cpu_seconds"] = [round(s, 2) for s in self.cpu_seconds]
        data["median_cpu_seconds"] = round(median(self.cpu_seconds), 2)
        data["wall_over_network"] = round(self.network_ratio(latency), 3)
        data["minutes_at_documented_limit"] = round(self.total_requests / DOCUMENTED_LIMIT, 2)
        data["peak_rss_mib"] = round(self.peak_rss_mib, 1)
        if self.stdout_bytes and self.catalog_streams is None:
            data["state_share_of_stdout"] = round(self.state_bytes / self.stdout_bytes, 4)
        if self.kept_state_bytes is not None:
            data["kept_state_bytes_per_agent"] = round(self.kept_state_bytes / agents)
        return data


def measure(
    name: str, sandbox: Sandbox, argv: list[str], stdout_path: Path, repeat: int, singer: bool = True
) -> tuple[Phase, Output]:
    """Run `argv` `repeat` times against an unchanged sandbox; every run should make the same requests.

    `singer` says stdout holds Singer messages to summarise (not so for discovery's catalog).
    """
    seconds, cpu, rss, counts, output = [], [], 0.0, None, Output()
    failed = 0
    for attempt in range(repeat):
        sandbox.clear_requests()
        with stdout_path.open("wb") as stdout:
            child = run_child(argv, stdout=stdout)
        log = sandbox.requests
        these = collections.Counter(classify(r.host, r.path) for r in log)
        if counts is not None and these != counts:
            print(f"  note: run {attempt + 1} of {name} made different requests: {dict(these)}")
        counts = counts or these
        failed = max(failed, sum(1 for r in log if r.status >= 400 or r.status == 0))
        seconds.append(child.seconds)
        cpu.append(child.cpu_seconds)
        rss = max(rss, child.peak_rss_mib)
        took = f"{child.seconds:.1f} s ({child.cpu_seconds:.1f} s CPU)"
        print(f"  {name}: {sum(these.values()):,} requests, {took}", flush=True)
    assert counts is not None
    if singer:
        output = read_output(stdout_path)
    phase = Phase(
        name=name,
        requests={kind: counts.get(kind, 0) for kind in KIND_NAMES},
        total_requests=sum(counts.values()),
        failed_requests=failed,
        seconds=seconds,
        cpu_seconds=cpu,
        peak_rss_mib=rss,
        stdout_bytes=stdout_path.stat().st_size,
        messages=output.messages,
        state_bytes=output.state_bytes,
        largest_state_bytes=output.largest_state_bytes,
        schema_streams=output.schema_streams,
        records=record_counts(output.records),
    )
    return phase, output


def record_counts(per_stream: dict[str, int]) -> dict[str, int]:
    """RECORDs of each metadata stream, then of all content streams together (one per agent is too many)."""
    counts = {name: per_stream.get(name, 0) for name in METADATA_STREAMS}
    content = {name: n for name, n in per_stream.items() if name not in METADATA_STREAMS}
    counts["content"] = sum(content.values())
    counts["content streams with records"] = len(content)
    return counts


def write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value))
    return path


# -- the standard set ------------------------------------------------------------------------------


@dataclass
class Setup:
    agents: int
    runs: int
    latency: float
    repeat: int


def start_sandbox(setup: Setup) -> tuple[Sandbox, list[int]]:
    """A sandbox that never throttles: the tap paces itself from the X-RateLimit headers it announces."""
    from sequentum_emulator import Sandbox  # after main() put the checkout on sys.path

    sandbox = Sandbox(seed_demo=False, latency=setup.latency, rate_limit=1_000_000_000).start()
    ids = build_organisation(sandbox, setup.agents, setup.runs)
    return sandbox, ids


def bench_config(sandbox: Sandbox, workdir: Path) -> dict:
    """The tap's settings: this sandbox, and discovery's memory in the benchmark's own folder (never the
    user's cache, which an earlier run or another organisation would have filled)."""
    return {
        "api_key": sandbox.api_key,
        "base_url": sandbox.base_url,
        "discovery_cache": str(workdir / "discovery-cache"),
    }


def discover(sandbox: Sandbox, workdir: Path, repeat: int) -> tuple[Phase, Path, Path]:
    """One discovery (measured) gives the catalog a profiled sync uses, as Meltano caches it."""
    config = write_json(workdir / "config.json", bench_config(sandbox, workdir))
    bench = Bench(Setup(0, 0, 0.0, repeat), sandbox, [], workdir, config)
    phase = bench.discover("discovery")
    assert bench.catalog is not None
    return phase, config, bench.catalog


@dataclass
class Bench:
    """The organisation under measure, and what each phase hands to the next as a scheduler would: the
    catalog of the last discovery, the STATE of the last sync."""

    setup: Setup
    sandbox: Sandbox
    ids: list[int]
    workdir: Path
    config: Path
    catalog: Path | None = None
    state: Path | None = None
    runs: dict[int, int] = field(default_factory=dict)  # agent index (from 1) -> its newest run

    def discover(self, name: str) -> Phase:
        """`--discover`, measured; its catalog is the one the syncs after it use."""
        catalog = self.workdir / f"catalog-{len(list(self.workdir.glob('catalog-*')))}.json"
        argv = tap_argv("--config", str(self.config), "--discover")
        phase, _ = measure(name, self.sandbox, argv, catalog, self.setup.repeat, singer=False)
        phase.catalog_streams = len(json.loads(catalog.read_text())["streams"])
        self.catalog = catalog
        return phase

    def sync(self, name: str) -> Phase:
        """A sync from the state the last one left (none before the first), measured; its last STATE is
        kept for the next."""
        argv = tap_argv("--config", str(self.config), "--catalog", str(self.catalog))
        argv += ["--state", str(self.state)] if self.state else []
        out = self.workdir / "sync.out"
        phase, output = measure(name, self.sandbox, argv, out, self.setup.repeat)
        path = self.workdir / f"state-{len(list(self.workdir.glob('state-*')))}.json"
        self.state = next_state(output, self.state, path)
        kept = json.loads(self.state.read_text())  # its size as the tap writes it: compact JSON
        phase.kept_state_bytes = len(json.dumps(kept, separators=(",", ":"), ensure_ascii=False).encode())
        return phase

    def checked_ago(self, age: dt.timedelta) -> None:
        """Make the kept state say every agent's runs and schedules were last read in full `age` ago (the
        STATE keeps when: `checked_at`, `read_at`), as if the sync that wrote it had run that long ago."""
        stamp = (dt.datetime.now(dt.UTC) - age).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        kept = self.state.read_text()
        text, count = re.subn(r'"(checked_at|read_at)":\s*"[^"]+"', rf'"\1": "{stamp}"', kept)
        assert count, "no checked_at in the kept state"
        self.state.write_text(text)

    def add_run(self, index: int) -> None:
        """One more finished run of agent `index` (from 1), newer than all of its runs, same export table."""
        self.runs[index] = self.runs.get(index, self.setup.runs) + 1
        add_run(self.sandbox, self.ids[index - 1], index, self.runs[index])

    def one_percent(self) -> list[int]:
        """1 % of the agents (at least one), spread over the organisation, the first one included."""
        count = max(1, len(self.ids) // 100)
        return [1 + k * (len(self.ids) // count) for k in range(count)]


def discovery(bench: Bench) -> Phase:
    return bench.discover("discovery")


def full_sync(bench: Bench) -> Phase:
    return bench.sync("full sync")


def unchanged(bench: Bench) -> Phase:
    return bench.sync("unchanged")


def an_hour_after_the_checks(bench: Bench) -> Phase:
    """Nothing changed, an hour after every agent was checked (as an hour after a full sync): the agents whose
    full check falls in that hour are read, about 1/24 of them with `runs_full_check_hours` 24. Before the
    checks were spread, this cost nothing and the sync a day later cost every runs list and schedules."""
    bench.checked_ago(dt.timedelta(hours=1))
    return bench.sync("unchanged, an hour after the checks")


def discovery_unchanged(bench: Bench) -> Phase:
    return bench.discover("discovery again, unchanged")


def one_new_run(bench: Bench) -> Phase:
    bench.add_run(1)
    return bench.sync("one new run")


def one_percent_changed(bench: Bench) -> Phase:
    """A new run on 1 % of the agents (the first agent among them: since the last discovery, exactly 1 %)."""
    for index in bench.one_percent():
        bench.add_run(index)
    return bench.sync("1 % of agents changed")


def discovery_one_percent_changed(bench: Bench) -> Phase:
    return bench.discover("discovery again, 1 % changed")


def unchanged_without_hints(bench: Bench) -> Phase:
    """The agent list loses `lastActivity` and `status` (the reference page's shape): a first sync takes that
    change (every agent's entry changed), unmeasured; the measured one after it changes nothing."""
    bench.sandbox.list_hints = False
    bench.sync("hints disappear (not reported)")
    return bench.sync("unchanged, no hints")


#: The phases, in order; each starts from what the one before left (state, catalog, organisation).
PHASES: list[Callable[[Bench], Phase]] = [
    discovery,
    full_sync,
    unchanged,
    an_hour_after_the_checks,
    discovery_unchanged,
    one_new_run,
    one_percent_changed,
    discovery_one_percent_changed,
    unchanged_without_hints,
]


def run_scale(setup: Setup) -> list[Phase]:
    sandbox, ids = start_sandbox(setup)
    try:
        with tempfile.TemporaryDirectory(prefix="tap-sequentum-scale-") as tmp:
            workdir = Path(tmp)
            config = write_json(workdir / "config.json", bench_config(sandbox, workdir))
            bench = Bench(setup, sandbox, ids, workdir, config)
            return [phase(bench) for phase in PHASES]
    finally:
        sandbox.stop()


def startup_seconds(repeat: int = 3) -> float:
    """The tap's interpreter start-up and imports (`--about`), included in every wall time above."""
    return median([run_child(tap_argv("--about", "--format=json")).seconds for _ in range(repeat)])


# -- reporting -------------------------------------------------------------------------------------


def _size(n: float) -> str:
    """Bytes in decimal units, three significant figures or so."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.{1 if n < 100 * scale else 0}f} {unit}"
    return f"{n:.0f} B"


def markdown(setup: Setup, phases: list[Phase], startup: float) -> str:
    """Two README-ready tables: requests by endpoint, then time, output and memory."""
    kinds = [k for k in KIND_NAMES if k not in ("storage", "other") or any(p.requests[k] for p in phases)]
    lat_ms = f"{setup.latency * 1000:g} ms"
    head = ["phase", *kinds, "total", "per agent", "minutes at 100/60 s"]
    lines = [
        f"{setup.agents} agents x {setup.runs} finished runs x 1 CSV of {ROWS_PER_FILE} rows; {lat_ms} per "
        f"request; wall times are medians of {setup.repeat} (tap start-up {startup:.1f} s included)",
        "",
        "| " + " | ".join(head) + " |",
        "|---" + "|---:" * (len(head) - 1) + "|",
    ]
    for p in phases:
        cells = [p.name, *(f"{p.requests[k]:,}" for k in kinds), f"**{p.total_requests:,}**"]
        cells += [f"{p.total_requests / setup.agents:.1f}", f"{p.total_requests / DOCUMENTED_LIMIT:,.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    head = [
        "phase",
        "wall s",
        f"wall / (requests x {lat_ms})",
        "tap CPU s",
        "stdout",
        "STATE msgs",
        "STATE bytes (% stdout)",
        "largest STATE",
        "STATE kept (per agent)",
        "SCHEMA msgs (streams)",
        "RECORDs: metadata + content",
        "peak RSS MiB",
    ]
    lines += ["", "| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for p in phases:
        ratio = f"{p.network_ratio(setup.latency):.2f}"
        cpu = f"{median(p.cpu_seconds):.1f}"
        if p.catalog_streams is not None:
            cells = [p.name, f"{p.median_seconds:.1f}", ratio, cpu, f"{_size(p.stdout_bytes)} (catalog)"]
            cells += ["", "", "", "", f"({p.catalog_streams} streams)", "", f"{p.peak_rss_mib:.0f}"]
        else:
            states = p.messages.get("STATE", 0)
            share = f"{100 * p.state_bytes / p.stdout_bytes:.0f} %" if p.stdout_bytes else "-"
            meta = sum(p.records[name] for name in METADATA_STREAMS)
            content = p.records["content"]
            cells = [p.name, f"{p.median_seconds:.1f}", ratio, cpu, _size(p.stdout_bytes), f"{states:,}"]
            cells += [f"{_size(p.state_bytes)} ({share})", _size(p.largest_state_bytes)]
            kept = p.kept_state_bytes or 0
            cells += [f"{_size(kept)} ({_size(kept / setup.agents)})"]
            cells += [f"{p.messages.get('SCHEMA', 0):,} ({p.schema_streams})", f"{meta:,} + {content:,}"]
            cells += [f"{p.peak_rss_mib:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    failed = {p.name: p.failed_requests for p in phases if p.failed_requests}
    if failed:
        lines.append(f"\nwarning: failed answers (>= 400 or reset) per phase: {failed}")
    return "\n".join(lines)


def _machine() -> dict[str, object]:
    versions = package_versions("singer-sdk", "msgspec", "pyarrow")
    return {"cpus": os.cpu_count(), "python": platform.python_version(), **versions}


def _git_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return done.stdout.strip()


def save(path: Path, setup: Setup, phases: list[Phase], startup: float, load: float) -> None:
    """Merge this run into the results file, keyed by organisation size."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("runs", {})[f"{setup.agents}x{setup.runs}"] = {
        "date": dt.date.today().isoformat(),
        "commit": _git_commit(),
        "machine": _machine(),
        "setup": {**asdict(setup), "files_per_run": 1, "rows_per_file": ROWS_PER_FILE},
        "startup_seconds": round(startup, 2),
        "load_average_at_start": load,
        "phases": {p.name: p.summary(setup.latency, setup.agents) for p in phases},
    }
    path.write_text(json.dumps(data, indent=2) + "\n")


# -- profile ---------------------------------------------------------------------------------------


def _label(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name  # a builtin: "<method 'recv_into' of '_socket.socket' objects>"
    if "site-packages/" in filename:
        filename = filename.split("site-packages/", 1)[1]
    elif filename.startswith(str(ROOT)):
        filename = filename[len(str(ROOT)) + 1 :]
    elif "/lib/python" in filename:
        filename = filename.split("/lib/python", 1)[1].split("/", 1)[-1]
    return f"{filename}:{line}({name})"


#: Costs issue 9 names, as (label, [(file suffix, function)]): cumulative time summed over the functions.
#: A function the tap no longer calls shows as 0, which is the point.
SUSPECTS = [
    ("STATE messages (singer-sdk write_state)", [("singer_sdk/helpers/_state.py", "write_state")]),
    ("dataclasses.asdict (outermost calls)", [("dataclasses.py", "asdict")]),
    ("copy.deepcopy (outermost calls)", [("copy.py", "deepcopy")]),
    ("proxy settings from the environment", [("requests/sessions.py", "merge_environment_settings")]),
    (
        "temporary files (create, unlink)",
        [("tempfile.py", "NamedTemporaryFile"), ("~", "<built-in method posix.unlink>")],
    ),
    ("socket reads (mostly network wait)", [("~", "<method 'recv_into' of '_socket.socket' objects>")]),
]


def profile_report(path: Path, files: int = 0, top: int = 25) -> str:
    """Top functions by cumulative and by own time, own time by file, and issue 9's suspects."""
    stats = pstats.Stats(str(path))
    rows = [(func, nc, tt, ct) for func, (_, nc, tt, ct, _) in stats.stats.items()]  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    lines = [f"profiled time: {total:.1f} s"]
    order: list[tuple[str, Callable[[tuple], float]]] = [
        ("cumulative", lambda r: r[3]),
        ("own", lambda r: r[2]),
    ]
    for title, key in order:
        lines += [
            "",
            f"top {top} by {title} time",
            f"{'calls':>10} {'own s':>8} {'cum s':>8} {'%':>5}  function",
        ]
        for func, nc, tt, ct in sorted(rows, key=key, reverse=True)[:top]:
            share = 100 * key((func, nc, tt, ct)) / total
            lines.append(f"{nc:>10,} {tt:>8.2f} {ct:>8.2f} {share:>5.1f}  {_label(func)}")
    by_file: collections.Counter[str] = collections.Counter()
    for func, _, tt, _ in rows:
        by_file[_label(func).split(":", 1)[0] if func[0] != "~" else func[2]] += tt
    lines += ["", "own time by file, builtins by name (top 15; socket reads are mostly network wait)"]
    lines += [f"{tt:>8.2f} s {100 * tt / total:>5.1f} %  {name}" for name, tt in by_file.most_common(15)]
    per = f", and per downloaded file ({files:,})" if files else ""
    lines += ["", f"issue 9's suspects: cumulative time{per}; they overlap (write_state calls asdict)"]
    for label, wanted in SUSPECTS:
        ct = sum(
            c for (f, _, name), _, _, c in rows for suffix, fn in wanted if f.endswith(suffix) and name == fn
        )
        per_file = f" {1000 * ct / files:>7.2f} ms" if files else ""
        lines.append(f"{ct:>8.2f} s {100 * ct / total:>5.1f} %{per_file}  {label}")
    return "\n".join(lines)


def run_profile(setup: Setup, output: Path | None) -> None:
    """cProfile of the full sync, in the tap's own process (`python -m cProfile -m tap_sequentum.tap`)."""
    sandbox, _ = start_sandbox(setup)
    try:
        with tempfile.TemporaryDirectory(prefix="tap-sequentum-profile-") as tmp:
            workdir = Path(tmp)
            _, config, catalog = discover(sandbox, workdir, 1)
            prof = output or workdir / "full-sync.prof"
            argv = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "tap_sequentum.tap"]
            argv += ["--config", str(config), "--catalog", str(catalog)]
            phase, out = measure("full sync (profiled)", sandbox, argv, workdir / "full.out", 1)
            if not out.records:
                raise SystemExit("the profiled sync emitted no RECORD: see its stderr")
            files = phase.requests["downloads"]
            network = phase.total_requests * setup.latency
            per_file = 1000 * (phase.median_seconds - network) / max(files, 1)
            print(
                f"\n{phase.total_requests:,} requests, {phase.median_seconds:.1f} s under cProfile "
                f"({network:.1f} s of it network at {setup.latency * 1000:g} ms a request); "
                f"the rest is {per_file:.1f} ms per downloaded file (cProfile slows Python code down)"
            )
            print(profile_report(prof, files))
            if output:
                print(f"\nprofile kept in {output} (open with python -m pstats or snakeviz)")
    finally:
        sandbox.stop()


# -- entry point -----------------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text.replace("_", ""))
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=_positive, default=150, help="agents in the organisation (150)")
    parser.add_argument(
        "--runs",
        type=_positive,
        help=f"finished runs per agent, one 10-row CSV each (default {DEFAULT_RUNS}; "
        f"{DEFAULT_RUNS_ABOVE_150} above 150 agents, so a full sync stays within minutes)",
    )
    parser.add_argument("--latency-ms", type=float, default=LATENCY * 1000, help="per request (20)")
    parser.add_argument("--repeat", type=_positive, default=1, help="runs of each phase; medians (1)")
    parser.add_argument("--profile", action="store_true", help="cProfile the full sync instead")
    parser.add_argument("--profile-output", type=Path, help="keep the .prof file here")
    parser.add_argument("--output", type=Path, default=RESULTS, help="results JSON (merged by size)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))  # run from a checkout even if the package is not installed
    runs = args.runs or (DEFAULT_RUNS if args.agents <= 150 else DEFAULT_RUNS_ABOVE_150)
    setup = Setup(args.agents, runs, args.latency_ms / 1000, args.repeat)
    print(
        f"organisation: {setup.agents} agents x {setup.runs} runs x 1 CSV; {args.latency_ms:g} ms a request"
    )
    if args.profile:
        run_profile(setup, args.profile_output)
        return
    load = load_average()
    startup = startup_seconds()
    phases = run_scale(setup)
    print()
    print(markdown(setup, phases, startup))
    print(f"load average at start: {load} on {os.cpu_count()} cores")
    save(args.output, setup, phases, startup, load)
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"\nresults written to {shown}")


if __name__ == "__main__":
    main()
