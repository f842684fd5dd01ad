"""The seam to singer-sdk's internals: every private name still exists and still behaves as the tap needs.

When one of these fails after a singer-sdk upgrade, the fix belongs in `tap_sequentum/sdk.py` alone.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import io
import itertools
import json
import re
import sys
from pathlib import Path

import pytest
from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from support import config_for, sync

from tap_sequentum.sdk import INTERNALS, OutputMeter, PacedStateWriter, SeamStream, SeamTap

PACKAGE = Path(__file__).resolve().parents[1] / "tap_sequentum"


def _resolve(dotted: str) -> object:
    """`Stream._tap` -> the attribute (or, for instance attributes, the name in __init__'s source)."""
    head, _, rest = dotted.partition(".")
    if head == "singer_sdk":
        module_name, _, attribute = dotted.rpartition(".")
        return getattr(importlib.import_module(module_name), attribute)
    owner = {"Stream": Stream, "Tap": Tap}[head]
    target: object = owner
    for part in rest.split("."):
        if hasattr(target, part):
            target = getattr(target, part)
            continue
        # An attribute set in __init__ (instance state): it must still be assigned there.
        sources = "".join(
            inspect.getsource(cls)
            for cls in inspect.getmro(target)
            if cls.__module__.startswith("singer_sdk")
        )  # type: ignore[arg-type]
        assert re.search(rf"self\.{re.escape(part)}\b", sources), f"{dotted}: no longer set by singer-sdk"
        return part
    return target


@pytest.mark.parametrize("name", sorted(INTERNALS))
def test_every_internal_the_seam_uses_still_exists(name):
    if name == "Stream.state_manager.is_flushed":
        source = inspect.getsource(importlib.import_module("singer_sdk.streams.core"))
        assert "state_manager.is_flushed" in source
        return
    assert _resolve(name) is not None


def _sdk_private_names() -> set[str]:
    """Every private name singer-sdk's Stream and Tap (with their SDK bases) define or assign, and the last
    part of every attribute in INTERNALS (`Stream.state_manager.is_flushed` -> `is_flushed`); names from
    private modules (`singer_sdk.helpers._batch.BatchConfig`) are found by their import instead."""
    names = {dotted.rsplit(".", 1)[-1] for dotted in INTERNALS if not dotted.startswith("singer_sdk.")}
    for root in (Stream, Tap):
        for cls in inspect.getmro(root):
            if cls.__module__.startswith("singer_sdk"):
                names |= {name for name in vars(cls) if name.startswith("_") and not name.startswith("__")}
                names |= set(re.findall(r"self\.(_[a-z]\w*)", inspect.getsource(cls)))
    return names


SDK_PRIVATE = _sdk_private_names()
#: Importing from a private singer-sdk module (`singer_sdk.helpers._catalog`).
PRIVATE_MODULE = re.compile(r"\bsinger_sdk(?:\.\w+)*\._\w+")


class _SdkInternals(ast.NodeVisitor):
    """Where a module touches singer-sdk's private names: `x._name` on anything but `self`, `self._name`
    and `def _name` inside a Stream or Tap subclass, and imports of private singer-sdk modules."""

    def __init__(self, module: object) -> None:
        self.module = module
        self.classes: list[bool] = []  # for each enclosing class: is it a singer-sdk Stream or Tap?
        self.found: list[tuple[int, str, str]] = []  # (line, the code, the name INTERNALS must list)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        cls = getattr(self.module, node.name, None)
        self.classes.append(inspect.isclass(cls) and issubclass(cls, (Stream, Tap)))
        self.generic_visit(node)
        self.classes.pop()

    def _in_sdk_class(self) -> bool:
        return bool(self.classes) and self.classes[-1]

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if self._in_sdk_class() and node.name in SDK_PRIVATE:
            self.found.append((node.lineno, f"def {node.name}", node.name))
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        on_self = isinstance(node.value, ast.Name) and node.value.id == "self"
        if node.attr in SDK_PRIVATE and (not on_self or self._in_sdk_class()):
            self.found.append((node.lineno, f"{ast.unparse(node.value)}.{node.attr}", node.attr))
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and PRIVATE_MODULE.search(node.module):
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                self.found.append((node.lineno, f"from {node.module} import {alias.name}", name))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if PRIVATE_MODULE.search(alias.name):
                self.found.append((node.lineno, f"import {alias.name}", alias.name))


def sdk_internals_used(path: Path) -> list[tuple[int, str, str]]:
    """(line, code, name) for every use of a singer-sdk private name in the module at `path`."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    # Classes are looked up on the imported module; a `__main__` would run, so it is read as text only.
    module = (
        None
        if parts[-1] == "__main__"
        else importlib.import_module(".".join(parts).removesuffix(".__init__"))
    )
    visitor = _SdkInternals(module)
    visitor.visit(ast.parse(path.read_text(), str(path)))
    return visitor.found


SEAM = PACKAGE / "sdk.py"


def test_no_module_but_the_seam_touches_sdk_internals():
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line}: {what}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != SEAM
        for line, what, _ in sdk_internals_used(path)
    ]
    assert offenders == []


def test_the_seam_names_every_internal_it_uses():
    # `Stream._tap` counts as `_tap`; a name from a private module whole (`singer_sdk.helpers._batch.X`).
    named = {name if name.startswith("singer_sdk.") else name.rsplit(".", 1)[-1] for name in INTERNALS}
    used = {name for _, _, name in sdk_internals_used(SEAM)}
    assert used - named == set()
    assert named - used == set()  # nothing listed that the seam no longer uses


def test_the_guard_sees_every_kind_of_reach(tmp_path):
    source = """
from singer_sdk.helpers._catalog import get_selected_schema
from singer_sdk import Stream

class Mine(Stream):
    def _write_schema_message(self):
        self._schema = {}

class Other:
    def go(self, stream):
        self._schema = stream._tap
        stream.state_manager.is_flushed = False
"""
    module = type(sys)("probe")
    exec(compile(source, "probe", "exec"), module.__dict__)
    visitor = _SdkInternals(module)
    visitor.visit(ast.parse(source))
    assert sorted(what for _, what, _ in visitor.found) == [
        "def _write_schema_message",
        "from singer_sdk.helpers._catalog import get_selected_schema",
        "self._schema",
        "stream._tap",
        "stream.state_manager.is_flushed",
    ]


def test_private_hooks_have_the_signatures_the_seam_overrides():
    assert list(inspect.signature(Stream._increment_stream_state).parameters) == [
        "self",
        "latest_record",
        "context",
    ]
    assert list(inspect.signature(Tap._handle_termination).parameters) == ["self", "signum", "frame"]
    assert list(inspect.signature(Stream._write_schema_message).parameters) == ["self"]
    assert list(inspect.signature(Stream._write_state_message).parameters) == ["self"]
    from singer_sdk.helpers._catalog import get_selected_schema

    assert list(inspect.signature(get_selected_schema).parameters) == ["stream_name", "schema", "mask"]


class _Tap(SeamTap):
    name = "tap-seam-probe"
    config_jsonschema = th.PropertiesList().to_dict()

    def discover_streams(self) -> list[Stream]:
        return [_Numbers(self)]

    def on_termination(self, signum: int) -> None:  # pragma: no cover - not signalled here
        raise SystemExit(signum)


class _Numbers(SeamStream):
    name = "numbers"
    primary_keys = ("n",)
    schema = th.PropertiesList(th.Property("n", th.IntegerType)).to_dict()

    def __init__(self, tap: Tap) -> None:
        super().__init__(tap)
        self.seen_when_written: list[int] = []
        self.out: io.StringIO | None = None

    def get_records(self, context):
        for n in range(5):
            yield {"n": n}

    def record_written(self, record, context) -> None:
        assert self.out is not None
        lines = [json.loads(line) for line in self.out.getvalue().splitlines()]
        self.seen_when_written.append(sum(1 for m in lines if m["type"] == "RECORD"))


def test_record_written_is_called_after_the_sdk_wrote_the_record():
    tap = _Tap(config={})
    stream = tap.streams["numbers"]
    out = io.StringIO()
    stream.out = out
    with contextlib.redirect_stdout(out):
        tap.sync_all()
        tap.flush_state()
    assert stream.seen_when_written == [1, 2, 3, 4, 5]


def test_forget_streams_builds_them_again():
    tap = _Tap(config={})
    first = tap.streams["numbers"]
    tap.forget_streams()
    assert tap.streams["numbers"] is not first


def test_schema_is_written_once_per_stream_and_state_is_paced(demo_sandbox):
    result = sync(config_for(demo_sandbox))
    by_stream: dict[str, list[dict]] = {}
    for message in result.messages:
        if message["type"] == "SCHEMA":
            by_stream.setdefault(message["stream"], []).append(message["schema"])
    for stream in ("agents", "agent_versions", "runs", "run_files"):
        assert len(by_stream[stream]) == 1, stream  # run_files has a context per run: still one SCHEMA
    for stream, schemas in by_stream.items():  # content streams widen file by file, never repeat
        assert all(a != b for a, b in itertools.pairwise(schemas)), stream
    states = [m for m in result.messages if m["type"] == "STATE"]
    # The demo sync writes far less than the 32 MiB a STATE must be worth: one STATE, at the end.
    assert len(states) == 1
    assert result.messages[-1]["type"] == "STATE"


def test_paced_state_writer_writes_when_the_output_since_is_worth_it():
    meter, lines, now = OutputMeter(), [], [0.0]
    writer = PacedStateWriter(
        lines.append, meter, ratio=10, min_bytes=100, max_seconds=60, clock=lambda: now[0]
    )
    state = {"bookmarks": {"s": {"n": 1}}}
    writer.write_state(state)
    assert lines == []  # nothing was emitted since the start: not worth a STATE yet
    meter.add(150)
    writer.write_state(state)
    assert len(lines) == 1 and json.loads(lines[0]) == {"type": "STATE", "value": state}
    meter.add(150)  # < 10 x the state's size since the last one
    state["bookmarks"]["s"]["n"] = 2
    writer.write_state(state)
    assert len(lines) == 1
    now[0] = 61.0  # a minute passed: write what changed
    writer.write_state(state)
    assert len(lines) == 2
    writer.flush()  # unchanged since: nothing new
    assert len(lines) == 2
    state["bookmarks"]["s"]["n"] = 3
    writer.flush()
    assert json.loads(lines[-1])["value"]["bookmarks"]["s"]["n"] == 3


def _states_written(mib_per_second: float, total_mib: int) -> int:
    """STATE lines the default pacing writes for `total_mib` of records offered every 256 KiB."""
    meter, lines, now = OutputMeter(), [], [0.0]
    writer = PacedStateWriter(lines.append, meter, clock=lambda: now[0])
    for step in range(total_mib * 4):
        meter.add(256 << 10)
        now[0] += 0.25 / mib_per_second
        writer.write_state({"bookmarks": {"s": {"rows": step}}})
    writer.flush()
    return len(lines)


def test_default_pacing_by_tens_of_mib_or_a_minute():
    # One big file (2M rows, 900 MiB of RECORD lines at 60 MiB/s): a STATE every 32 MiB, not every MiB.
    assert _states_written(mib_per_second=60, total_mib=900) == 900 // 32 + 1
    # A sync that writes slowly (0.1 MiB/s for 10 minutes and 10 s): one a minute, then the last.
    assert _states_written(mib_per_second=0.1, total_mib=61) == 10 + 1


def test_a_large_state_waits_for_40_times_its_size():
    meter, lines = OutputMeter(), []
    writer = PacedStateWriter(lines.append, meter, clock=lambda: 0.0)
    state = {"bookmarks": {str(n): {"seen_run_ids": list(range(1000))} for n in range(300)}}  # ~1.4 MB
    writer.flush()  # nothing offered yet: nothing written
    writer.write_state(state)
    writer.flush()
    size = len(lines[0])
    state["bookmarks"]["0"]["n"] = 1
    meter.add(33 << 20)  # 32 MiB is not enough for a STATE this size
    writer.write_state(state)
    assert len(lines) == 1
    meter.add(40 * size - (33 << 20))
    writer.write_state(state)
    assert len(lines) == 2


def test_unpaced_writer_writes_every_change():
    lines: list[str] = []
    writer = PacedStateWriter(lines.append, OutputMeter(), paced=False)
    for n in range(3):
        writer.write_state({"n": n})
    writer.write_state({"n": 2})
    assert [json.loads(line)["value"]["n"] for line in lines] == [0, 1, 2]


def test_an_unchanged_state_is_not_written_again(demo_sandbox):
    config = config_for(demo_sandbox, agent_ids=[1001])
    first = sync(config)
    again = sync(config, state=first.state)
    assert not [m for m in again.messages if m["type"] == "STATE"]  # the runner keeps the state it has


def test_env_settings_keep_the_sdks_parsing_with_the_environment_above_dotenv(tmp_path, monkeypatch):
    """singer-sdk loads .env over the environment; the seam loads it below, and the SDK still parses."""
    from tap_sequentum.settings import ENV_PREFIX
    from tap_sequentum.tap import TapSequentum

    env_file = tmp_path / ".env"
    env_file.write_text(
        "TAP_SEQUENTUM_BASE_URL=http://from-dotenv\nTAP_SEQUENTUM_MAX_RETRIES=7\nTAP_SEQUENTUM_TRIGGER="
        '[{"agent_id": 1001}]\n'
    )
    for name in ("BASE_URL", "MAX_RETRIES", "TRIGGER"):  # restored (removed) afterwards: .env sets them
        monkeypatch.setenv(ENV_PREFIX + name, "")
        monkeypatch.delenv(ENV_PREFIX + name)
    monkeypatch.setenv(ENV_PREFIX + "BASE_URL", "http://from-the-environment")
    monkeypatch.setattr(TapSequentum, "env_file", classmethod(lambda cls: env_file))
    config = TapSequentum._env_var_config
    assert config["base_url"] == "http://from-the-environment"
    assert config["max_retries"] == 7 and config["trigger"] == [{"agent_id": 1001}]
    assert TapSequentum._env_var_prefix == ENV_PREFIX  # the prefix the seam derives, as the SDK does
