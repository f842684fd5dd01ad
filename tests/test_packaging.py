"""The built wheels: the tap's alone (no emulator inside), the emulator's with its data, both working from the
wheel files alone (no editable-install luck)."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest
from support import build_wheel, environment, run_process

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(ROOT, tmp_path_factory.mktemp("wheel"), "tap_sequentum-*.whl")


@pytest.fixture(scope="module")
def emulator_wheel(tmp_path_factory) -> Path:
    return build_wheel(ROOT / "emulator", tmp_path_factory.mktemp("emulator"), "sequentum_emulator-*.whl")


def entry_points(wheel: Path) -> str:
    names = zipfile.ZipFile(wheel).namelist()
    return zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()


def test_the_tap_wheel_holds_the_tap_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if "sandbox" in n or "emulator" in n or "demo" in n]
    text = entry_points(wheel)
    assert "tap-sequentum = tap_sequentum.tap:main" in text
    assert "sequentum = tap_sequentum.cli:main" in text
    assert "emulator" not in text


def test_the_emulator_wheel_holds_its_data_and_command(emulator_wheel):
    names = zipfile.ZipFile(emulator_wheel).namelist()
    data = [n for n in names if n.startswith("sequentum_emulator/data/")]
    shipped = {p.name for p in (ROOT / "emulator/sequentum_emulator/data").iterdir() if p.is_file()}
    assert "demo.json" in shipped  # the demo itself: Sandbox() seeds from it
    assert {Path(n).name for n in data} >= shipped
    assert "sequentum-emulator = sequentum_emulator.__main__:main" in entry_points(emulator_wheel)
    assert not [n for n in names if n.startswith("tap_sequentum/")]


def test_tap_syncs_from_the_emulator_both_from_their_wheels_alone(wheel, emulator_wheel, tmp_path):
    """Import both packages from the wheel files only (not the checkout) and sync from the emulator."""
    script = (
        "import sys, json, io, contextlib\n"
        "from sequentum_emulator import Sandbox\n"
        "from tap_sequentum.tap import TapSequentum\n"
        "import tap_sequentum, sequentum_emulator\n"
        "assert tap_sequentum.__file__.startswith(sys.argv[1]), tap_sequentum.__file__\n"
        "assert sequentum_emulator.__file__.startswith(sys.argv[2]), sequentum_emulator.__file__\n"
        "with Sandbox() as sb:\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        TapSequentum(config={'api_key': sb.api_key, 'base_url': sb.base_url}).sync_all()\n"
        "streams = {json.loads(l)['stream'] for l in out.getvalue().splitlines() if '\"RECORD\"' in l}\n"
        "print(json.dumps(sorted(streams)))\n"
    )
    env = environment(PYTHONPATH=f"{wheel}:{emulator_wheel}")
    proc = run_process([sys.executable, "-c", script, str(wheel), str(emulator_wheel)], env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    streams = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"agents", "runs", "run_files", "agent_versions"} <= set(streams)
