"""The built wheel carries everything the sandbox and the demo need (no editable-install luck)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support import environment, run_process

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    cmd = [uv, "build", "--wheel", "--out-dir", str(out), str(ROOT)]
    if not Path(uv).exists():
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(ROOT)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return next(out.glob("tap_sequentum-*.whl"))


def test_wheel_contains_package_data_and_entry_points(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    data = [n for n in names if n.startswith("tap_sequentum/sandbox/data/")]
    shipped = {p.name for p in (ROOT / "tap_sequentum/sandbox/data").iterdir() if p.is_file()}
    assert {Path(n).name for n in data} >= shipped
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "tap-sequentum = tap_sequentum.tap:main" in text
    assert "tap-sequentum-sandbox = tap_sequentum.sandbox.__main__:main" in text
    assert "sequentum = tap_sequentum.cli:main" in text


def test_sandbox_and_tap_run_from_the_wheel_alone(wheel, tmp_path):
    """Import the package from the wheel file only (not the checkout) and sync from its sandbox."""
    script = (
        "import sys, json, io, contextlib\n"
        "from tap_sequentum.sandbox import Sandbox\n"
        "from tap_sequentum.tap import TapSequentum\n"
        "import tap_sequentum\n"
        "assert tap_sequentum.__file__.startswith(sys.argv[1]), tap_sequentum.__file__\n"
        "with Sandbox() as sb:\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        TapSequentum(config={'api_key': sb.api_key, 'base_url': sb.base_url}).sync_all()\n"
        "streams = {json.loads(l)['stream'] for l in out.getvalue().splitlines() if '\"RECORD\"' in l}\n"
        "print(json.dumps(sorted(streams)))\n"
    )
    env = environment(PYTHONPATH=str(wheel))
    proc = run_process([sys.executable, "-c", script, str(wheel)], env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    streams = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"agents", "runs", "run_files", "agent_versions"} <= set(streams)
