"""Helpers shared by the tests: run the tap in-process or as a real process against a sandbox."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sequentum_emulator import Sandbox
from tap_sequentum.domain import parse_timestamp
from tap_sequentum.tap import TapSequentum


def running(**options) -> Iterator[Sandbox]:
    """A sandbox started with these options for as long as the fixture that yields from this lives."""
    with Sandbox(**options) as sandbox:
        yield sandbox


def config_for(sandbox, **extra) -> dict:
    return {"api_key": sandbox.api_key, "base_url": sandbox.base_url, "max_retries": 3, **extra}


@dataclass
class SyncResult:
    messages: list[dict]
    stdout: str
    stderr: str = ""
    returncode: int = 0
    records: dict[str, list[dict]] = field(default_factory=dict)
    state: dict | None = None

    def __post_init__(self) -> None:
        for message in self.messages:
            if message["type"] == "RECORD":
                self.records.setdefault(message["stream"], []).append(message["record"])
            elif message["type"] == "STATE":
                self.state = message["value"]

    def ids(self, stream: str, key: str = "id") -> list:
        return [r[key] for r in self.records.get(stream, [])]


def parse_messages(stdout: str) -> list[dict]:
    return [json.loads(line, parse_float=Decimal) for line in stdout.splitlines() if line.strip()]


def sync(config: dict, state: dict | None = None, catalog: dict | None = None) -> SyncResult:
    """Run a full sync in-process and parse what it wrote to stdout."""
    # A copy: the tap works on its state in place, and a caller may pass the same state to several syncs.
    given = json.loads(json.dumps(state)) if state is not None else None
    tap = TapSequentum(config=config, state=given, catalog=catalog, validate_config=True)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        tap.sync_all()
    result = SyncResult(parse_messages(out.getvalue()), out.getvalue(), err.getvalue())
    if result.state is None:
        result.state = state  # nothing changed: a runner keeps the state it gave
    return result


def environment(*drop: str, **extra: str | None) -> dict[str, str]:
    """This process's environment without the variables whose names start with one of `drop` (a developer's
    own settings must not reach a test), plus `extra`; an `extra` of None removes that variable."""
    env: dict[str, str | None] = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def run_process(
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    text: bool = True,
) -> subprocess.CompletedProcess:
    """Run a command to its end with its output captured; the caller checks the exit code."""
    return subprocess.run(
        command, capture_output=True, text=text, env=env, cwd=cwd, timeout=timeout, check=False
    )


class SignalAfter(io.StringIO):
    """stdout that sends this process `signum` right after the `count`-th RECORD of `stream` was written: a
    real signal, arriving mid-stream (the tap writes each message in one call)."""

    def __init__(self, stream: str, count: int, signum: int = signal.SIGTERM) -> None:
        super().__init__()
        self.marker, self.count, self.signum = f'"type":"RECORD","stream":"{stream}"', count, signum

    def write(self, text: str) -> int:
        written = super().write(text)
        if self.marker in text:
            self.count -= 1
            if self.count == 0:
                os.kill(os.getpid(), self.signum)
        return written


def run_cli(
    args: list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    *,
    process: bool = False,
    stdout: io.StringIO | None = None,
) -> subprocess.CompletedProcess:
    """Run `tap-sequentum` with these arguments and environment, as Meltano would, and capture what it says.

    By default in this process (the entry point `main()` with `sys.argv`, the environment, stdout, stderr,
    logging and signal handlers swapped in, then restored): a process start costs about a second, and the
    entry point is the same. `process=True` runs a real process, for what only a process shows. `stdout`
    (in-process only) is where the messages go, e.g. a `SignalAfter`.
    """
    full_env = environment("TAP_SEQUENTUM_", **(env or {}))
    if process:
        command = [sys.executable, "-m", "tap_sequentum.tap", *args]
        return run_process(command, env=full_env, cwd=cwd, timeout=timeout)
    return _run_main_in_process(["tap-sequentum", *args], full_env, cwd, stdout or io.StringIO())


def _run_main_in_process(
    argv: list[str], env: dict[str, str], cwd: Path | None, out: io.StringIO
) -> subprocess.CompletedProcess:
    from tap_sequentum.tap import main

    saved_env, saved_argv, saved_cwd = dict(os.environ), sys.argv, os.getcwd()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_levels = {
        name: log.level
        for name, log in logging.root.manager.loggerDict.items()
        if isinstance(log, logging.Logger)
    }
    saved_signals = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    err = io.StringIO()
    code: int = 0
    try:
        os.environ.clear()
        os.environ.update(env)
        sys.argv = argv
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                if isinstance(exc.code, int) or exc.code is None:
                    code = exc.code or 0
                else:
                    err.write(f"{exc.code}\n")
                    code = 1
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
        for sig, handler in saved_signals.items():
            signal.signal(sig, handler)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def handled_by(state: dict, runs: Iterable[dict]) -> set[int]:
    """The runs (as listed) a stream's state counts as handled: by id (`seen_run_ids`), or created before
    `seen_since` (older runs are only counted, not named)."""
    since = parse_timestamp(state.get("seen_since"))
    seen = set(state.get("seen_run_ids") or ())
    return {
        run["id"]
        for run in runs
        if run["id"] in seen or (since is not None and parse_timestamp(run["created"]) < since)
    }


def write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def build_wheel(source: Path, out: Path, pattern: str) -> Path:
    """A wheel of the distribution in `source` (the tap, or `emulator/`), built into `out`."""
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    cmd = [uv, "build", "--wheel", "--out-dir", str(out), str(source)]
    if not Path(uv).exists():
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(source)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return next(out.glob(pattern))
