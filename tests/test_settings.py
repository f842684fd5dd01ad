"""The settings: one typed object built once, defaults from the schema, and what a user typed checked without
ever echoing a secret."""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import config_for, environment, run_cli, run_process, sync, write_json

from tap_sequentum import cli, errors
from tap_sequentum import tap as tap_module
from tap_sequentum.cli import settings as cli_settings
from tap_sequentum.settings import AUTO, SECRET_SETTINGS, SETTINGS_SCHEMA, SKIP, Settings

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
            {
                "api_key": "k",
                "runs_max_records": 0,
                "csv_encoding": "klingon",
                "on_bad_file": "explode",
                "runs_full_check_hours": -1,
                "late_runs_window_minutes": -5,
            }
        )
    message = str(caught.value)
    assert message.startswith("Invalid settings: runs_max_records must be between 1 and 1000, not 0; ")
    assert "csv_encoding 'klingon'" in message and "on_bad_file must be skip or stop" in message
    assert "runs_full_check_hours must be at least 0, not -1" in message
    assert "late_runs_window_minutes must be at least 0, not -5" in message


def test_the_change_signal_and_lateness_settings_as_durations():
    settings = Settings.of({"api_key": "k", "runs_full_check_hours": "6", "late_runs_window_minutes": 0})
    assert settings.full_check == dt.timedelta(hours=6)
    assert settings.lateness.window == dt.timedelta(0) and settings.lateness.cap == 50
    defaults = Settings.of({"api_key": "k"})
    assert (defaults.full_check, defaults.lateness.window) == (dt.timedelta(days=1), dt.timedelta(hours=1))


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
    for module in ("runs.py", "dialect.py", "formats.py"):
        assert "tap_sequentum.settings" in imported_modules(ROOT / "tap_sequentum" / "contents" / module)


# -- where settings come from: the tap and the `sequentum` command alike ---------------------------------


def project_with_dotenv(tmp_path: Path, **values: str) -> dict[str, str]:
    """A project whose .env sits above singer-sdk's folder (as in a checkout with its .venv, or a Meltano
    project): singer-sdk is reached through a link inside it. Returns the environment to run them with."""
    import singer_sdk

    site = tmp_path / "project" / "site"
    site.mkdir(parents=True)
    (site / "singer_sdk").symlink_to(Path(singer_sdk.__file__).parent, target_is_directory=True)
    lines = "".join(f"TAP_SEQUENTUM_{name.upper()}={value}\n" for name, value in values.items())
    (tmp_path / "project" / ".env").write_text(lines)
    (tmp_path / "elsewhere").mkdir()
    return {"PYTHONPATH": str(site)}


def test_the_tap_and_the_command_read_the_same_dotenv_below_the_environment(sandbox, tmp_path):
    env = project_with_dotenv(tmp_path, api_key=sandbox.api_key, base_url=sandbox.base_url, max_retries="0")
    cwd = tmp_path / "elsewhere"  # not where .env is: it is looked for from singer-sdk's folder upwards
    command = run_process([sys.executable, "-m", "tap_sequentum.cli", "--json", "agents"],
                          env=environment("TAP_SEQUENTUM_", **env), cwd=cwd)  # fmt: skip
    assert command.returncode == 0, command.stderr
    file = tmp_path / "c.json"
    file.write_text(json.dumps({"base_url": "http://127.0.0.1:9", "api_key": "file-key"}))
    tap = run_cli(["--config", str(file), "--config", "ENV", "--discover"], env=env, cwd=cwd, process=True)
    assert tap.returncode == 0, tap.stderr  # .env is read, and beats the file

    closed = {**env, "TAP_SEQUENTUM_BASE_URL": "http://127.0.0.1:9"}  # the environment beats .env
    command = run_process([sys.executable, "-m", "tap_sequentum.cli", "agents"],
                          env=environment("TAP_SEQUENTUM_", **closed), cwd=cwd)  # fmt: skip
    tap = run_cli(["--config", "ENV", "--discover"], env=closed, cwd=cwd, process=True)
    for proc in (command, tap):
        assert "Could not reach Sequentum at http://127.0.0.1:9" in proc.stderr.strip().splitlines()[-1]


def test_without_a_key_the_tap_says_where_it_looked(tmp_path):
    file = tmp_path / "c.json"
    file.write_text("{}")
    proc = run_cli(["--config", str(file), "--discover"])
    assert proc.stderr.strip().splitlines()[-1] == (
        "tap-sequentum: error: No Sequentum API key: the config has no api_key; give it in the --config "
        "file, or as TAP_SEQUENTUM_API_KEY in the environment or .env together with --config ENV."
    )
    found = tmp_path / ".env"
    found.write_text("TAP_SEQUENTUM_BASE_URL=http://127.0.0.1:9\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tap_module, "dotenv_file", lambda: found)
        proc = run_cli(["--config", "ENV", "--discover"])
    last = proc.stderr.strip().splitlines()[-1]
    assert last.endswith(
        f"no api_key in the config, nor TAP_SEQUENTUM_API_KEY in the environment or in {found}."
    )


# -- a setting the tap does not know ----------------------------------------------------------------------

SDK_SETTINGS = {
    "stream_maps": {},
    "stream_map_config": {},
    "flattening_enabled": False,
    "flattening_max_depth": 1,
    "faker_config": {"seed": 1},
    "_meltano_extra": "x",
}


def warnings(stderr: str) -> list[str]:
    return [line.split("| ")[-1] for line in stderr.splitlines() if "Unknown setting" in line]


def test_a_typo_is_one_warning_naming_the_setting_meant(demo_sandbox, tmp_path):
    """`start_dat` and `agent_id` were ignored without a word: the whole organisation synced from the
    beginning."""
    config = config_for(demo_sandbox, start_dat="2026-01-01T00:00:00Z", agent_id=[1001], **SDK_SETTINGS)
    for args in (["--discover"], []):
        proc = run_cli(["--config", str(write_json(tmp_path / "c.json", config)), *args])
        assert proc.returncode == 0, proc.stderr
        assert warnings(proc.stderr) == [
            "Unknown setting 'agent_id' is ignored (did you mean agent_ids?).",
            "Unknown setting 'start_dat' is ignored (did you mean start_date?).",
        ]
    proc = run_cli(
        ["--config", str(write_json(tmp_path / "c.json", {**config, "colour": "red"})), "--discover"]
    )
    assert "Unknown setting 'colour' is ignored (tap-sequentum --about lists the settings)." in warnings(
        proc.stderr
    )


def test_the_command_warns_of_a_typo_in_its_config_file(demo_sandbox, tmp_path, monkeypatch):
    config = write_json(tmp_path / "c.json", config_for(demo_sandbox, api_kye="x", **SDK_SETTINGS))
    proc = run_command(["--config", str(config), "agents"], {}, monkeypatch)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == (
        f"sequentum: warning: Unknown setting 'api_kye' is ignored (did you mean api_key?) ({config}).\n"
    )


@pytest.mark.parametrize("agent_ids", [[1001, "x"], [1001, 1.5], "1001,abc"])
def test_an_agent_id_that_is_no_whole_number_is_still_an_error(demo_sandbox, tmp_path, agent_ids):
    config = write_json(tmp_path / "c.json", config_for(demo_sandbox, agent_ids=agent_ids))
    proc = run_cli(["--config", str(config), "--discover"])
    assert proc.returncode == 1
    assert "agent_ids must be agent ids (numbers)" in proc.stderr.strip().splitlines()[-1]


# -- a secret is never echoed -----------------------------------------------------------------------------

SECRET_VALUES = [
    98765432123,
    1234567.891,
    ["s3cr3t-list-item", 424242],
    {"token": "s3cr3t-object-value"},
    "s3cr3t-line-one\ns3cr3t-line-two",
    "s3cr3t wrong-but-plausible-key",
    "s3cr3t-wrong-but-plausible-key",  # one line: Sequentum answers 401
]


def forms(value: object) -> set[str]:
    """How a value could show: as given, str(), repr(), JSON, and every part of it (a line, an item)."""
    found = {str(value), repr(value), json.dumps(value)}
    if isinstance(value, str):
        found |= {part for part in value.split() if part}
    elif isinstance(value, list):
        found |= {form for item in value for form in forms(item)}
    elif isinstance(value, dict):
        found |= {form for item in value.values() for form in forms(item)}
    return found


def run_command(args: list[str], env: dict[str, str], monkeypatch) -> subprocess.CompletedProcess:
    """`sequentum` in this process, with only these TAP_SEQUENTUM_* variables and no .env."""
    with monkeypatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("TAP_SEQUENTUM_")]:
            patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        patch.setattr(cli_settings, "dotenv_file", lambda: None)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(args)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


@pytest.mark.parametrize("value", SECRET_VALUES, ids=lambda v: type(v).__name__ + str(len(str(v))))
def test_a_secret_setting_is_never_echoed(sandbox, tmp_path, monkeypatch, value):
    """`"api_key": 98765432123` ended in `98765432123 is not of type 'string' in config['api_key']`."""
    assert SECRET_SETTINGS  # derived from the schema: every setting marked secret=True
    monkeypatch.setattr(tap_module, "dotenv_file", lambda: None)
    for name in SECRET_SETTINGS:
        base = {"api_key": sandbox.api_key, "base_url": sandbox.base_url, "max_retries": 0}
        config = str(write_json(tmp_path / "c.json", {**base, name: value}))
        debug = {"TAP_SEQUENTUM_LOGLEVEL": "DEBUG"}
        runs = [
            run_cli(["--config", config], env=debug),
            run_cli(["--config", config, "--discover"], env=debug),
            run_command(["--config", config, "agents"], {}, monkeypatch),
        ]
        if isinstance(value, str):  # the environment holds text only
            env = {f"TAP_SEQUENTUM_{name.upper()}": value, "TAP_SEQUENTUM_BASE_URL": sandbox.base_url}
            runs.append(run_cli(["--config", "ENV", "--discover"], env={**debug, **env}))
            runs.append(run_command(["runs", "1001"], env, monkeypatch))
        for proc in runs:
            assert proc.returncode in (1, 2), proc.args
            everything = proc.stdout + proc.stderr
            assert not [form for form in forms(value) if form in everything], everything
            last = proc.stderr.strip().splitlines()[-1]
            assert "Traceback" not in proc.stderr and (name in last or "API key" in last), last


def test_a_secret_is_not_echoed_by_a_real_process_either(tmp_path):
    config = write_json(tmp_path / "c.json", {"api_key": 98765432123, "base_url": "http://127.0.0.1:9"})
    proc = run_cli(["--config", str(config)], env={"TAP_SEQUENTUM_LOGLEVEL": "DEBUG"}, process=True)
    assert proc.returncode == 1 and "98765432123" not in proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "tap-sequentum: error: api_key must be text (in quotes, in a JSON file), not a number; its value is "
        "not shown."
    )
