"""The settings: one typed object built once, defaults from the schema, and what a user typed checked without
ever echoing a secret."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from support import config_for, sync

from tap_sequentum import errors
from tap_sequentum.settings import AUTO, SETTINGS_SCHEMA, SKIP, Settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_come_from_the_schema():
    settings = Settings.of({"api_key": "k"})
    for field in dataclasses.fields(Settings):
        declared = SETTINGS_SCHEMA["properties"].get(field.name, {})
        if "default" in declared:
            assert getattr(settings, field.name) == declared["default"], field.name
    assert (settings.csv_encoding, settings.csv_delimiter, settings.on_bad_file) == (AUTO, AUTO, SKIP)
    assert (settings.agent_ids, settings.trigger, settings.start_date, settings.temp_dir) == (
        (),
        (),
        None,
        None,
    )


def test_values_are_typed_once():
    settings = Settings.of(
        {
            "api_key": " k ",
            "agent_ids": "1001, 1002",
            "start_date": "2026-01-01",
            "request_timeout": 30,
            "csv_delimiter": "semicolon",
            "base_url": "",
        }
    )
    assert settings.api_key == "k" and settings.agent_ids == (1001, 1002)
    assert settings.start_date == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert settings.request_timeout == 30.0 and isinstance(settings.request_timeout, float)
    assert (
        settings.csv_delimiter == ";"
        and settings.base_url == SETTINGS_SCHEMA["properties"]["base_url"]["default"]
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.api_key = "other"  # type: ignore[misc]


def test_every_value_that_cannot_work_is_named_in_one_line():
    with pytest.raises(errors.ConfigurationError) as caught:
        Settings.of(
            {"api_key": "k", "runs_max_records": 0, "csv_encoding": "klingon", "on_bad_file": "explode"}
        )
    message = str(caught.value)
    assert message.startswith("Invalid settings: runs_max_records must be between 1 and 1000, not 0; ")
    assert "csv_encoding 'klingon'" in message and "on_bad_file must be skip or stop" in message


def test_a_sync_builds_its_settings_once(demo_sandbox, monkeypatch):
    built = []
    original = Settings.of.__func__

    def counted(cls, config):
        built.append(config)
        return original(cls, config)

    monkeypatch.setattr(Settings, "of", classmethod(counted))
    result = sync(config_for(demo_sandbox, agent_ids=[1001]))
    assert result.records["steam"] and len(built) == 1


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_settings_import_nothing_from_the_content_streams():
    """The policy names (skip, stop, auto) live with the settings; contents/ imports them from there."""
    modules = imported_modules(ROOT / "tap_sequentum" / "settings.py")
    assert not [m for m in modules if m.startswith("tap_sequentum.contents")]
    for module in ("stream.py", "dialect.py", "formats.py"):
        assert "tap_sequentum.settings" in imported_modules(ROOT / "tap_sequentum" / "contents" / module)
