"""The README's settings table is what `tap-sequentum --about --format=markdown` prints."""

from __future__ import annotations

from pathlib import Path

from support import run_cli

ROOT = Path(__file__).resolve().parent.parent


def test_settings_table_is_in_sync():
    about = run_cli(["--about", "--format=markdown"]).stdout
    table = about.split("## Settings", 1)[1].split("\n\n", 2)[1].strip()
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- settings:start -->", 1)[1].split("<!-- settings:end -->", 1)[0].strip()
    assert section == table, "run ./scripts/update-readme"


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```bash", 1)[1].split("```", 1)[0]
    assert "./scripts/meltano-demo" in first_block
    assert "./scripts/test" in first_block
    ci = (ROOT / ".ci/run").read_text()
    assert "scripts/test" in ci
