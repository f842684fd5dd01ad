"""Run a benchmark child process and measure it: wall time, peak RSS, stderr.

Shared by every benchmark so they all time the same way: a child per measurement (the tap exactly as a
scheduler runs it), `os.wait4` for that child's own peak RSS, unaffected by the benchmark process or
siblings, and bytecode caching on, as a normal install has `.pyc` files.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, cast

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"


@dataclass
class Child:
    """What a finished child left behind."""

    seconds: float
    peak_rss_kib: int
    stderr: str
    returncode: int = 0
    cpu_seconds: float = 0.0  # user + system: the child's own work, whatever the load or the network
    reader_output: str = ""  # what the reading process printed, when stdout went to one

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_kib / 1024


def child_env() -> dict[str, str]:
    """The environment of every child, with bytecode caching on (under `.cache/`, never in the venv).

    Without it (PYTHONDONTWRITEBYTECODE=1, or a venv installed without .pyc files) each child would
    compile singer-sdk and pyarrow from source, seconds that a normal install never pays.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(CACHE / "pycache")
    return env


def run_child(
    argv: Sequence[str],
    stdout: IO[bytes] | int = subprocess.DEVNULL,
    check: bool = True,
    reader: Sequence[str] | None = None,
) -> Child:
    """Run `argv` from the project root and wait for it with `os.wait4` (ru_maxrss is KiB on Linux).

    With `reader`, stdout goes through a pipe to that process instead, as it goes to a Singer target: the
    wall time then runs until the reader has read everything, and `reader_output` is what it printed.
    Peak RSS and CPU time are always those of `argv` alone.
    """
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as said:  # files: nobody reads them
        started = time.perf_counter()
        consumer = None
        if reader is not None:
            consumer = subprocess.Popen(reader, stdin=subprocess.PIPE, stdout=said, cwd=ROOT, env=child_env())
            stdout = cast("IO[bytes]", consumer.stdin)
        proc = subprocess.Popen(argv, stdout=stdout, stderr=err, cwd=ROOT, env=child_env())
        if consumer is not None:
            cast("IO[bytes]", consumer.stdin).close()  # the reader sees the end when the child exits
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if consumer is not None and consumer.wait() != 0 and check:
            raise SystemExit(
                f"the reader of {' '.join(argv[:4])} ... failed with exit code {consumer.returncode}"
            )
        seconds = time.perf_counter() - started
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
        said.seek(0)
        output = said.read().decode("utf-8", "replace")
    if check and proc.returncode != 0:
        sys.stderr.write(text[-4000:])
        raise SystemExit(f"{' '.join(argv[:4])} ... failed with exit code {proc.returncode}")
    return Child(seconds, usage.ru_maxrss, text, proc.returncode, usage.ru_utime + usage.ru_stime, output)


def tap_argv(*args: str) -> list[str]:
    """The tap's public entry point, as Meltano runs it."""
    return [sys.executable, "-m", "tap_sequentum.tap", *args]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def load_average() -> float:
    """The 1-minute load average when a benchmark starts: above the core count, expect noisy timings."""
    return round(os.getloadavg()[0], 2)


def package_versions(*names: str) -> dict[str, str]:
    """The installed versions of the packages a benchmark's figures depend on ("?" for a missing one)."""
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "?"
    return found
