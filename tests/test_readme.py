"""The README and docs/ stay true: the two commands first, every link and script resolves, the generated
settings page is fresh and the layout names every module. (The README's Meltano commands run in
test_meltano.py.)"""

from __future__ import annotations

import re
from pathlib import Path

from support import run_process

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCUMENTS = [README, ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def anchor(heading: str) -> str:
    """GitHub's id for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_readme_opens_with_the_two_commands():
    readme = README.read_text()
    assert re.findall(r"^## (.+)$", readme, re.MULTILINE)[0] == "Two commands"
    first = [line.split("#")[0].strip() for line in code_blocks(readme)[0].splitlines()]
    assert first == ["./scripts/meltano-demo", "./scripts/test"]
    assert readme.index("```") < readme.index("## ", readme.index("## Two commands") + 1)
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if not line.startswith("#")]
    assert "exec bash scripts/test" in ci, "CI runs exactly the README's test command"


def test_readme_fits_in_about_two_screens():
    lines = README.read_text().splitlines()
    assert len(lines) <= 100, f"README.md has {len(lines)} lines: move depth into docs/"


def test_every_link_resolves():
    broken = []
    for document in DOCUMENTS:
        for target in LINK.findall(document.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            path, _, fragment = target.partition("#")
            resolved = (document.parent / path).resolve() if path else document
            if not resolved.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
            elif fragment and resolved.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", resolved.read_text(), re.MULTILINE)
                if fragment not in {anchor(h) for h in headings}:
                    broken.append(f"{document.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in LINK.findall(README.read_text())}
    assert not [page.name for page in (ROOT / "docs").glob("*.md") if page.resolve() not in linked]


def test_scripts_and_commands_named_in_the_docs_exist():
    for document in DOCUMENTS:
        text = document.read_text()
        for script in set(re.findall(r"(?<![\w/])\.?/?scripts/([\w-]+)", text)):
            path = ROOT / "scripts" / script
            assert path.is_file(), f"{document.name}: scripts/{script}"
            assert path.stat().st_mode & 0o111, f"scripts/{script} is not executable"
        for command in set(re.findall(r"\.venv/bin/([\w-]+)", text)):
            assert (ROOT / ".venv" / "bin" / command).exists(), f"{document.name}: .venv/bin/{command}"


def test_settings_page_is_what_the_tap_reports():
    proc = run_process(["bash", str(ROOT / "scripts" / "update-docs"), "--check"])
    assert proc.returncode == 0, proc.stderr


def test_layout_names_every_module():
    """docs/development.md's layout lists each module of tap_sequentum/ once, in its package."""
    text = (ROOT / "docs" / "development.md").read_text()
    block = next(b for b in code_blocks(text) if b.startswith("tap_sequentum/"))
    listed, package = set(), ""
    for line in block.splitlines()[1:]:
        indent, name = len(line) - len(line.lstrip()), line.split()[0] if line.strip() else ""
        if indent == 2:
            package = name if name.endswith("/") else ""
            listed.add(name)
        elif indent == 4 and package:
            listed.add(package + name)
    package_root = ROOT / "tap_sequentum"
    modules = [path for path in package_root.rglob("*.py") if path.name != "__init__.py"]
    actual = {str(path.relative_to(package_root)) for path in modules}
    actual |= {f"{path.name}/" for path in package_root.iterdir() if (path / "__init__.py").exists()}
    assert listed == actual, (
        f"missing from docs/development.md: {sorted(actual - listed)}; gone: {sorted(listed - actual)}"
    )
