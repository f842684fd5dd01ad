"""Bad input ends in one readable line and exit code 1, never a traceback, never the key."""

from __future__ import annotations

import socket

import pytest
from support import run_cli, write_json

from tap_sequentum.tap import FIXED_STREAM_TYPES

SECRET = "sk-very-secret-key-123"


def assert_one_clear_line(proc, *needles: str) -> str:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    for needle in needles:
        assert needle in last, last
    assert SECRET not in proc.stdout + proc.stderr
    return last


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_wrong_key(sandbox, tmp_path):
    config = write_json(tmp_path / "c.json", {"api_key": SECRET, "base_url": sandbox.base_url})
    proc = run_cli(["--config", str(config)])
    assert_one_clear_line(proc, "rejected the API key (HTTP 401)", "TAP_SEQUENTUM_API_KEY")
    assert not [line for line in proc.stdout.splitlines() if '"RECORD"' in line]


def test_wrong_key_from_the_environment(sandbox):
    proc = run_cli(
        ["--config", "ENV"],
        env={"TAP_SEQUENTUM_API_KEY": SECRET, "TAP_SEQUENTUM_BASE_URL": sandbox.base_url},
    )
    assert_one_clear_line(proc, "HTTP 401")


def test_unreachable_host(tmp_path):
    base = f"http://127.0.0.1:{closed_port()}"
    config = write_json(tmp_path / "c.json", {"api_key": SECRET, "base_url": base, "max_retries": 1})
    proc = run_cli(["--config", str(config)])
    assert_one_clear_line(proc, f"Could not reach Sequentum at {base}", "check base_url")


def test_unknown_agent_id(sandbox, tmp_path):
    config = write_json(
        tmp_path / "c.json",
        {"api_key": sandbox.api_key, "base_url": sandbox.base_url, "agent_ids": [424242]},
    )
    proc = run_cli(["--config", str(config)])
    assert_one_clear_line(proc, "Agent 424242 from agent_ids does not exist")


def test_missing_key_is_a_config_error(tmp_path):
    config = write_json(tmp_path / "c.json", {"base_url": "http://127.0.0.1:1"})
    proc = run_cli(["--config", str(config)])
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "api_key" in proc.stderr


@pytest.mark.parametrize("level", ["DEBUG"])
def test_successful_sync_logs_no_secret(sandbox, tmp_path, level):
    config = write_json(tmp_path / "c.json", {"api_key": sandbox.api_key, "base_url": sandbox.base_url})
    sandbox.redirect_downloads = True
    proc = run_cli(["--config", str(config)], env={"TAP_SEQUENTUM_LOGLEVEL": level})
    assert proc.returncode == 0, proc.stderr
    assert '"RECORD"' in proc.stdout
    assert sandbox.api_key not in proc.stdout
    assert sandbox.api_key not in proc.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"request_timeout": 0}, "request_timeout must be a positive number"),
        ({"max_retries": -1}, "max_retries must be 0 or more"),
        ({"csv_encoding": "klingon"}, "csv_encoding 'klingon' is not a known text encoding"),
        ({"temp_dir": "/no/such/dir"}, "temp_dir '/no/such/dir' is not an existing directory"),
        ({"start_date": "yesterday"}, "start_date must be an ISO 8601 date"),
        ({"runs_max_records": 5000}, "runs_max_records must be between 1 and 1000"),
        ({"discovery_sample_runs": 0}, "discovery_sample_runs must be at least 1"),
        ({"base_url": "https://h:99999"}, "base_url must look like https://"),
        ({"base_url": "http://[::1"}, "base_url must look like https://"),
        ({"stream_maps": {"steam": {"x": "1 +* 2"}}, "agent_ids": [1001]}, "stream_maps"),
    ],
)
def test_bad_settings_are_one_line(sandbox, tmp_path, setting, message):
    key = sandbox.api_key if "stream_maps" in setting else SECRET  # maps are applied after discovery
    config = {"api_key": key, "base_url": sandbox.base_url, **setting}
    proc = run_cli(["--config", str(write_json(tmp_path / "c.json", config))])
    assert_one_clear_line(proc, message)


def test_redact_masks_whole_tokens_only():
    from tap_sequentum.errors import redact

    assert redact("keys expire; key x was sent", "x") == "keys expire; key *** was sent"
    assert redact("Authorization: ApiKey s3cr3t-KEY", "s3cr3t-KEY") == "Authorization: ApiKey ***"
    assert redact("url?key=abc&x=1", "abc") == "url?key=***&x=1"
    assert redact("nothing to hide", "") == "nothing to hide"


# -- settings typed slightly wrong (issue 10): the evident meaning, or one line ------------------------


def discovered_content(proc) -> list[str]:
    import json

    assert proc.returncode == 0, proc.stderr
    metadata = {stream_type.name for stream_type in FIXED_STREAM_TYPES}
    return sorted(
        s["tap_stream_id"] for s in json.loads(proc.stdout)["streams"] if s["tap_stream_id"] not in metadata
    )


def test_a_bare_number_in_agent_ids_from_the_environment_is_one_agent(demo_sandbox):
    env = {
        "TAP_SEQUENTUM_API_KEY": demo_sandbox.api_key,
        "TAP_SEQUENTUM_BASE_URL": demo_sandbox.base_url,
        "TAP_SEQUENTUM_AGENT_IDS": "1001",
    }
    assert discovered_content(run_cli(["--config", "ENV", "--discover"], env=env)) == ["steam"]


@pytest.mark.parametrize(
    ("value", "streams"),
    [("1001", ["steam"]), ("1001, 1006", ["price_monitor_1006", "steam"]), (1001, ["steam"])],
)
def test_agent_ids_as_text_or_a_number_in_a_config_file(demo_sandbox, tmp_path, value, streams):
    config = {"api_key": demo_sandbox.api_key, "base_url": demo_sandbox.base_url, "agent_ids": value}
    proc = run_cli(["--config", str(write_json(tmp_path / "c.json", config)), "--discover"])
    assert discovered_content(proc) == streams


def test_an_unknown_agent_id_fails_discovery_with_one_line(demo_sandbox, tmp_path):
    config = {"api_key": demo_sandbox.api_key, "base_url": demo_sandbox.base_url, "agent_ids": [424242]}
    proc = run_cli(["--config", str(write_json(tmp_path / "c.json", config)), "--discover"])
    assert_one_clear_line(proc, "Agent 424242 from agent_ids does not exist", "fix agent_ids")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"request_timeout": "abc"}, "request_timeout must be a whole number, not 'abc'"),
        ({"trigger_poll_interval": "soon"}, "trigger_poll_interval must be a whole number, not 'soon'"),
        ({"agent_ids": "steam"}, "agent_ids must be agent ids (numbers)"),
        ({"on_bad_file": "explode"}, "on_bad_file"),
        ({"csv_delimiter": ";;"}, "csv_delimiter must be auto or one character"),
        ({"runs_max_records": "many"}, "runs_max_records must be a whole number"),
    ],
)
def test_discovery_checks_settings_as_strictly_as_a_sync(sandbox, tmp_path, setting, message):
    config = write_json(tmp_path / "c.json", {"api_key": SECRET, "base_url": sandbox.base_url, **setting})
    for args in (["--discover"], []):
        assert_one_clear_line(run_cli(["--config", str(config), *args]), message)


def test_numbers_given_as_text_are_numbers(demo_sandbox, tmp_path):
    config = {"api_key": demo_sandbox.api_key, "base_url": demo_sandbox.base_url, "request_timeout": "30",
              "agent_ids": ["1001"], "content_streams": "true"}  # fmt: skip
    assert discovered_content(
        run_cli(["--config", str(write_json(tmp_path / "c.json", config)), "--discover"])
    ) == ["steam"]


@pytest.mark.parametrize(("name", "body", "message"), [
    ("missing.json", None, "The config file {path} does not exist (--config)"),
    ("broken.json", "{not json", "The config file {path} is not valid JSON"),
    ("list.json", "[1, 2]", "The config file {path} must hold a JSON object"),
])  # fmt: skip
def test_a_missing_or_broken_config_file_is_one_line(tmp_path, name, body, message):
    path = tmp_path / name
    if body is not None:
        path.write_text(body)
    for args in (["--discover"], []):
        assert_one_clear_line(run_cli(["--config", str(path), *args]), message.format(path=path))


def test_a_missing_state_or_catalog_file_is_one_line(demo_sandbox, tmp_path):
    config = write_json(
        tmp_path / "c.json", {"api_key": demo_sandbox.api_key, "base_url": demo_sandbox.base_url}
    )
    for option in ("--state", "--catalog"):
        proc = run_cli(["--config", str(config), option, str(tmp_path / "nope.json")])
        assert_one_clear_line(proc, f"({option})")


def test_the_log_holds_what_a_user_acts_on(demo_sandbox, tmp_path):
    config = {"api_key": demo_sandbox.api_key, "base_url": demo_sandbox.base_url, "agent_ids": [1001]}
    proc = run_cli(["--config", str(write_json(tmp_path / "c.json", config))])
    assert proc.returncode == 0, proc.stderr
    # singer-sdk's own INFO lines stay as the SDK writes them (issue 18 dropped the filter); ours are there.
    assert "Downloaded steam.csv" in proc.stderr
    assert "Beginning sync of 'steam'" in proc.stderr


@pytest.mark.parametrize(
    "broken", [{"seen_run_ids": "abc"}, {"watched_runs": [1, 2]}, {"seen_run_ids": [None]}]
)
def test_a_state_this_tap_did_not_write_is_one_line(demo_sandbox, tmp_path, broken):
    config = {"api_key": demo_sandbox.api_key, "base_url": demo_sandbox.base_url, "agent_ids": [1001]}
    state = {"bookmarks": {"runs": {"partitions": [{"context": {"agent_id": 1001}, **broken}]}}}
    args = [
        "--config",
        str(write_json(tmp_path / "c.json", config)),
        "--state",
        str(write_json(tmp_path / "s.json", state)),
    ]
    assert_one_clear_line(
        run_cli(args), "The state of stream runs for agent 1001 is not what tap-sequentum writes"
    )
