"""The `sequentum` command against the sandbox: every command, each start mode, and every way to fail."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import environment, run_process

from sequentum_emulator import READONLY_API_KEY, Sandbox
from sequentum_emulator import api as sandbox_api
from tap_sequentum import cli
from tap_sequentum.cli import commands, output
from tap_sequentum.cli import settings as cli_settings
from tap_sequentum.client import SequentumClient

STEAM = 1001  # demo agent with a running run (50005) and finished runs
STEAM_RUN = 50001  # finished, delivered steam.csv (file 90001) and a log (90002)
STEAM_CSV = 90001
PRICES = 1002  # no active run
PRICES_NAME = "Société Générale \u2013 prix"  # an en dash, as agents get named


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No TAP_SEQUENTUM_* of the developer's, nor their .env (the one above this checkout), reaches a test."""
    for key in list(os.environ):
        if key.startswith("TAP_SEQUENTUM_"):
            monkeypatch.delenv(key)
    monkeypatch.setattr(cli_settings, "dotenv_file", lambda: None)


def dotenv(monkeypatch, path: Path, **values: str) -> Path:
    """A .env holding these TAP_SEQUENTUM_* values, found where the command looks."""
    path.write_text("".join(f"TAP_SEQUENTUM_{name.upper()}={value}\n" for name, value in values.items()))
    monkeypatch.setattr(cli_settings, "dotenv_file", lambda: path)
    return path


def use(monkeypatch, sandbox, key: str | None = None) -> None:
    monkeypatch.setenv("TAP_SEQUENTUM_API_KEY", key or sandbox.api_key)
    monkeypatch.setenv("TAP_SEQUENTUM_BASE_URL", sandbox.base_url)


@pytest.fixture
def run(capsys):
    """Call `main(argv)` in-process: (exit code, stdout, stderr)."""

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = cli.main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


@pytest.fixture
def demo(monkeypatch, demo_sandbox):
    use(monkeypatch, demo_sandbox)
    return demo_sandbox


@pytest.fixture
def live(monkeypatch, sandbox):
    use(monkeypatch, sandbox)
    return sandbox


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sequentum: error: "), err
    return lines[0]


def starts(sandbox) -> int:
    return sum(1 for r in sandbox.requests if r.method == "POST" and r.path.endswith("/start"))


def run_subprocess(
    args: list[str], env: dict[str, str], cwd: Path | None = None, text: bool = True
) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tap_sequentum.cli", *args]
    return run_process(command, env=environment("TAP_SEQUENTUM_", **env), cwd=cwd, timeout=60, text=text)


# --- listing commands -----------------------------------------------------------------------------


def agent_list_carries_last_activity(monkeypatch, carried: bool) -> None:
    """Live Sequentum's agent list carries lastActivity; the reference page's leaves it null."""
    original = sandbox_api.summarize

    def summary(detail: dict, **options) -> dict:
        return {**original(detail, **options), "lastActivity": detail["lastActivity"] if carried else None}

    monkeypatch.setattr(sandbox_api, "summarize", summary)


def test_agents_table_with_last_activity_from_the_list(live, run, monkeypatch):
    agent_list_carries_last_activity(monkeypatch, carried=True)
    code, out, err = run("agents")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "STATUS", "LAST", "ACTIVITY"]
    steam = next(line for line in lines if " steam " in line)
    assert steam.startswith("1001") and "Running (1)" in steam
    assert steam.endswith("2026-02-16T08:00:10.551023Z")
    assert any(PRICES_NAME in line and "Success (10)" in line for line in lines)
    assert err == ""
    assert not [r for r in live.requests if r.path.rstrip("/").split("/")[-1].isdigit()]  # no detail reads


def test_agents_without_last_activity_leave_the_column_out(live, run, monkeypatch):
    # `sequentum agents` showed LAST ACTIVITY as `-` on every row: the list did not carry it.
    agent_list_carries_last_activity(monkeypatch, carried=False)
    code, out, err = run("agents")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "STATUS"]
    assert any(line.startswith("1001") and "Running (1)" in line for line in lines)
    assert not any(line.rstrip().endswith(" -") for line in lines)
    assert len(err.splitlines()) == 1 and "sequentum agents --details" in err
    code, out, err = run("--json", "agents")
    assert code == 0 and json.loads(out) and err == ""


def test_agents_details_fill_last_activity(live, run, monkeypatch):
    agent_list_carries_last_activity(monkeypatch, carried=False)
    code, out, err = run("agents", "--details", "--name", "steam")
    assert code == 0
    assert out.splitlines()[0].split()[-2:] == ["LAST", "ACTIVITY"]
    assert "2026-02-16T08:00:10.551023Z" in out
    assert "price" not in out.lower()
    assert err == ""


def test_runs_table(demo, run):
    code, out, _ = run("runs", STEAM)
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["ID", "STATUS", "CREATED"]
    failed = next(line for line in out.splitlines() if line.startswith("50002"))
    assert "Failed (7)" in failed and "Proxy pool 5 exhausted" in failed
    assert "2025-03-14T08:00:12.345678Z" in out


def test_files_table(demo, run):
    code, out, _ = run("files", STEAM, STEAM_RUN)
    assert code == 0
    assert "DeliveredFile (1)" in out and "steam.csv" in out
    assert "LogText (6)" in out and "steam.log" in out


def test_versions_table(demo, run):
    code, out, _ = run("versions", STEAM)
    assert code == 0
    rows = out.splitlines()[1:]
    assert [row.split()[0] for row in rows] == ["3", "2", "1"]
    assert "Rotate proxies on 403" in out


@pytest.mark.parametrize(
    ("argv", "kind"),
    [
        (["agents"], list),
        (["agents", "--details"], list),
        (["runs", STEAM], list),
        (["files", STEAM, STEAM_RUN], list),
        (["versions", STEAM], list),
    ],
)
def test_json_output_parses(demo, run, argv, kind):
    code, out, err = run("--json", *argv)
    assert code == 0, err
    value = json.loads(out)
    assert isinstance(value, kind) and value
    assert all(isinstance(item, dict) and ("id" in item or "version" in item) for item in value)


def test_json_flag_also_after_the_command(demo, run):
    code, out, _ = run("runs", STEAM, "--json")
    assert code == 0
    assert [r["id"] for r in json.loads(out)][:2] == [50005, 50004]


# --- download -------------------------------------------------------------------------------------


def direct_download(sandbox, file_id: int = STEAM_CSV) -> bytes:
    buffer = io.BytesIO()
    SequentumClient(sandbox.api_key, sandbox.base_url).download(STEAM, STEAM_RUN, file_id, buffer)
    return buffer.getvalue()


def test_download_default_name_is_byte_exact(demo, run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run("download", STEAM, STEAM_RUN, STEAM_CSV)
    assert code == 0, err
    written = (tmp_path / "steam.csv").read_bytes()
    assert written == direct_download(demo)
    assert out.startswith("steam.csv") and f"{len(written)} bytes" in out
    assert err == ""  # no progress bar when stderr is not a terminal
    assert sorted(p.name for p in tmp_path.iterdir()) == ["steam.csv"]  # no .part left over


def test_download_refuses_to_overwrite_without_force(demo, run, tmp_path):
    target = tmp_path / "kept.csv"
    target.write_text("precious")
    code, _, err = run("download", STEAM, STEAM_RUN, STEAM_CSV, "-o", target)
    assert code == 1
    assert "--force" in one_error_line(err)
    assert target.read_text() == "precious"
    code, _, _ = run("download", STEAM, STEAM_RUN, STEAM_CSV, "-o", target, "--force")
    assert code == 0
    assert target.read_bytes() == direct_download(demo)


def test_download_into_a_folder_with_json(demo, run, tmp_path):
    code, out, _ = run("--json", "download", STEAM, STEAM_RUN, 90002, "-o", tmp_path)
    assert code == 0
    result = json.loads(out)
    assert result["path"] == str(tmp_path / "steam.log")
    assert result["size"] == (tmp_path / "steam.log").stat().st_size == len(direct_download(demo, 90002))


def test_download_unknown_file(demo, run, tmp_path):
    code, out, err = run("download", STEAM, STEAM_RUN, 12345, "-o", tmp_path / "x")
    assert code == 1 and out == ""
    assert "sequentum files 1001 50001" in one_error_line(err)
    assert not list(tmp_path.iterdir())


def test_download_progress_bar_on_a_terminal(demo, run, tmp_path, monkeypatch):
    monkeypatch.setattr(output, "is_terminal", lambda stream: True)
    code, out, err = run("download", STEAM, STEAM_RUN, STEAM_CSV, "-o", tmp_path / "s.csv")
    assert code == 0
    assert err.startswith("\r[") and "100%" in err and err.endswith("\n")
    assert "s.csv" in out


def test_download_to_stdout_writes_the_bytes_there(demo_sandbox, tmp_path):
    # `download -o -` wrote a file named `-`.
    env = {"TAP_SEQUENTUM_API_KEY": demo_sandbox.api_key, "TAP_SEQUENTUM_BASE_URL": demo_sandbox.base_url}
    args = ["download", str(STEAM), str(STEAM_RUN), str(STEAM_CSV), "-o", "-"]
    done = run_subprocess(args, env, cwd=tmp_path, text=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == direct_download(demo_sandbox)
    assert done.stderr.decode().splitlines() == [f"{len(done.stdout)} bytes (3.4 KB) written to stdout"]
    assert not list(tmp_path.iterdir())
    quiet = run_subprocess(["--json", *args], env, cwd=tmp_path, text=False)
    assert quiet.returncode == 0
    assert quiet.stdout == done.stdout and quiet.stderr == b""


def test_download_to_stdout_keeps_the_progress_bar_on_stderr(demo, run, monkeypatch):
    monkeypatch.setattr(output, "is_terminal", lambda stream: True)
    code, out, err = run("download", STEAM, STEAM_RUN, STEAM_CSV, "-o", "-")
    assert code == 0
    assert out.encode() == direct_download(demo)
    assert err.startswith("\r[") and "100%" in err and err.endswith(" written to stdout\n")


def test_download_makes_missing_folders(demo, run, tmp_path):
    # `download -o dir/missing/file` failed instead of making the folders.
    code, out, err = run("download", STEAM, STEAM_RUN, STEAM_CSV, "-o", tmp_path / "dir/missing/file.csv")
    assert code == 0, err
    assert (tmp_path / "dir/missing/file.csv").read_bytes() == direct_download(demo)
    code, out, err = run("download", STEAM, STEAM_RUN, STEAM_CSV, "-o", f"{tmp_path}/new/")
    assert code == 0, err
    assert out.startswith(str(tmp_path / "new" / "steam.csv"))
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["steam.csv"]


def test_download_into_an_unwritable_place_is_one_line(demo, run, tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")
    code, out, err = run("download", STEAM, STEAM_RUN, STEAM_CSV, "-o", tmp_path / "file" / "x.csv")
    assert code == 1 and out == ""
    assert f"Cannot write {tmp_path / 'file' / 'x.csv'}" in one_error_line(err)


def test_server_file_names_cannot_escape_the_folder():
    assert commands.safe_file_name("../../etc/passwd", 7) == "passwd"
    assert commands.safe_file_name("C:\\temp\\evil.csv", 7) == "evil.csv"
    assert commands.safe_file_name("..", 7) == "file-7"
    assert commands.safe_file_name(None, 7) == "file-7"


# --- start ----------------------------------------------------------------------------------------


def test_start_returns_the_queued_run(live, run):
    code, out, err = run("--json", "start", STEAM)
    assert code == 0, err
    started = json.loads(out)
    assert started["status"] == 4
    assert started["configId"] == STEAM
    assert starts(live) == 1


def test_start_table_and_hint(live, run):
    code, out, err = run("start", PRICES)
    assert code == 0
    assert "Queuing (4)" in out
    assert f"sequentum stop {PRICES} " in err


def test_start_sends_parameters_and_options(live, run):
    code, out, _ = run(
        "--json",
        "start",
        PRICES,
        "--param",
        "market=XPAR",
        "-p",
        "q=a=b",
        "--parallelism",
        "2",
        "--max-concurrency",
        "2",
        "--export",
        "SEPARATED",
        "--timeout",
        "300",
        "--proxy-pool",
        "5",
        "--no-exclusive",
        "--wait-on-failure",
        "--log-level",
        "Info",
        "--log-mode",
        "Text",
    )
    assert code == 0
    started = json.loads(out)
    assert started["parallelism"] == 2
    assert started["parallelExport"] == "Separated"
    assert live.data.runs[started["id"]].inputs == {"market": "XPAR", "q": "a=b"}


def test_start_wait_ends_completed(live, run):
    live.run_duration = 0.5
    code, out, err = run("start", STEAM, "--wait", "--poll-interval", "0.1")
    assert code == 0, err
    assert "Completed (9)" in out
    progress = err.splitlines()
    assert progress[0].startswith("run ") and "Queuing" in progress[0]
    assert "Completed" in progress[-1]
    assert len(progress) == len(set(progress))  # one plain line per change, not per poll


def test_start_wait_json_prints_the_final_run(live, run):
    live.run_duration = 0.3
    code, out, _ = run("--json", "start", STEAM, "--wait", "--poll-interval", "0.1")
    assert code == 0
    assert json.loads(out)["status"] == 9


def test_start_wait_progress_is_rewritten_in_place_on_a_terminal(live, run, monkeypatch):
    monkeypatch.setattr(output, "is_terminal", lambda stream: True)
    live.run_duration = 0.3
    code, _, err = run("start", STEAM, "--wait", "--poll-interval", "0.05")
    assert code == 0
    assert err.startswith("\rrun ") and err.count("\n") == 1 and err.endswith("\n")
    assert "Completed" in err.rsplit("\r", 1)[-1]


def stop_when_started(sandbox, agent_id: int) -> threading.Thread:
    """Stop the agent's run from the server side as soon as one is active (a run that will not complete)."""

    def stop() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with sandbox.data.lock:
                if any(not r.finished for r in sandbox.data.agent(agent_id).runs.values()):
                    sandbox.data.stop_agent(agent_id)
                    return
            time.sleep(0.02)

    thread = threading.Thread(target=stop, daemon=True)
    thread.start()
    return thread


def test_start_wait_exits_1_when_the_run_does_not_complete(live, run):
    live.run_duration = 30
    stopper = stop_when_started(live, PRICES)
    code, out, err = run("start", PRICES, "--wait", "--poll-interval", "0.1", "--wait-timeout", "20")
    stopper.join()
    assert code == 1
    assert "Stopped (8)" in out
    line = err.strip().splitlines()[-1]
    assert line.startswith("sequentum: error: ") and "ended Stopped (8)" in line


def test_start_wait_timeout(live, run):
    live.run_duration = 30
    code, out, err = run(
        "--json", "start", STEAM, "--wait", "--poll-interval", "0.1", "--wait-timeout", "0.3"
    )
    assert code == 1
    assert json.loads(out)["status"] in (1, 4)  # the run as last seen
    line = err.strip().splitlines()[-1]
    assert "still" in line and "sequentum stop 1001" in line


def test_start_sync_prints_the_rows(live, run):
    code, out, err = run("start", PRICES, "--sync")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{PRICES_NAME} (") and lines[0].endswith(" rows)")
    assert lines[1].split()[:2] == ["code_isin", "libellé"]
    assert len(lines) == 2 + int(lines[0].split("(")[1].split()[0])


def test_start_sync_json_is_the_answer(live, run):
    code, out, _ = run("--json", "start", PRICES, "--sync")
    assert code == 0
    data = json.loads(out)
    assert list(data) == [PRICES_NAME]
    assert data[PRICES_NAME] and "code_isin" in data[PRICES_NAME][0]


def test_start_sync_and_wait_together_is_a_usage_error(live, run):
    code, out, err = run("start", STEAM, "--sync", "--wait")
    assert code == 2 and out == ""
    assert "not allowed with" in err
    assert starts(live) == 0


def test_lost_start_answer_says_how_to_check(live, run):
    live.add_fault(r"/start$", "reset")
    code, out, err = run("start", STEAM)
    assert code == 1 and out == ""
    line = one_error_line(err)
    assert "was sent" in line and "may have queued a run" in line
    assert "sequentum runs 1001" in line
    assert starts(live) == 1  # never retried


def test_readonly_key_cannot_start(monkeypatch, sandbox, run):
    use(monkeypatch, sandbox, READONLY_API_KEY)
    code, out, err = run("start", STEAM)
    assert code == 1 and out == ""
    line = one_error_line(err)
    assert "403" in line and "insufficient_scope" in line


@pytest.mark.parametrize("bad", ["novalue", "=x"])
def test_bad_param(live, run, bad):
    code, _, err = run("start", STEAM, "--param", "ok=1", "--param", bad)
    assert code == 2
    assert repr(bad) in one_error_line(err)
    assert starts(live) == 0


# --- stop and restore -----------------------------------------------------------------------------


def test_stop_a_running_run_then_again(live, run):
    live.run_duration = 30
    code, out, _ = run("--json", "start", PRICES)
    run_id = json.loads(out)["id"]
    code, out, err = run("--json", "stop", PRICES, run_id)
    assert code == 0, err
    assert json.loads(out)["status"] == 8
    code, out, err = run("stop", PRICES, run_id)
    assert code == 1 and out == ""
    assert "not running" in one_error_line(err)


def test_stop_table(live, run):
    code, out, _ = run("stop", STEAM, 50005)
    assert code == 0
    assert "Stopped (8)" in out


def test_restore_creates_the_new_highest_version(live, run):
    code, out, err = run("restore", STEAM, 1, "--comment", "Back to the first version")
    assert code == 0, err
    assert out.splitlines()[1].split()[0] == "4"
    code, out, _ = run("--json", "versions", STEAM)
    top = json.loads(out)[0]
    assert top["version"] == 4 and top["comments"] == "Back to the first version"


def test_restore_json(live, run):
    code, out, _ = run("--json", "restore", STEAM, 2, "--comment", "again")
    assert code == 0
    assert json.loads(out)["version"] == 4


def test_restore_needs_a_comment(live, run):
    code, _, err = run("restore", STEAM, 1)
    assert code == 2 and "--comment" in err


# --- bad input and settings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["runs", 9999], ["versions", 9999], ["files", STEAM, 1], ["start", 9999], ["stop", 9999, 1]],
)
def test_unknown_ids_are_one_line(demo, run, argv):
    code, out, err = run(*argv)
    assert code == 1 and out == ""
    assert "404" in one_error_line(err)


@pytest.mark.parametrize(
    "argv",
    [
        ["runs", "abc"],
        ["files", STEAM, "x1"],
        ["download", STEAM, STEAM_RUN, "-1"],
        ["stop", "1.5", 2],
        ["restore", STEAM, "v1", "--comment", "c"],
        ["start", "steam"],
    ],
)
def test_non_numeric_ids_are_usage_errors(demo, run, argv):
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert "is not a valid whole number" in line or ("No such option" in line and "-1" in line)
    assert f"`sequentum {argv[0]} --help`" in line


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([], "Missing command"),
        (["bogus"], "No such command 'bogus'"),
        (["runs"], "Missing argument 'AGENT_ID'"),
        (["runs", STEAM, "--max", "0"], "0 is not in the range x>=1"),
        (["start", STEAM, "--export", "sideways"], "'sideways' is not one of 'combined', 'separated'"),
        (["start", STEAM, "--poll-interval", "0"], "--poll-interval"),
        (["agents", "--colour"], "--colour"),
    ],
)
def test_click_usage_errors_are_one_line(live, run, argv, says):
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    assert says in one_error_line(err)
    assert live.requests == []


def test_numbers_from_the_environment_and_the_file_are_checked(demo, run, monkeypatch, tmp_path):
    monkeypatch.setenv("TAP_SEQUENTUM_REQUEST_TIMEOUT", "abc")
    code, _, err = run("agents")
    assert code == 2
    assert "TAP_SEQUENTUM_REQUEST_TIMEOUT" in one_error_line(err)
    monkeypatch.delenv("TAP_SEQUENTUM_REQUEST_TIMEOUT")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"max_retries": "many"}))
    code, _, err = run("--config", config, "agents")
    assert code == 2
    assert "max_retries must be a number, not 'many'" in one_error_line(err)


def test_wrong_key_is_one_line_without_the_key(monkeypatch, demo_sandbox, run):
    secret = "sk-wrong-but-secret-1234"
    use(monkeypatch, demo_sandbox, secret)
    code, out, err = run("agents")
    assert code == 1 and out == ""
    line = one_error_line(err)
    assert "401" in line and "TAP_SEQUENTUM_API_KEY" in line
    assert secret not in out + err


def test_wrong_key_on_the_command_line_is_not_echoed(demo_sandbox, run):
    secret = "sk-flag-secret-5678"
    code, out, err = run("--api-key", secret, "--base-url", demo_sandbox.base_url, "runs", STEAM)
    assert code == 1
    assert secret not in out + err


def test_a_short_key_is_masked_only_as_a_whole_word(demo_sandbox, run):
    # `--api-key x` made the 401 line read "keys e***pire".
    done = run_subprocess(["--api-key", "x", "--base-url", demo_sandbox.base_url, "agents"], {})
    assert done.returncode == 1 and done.stdout == ""
    line = one_error_line(done.stderr)
    assert "(HTTP 401)" in line and "keys expire, by default after one year" in line and "***" not in line
    assert "x" not in re.findall(r"[A-Za-z0-9]+", line)
    # Where the key does stand alone, it is masked.
    code, _, err = run("--api-key", "nowhere", "--base-url", "ftp://nowhere", "agents")
    assert code == 2
    assert "'ftp://***'" in one_error_line(err) and "nowhere" not in err


def test_a_flag_after_the_command_beats_the_same_flag_before_it(demo_sandbox, run):
    url = demo_sandbox.base_url
    assert (
        run("--api-key", "wrong", "--base-url", url, "runs", STEAM, "--api-key", demo_sandbox.api_key)[0] == 0
    )
    assert run("--api-key", demo_sandbox.api_key, "--base-url", url, "runs", STEAM, "--api-key", "no")[0] == 1


def test_missing_key_says_where_it_looked(run, monkeypatch, tmp_path):
    code, out, err = run("agents")
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert line.endswith(
        "No Sequentum API key: no --api-key, no TAP_SEQUENTUM_API_KEY in the environment or in a .env file "
        f"(none from {cli_settings.DOTENV_START} upwards), no api_key in a --config file (none given)."
    )
    found = dotenv(monkeypatch, tmp_path / ".env", base_url="http://127.0.0.1:9")
    config = tmp_path / "config.json"
    config.write_text("{}")
    line = one_error_line(run("--config", config, "agents")[2])
    assert f"in the environment or in {found}, no api_key in {config}." in line


def test_the_key_in_dotenv_is_read(demo_sandbox, run, monkeypatch, tmp_path):
    """`sequentum agents` with the key in .env said to set TAP_SEQUENTUM_API_KEY: the command read no .env."""
    dotenv(monkeypatch, tmp_path / ".env", api_key=demo_sandbox.api_key, base_url=demo_sandbox.base_url)
    code, out, err = run("--json", "agents")
    assert code == 0, err
    assert {a["id"] for a in json.loads(out)} >= {STEAM, PRICES}


def test_the_environment_beats_dotenv_which_beats_the_file(sandbox, run, monkeypatch, tmp_path):
    closed = "http://127.0.0.1:9"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"api_key": "file-key", "base_url": closed, "max_retries": 0}))
    dotenv(monkeypatch, tmp_path / ".env", api_key=sandbox.api_key, base_url=sandbox.base_url)
    assert run("--config", config, "agents")[0] == 0  # .env beats the file
    monkeypatch.setenv("TAP_SEQUENTUM_BASE_URL", closed)
    code, _, err = run("--config", config, "agents")
    assert code == 1 and f"Could not reach Sequentum at {closed}" in one_error_line(
        err
    )  # the environment wins
    assert run("--config", config, "--base-url", sandbox.base_url, "agents")[0] == 0  # a flag beats all
    assert [r.status for r in sandbox.requests] == [200, 200]  # the file's key was never sent


def test_unreachable_host_is_one_line(monkeypatch, run):
    monkeypatch.setenv("TAP_SEQUENTUM_API_KEY", "k")
    monkeypatch.setenv("TAP_SEQUENTUM_MAX_RETRIES", "0")
    code, _, err = run("--base-url", "http://127.0.0.1:9", "agents")
    assert code == 1
    assert "Could not reach" in one_error_line(err)


def test_a_zero_from_the_environment_is_a_setting(live, run, monkeypatch):
    monkeypatch.setenv("TAP_SEQUENTUM_MAX_RETRIES", "0")
    live.add_fault(r"/agent/all$", "503", times=5)
    code, _, err = run("agents")
    assert code == 1 and "503" in one_error_line(err)
    assert len([r for r in live.requests if r.path.endswith("/agent/all")]) == 1


def test_bad_base_url_is_a_usage_error(monkeypatch, run):
    monkeypatch.setenv("TAP_SEQUENTUM_API_KEY", "k")
    code, _, err = run("--base-url", "ftp://nowhere", "agents")
    assert code == 2
    assert "base_url" in one_error_line(err)


def test_config_file_and_precedence(demo_sandbox, run, tmp_path, monkeypatch):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"api_key": demo_sandbox.api_key, "base_url": demo_sandbox.base_url}))
    code, out, _ = run("--config", config, "--json", "versions", STEAM)
    assert code == 0 and json.loads(out)
    # The environment's key never goes to a base_url that only the file names (the file's key does), and a
    # flag beats both.
    monkeypatch.setenv("TAP_SEQUENTUM_API_KEY", "wrong")
    assert run("--config", config, "agents")[0] == 0
    assert run("--config", config, "--api-key", "wrong-too", "agents")[0] == 1
    monkeypatch.setenv("TAP_SEQUENTUM_BASE_URL", demo_sandbox.base_url)
    monkeypatch.setenv("TAP_SEQUENTUM_API_KEY", demo_sandbox.api_key)
    assert run("agents")[0] == 0


def test_unreadable_config_file(run, tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    code, _, err = run("--config", bad, "agents")
    assert code == 2
    assert "config.json" in one_error_line(err)


def test_help_lists_every_command(run):
    code, out, _ = run("--help")
    assert code == 0
    for name in ("agents", "runs", "files", "download", "versions", "start", "stop", "restore"):
        assert name in out


PRECEDENCE = (
    "a flag beats TAP_SEQUENTUM_* in the environment, which beats .env (the tap's, looked for from the "
    "installed package's folder upwards), which beats the --config file, which beats the default"
)


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["agents", "--help"], ["start", "-h"]])
def test_help_states_the_precedence_the_code_follows(run, argv):
    # `sequentum --help` said "flags, then TAP_SEQUENTUM_*, then --config".
    code, out, err = run(*argv)
    assert code == 0 and err == ""
    text = " ".join(out.split())
    assert PRECEDENCE in text and "then --config" not in text
    assert "[env var: TAP_SEQUENTUM_API_KEY]" in text


@pytest.mark.parametrize("source", ["environment", ".env"])
def test_a_key_from_the_environment_never_goes_to_a_host_only_the_file_names(
    sandbox, run, tmp_path, monkeypatch, source
):
    if source == "environment":
        monkeypatch.setenv("TAP_SEQUENTUM_API_KEY", "production-key")
    else:
        dotenv(monkeypatch, tmp_path / ".env", api_key="production-key")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"base_url": sandbox.base_url}))
    code, _, err = run("--config", config, "agents")
    assert code == 2
    assert f"the TAP_SEQUENTUM_API_KEY of the {source} is not sent to the base_url that only {config}" in err
    config.write_text(json.dumps({"base_url": sandbox.base_url, "api_key": sandbox.api_key}))
    assert run("--config", config, "agents")[0] == 0  # the file's own key goes to the file's host
    assert [r.status for r in sandbox.requests] == [200]
    monkeypatch.setenv(
        "TAP_SEQUENTUM_BASE_URL", sandbox.base_url
    )  # the host from the environment: its key too
    assert run("--config", config, "agents")[0] == 1
    assert [r.status for r in sandbox.requests] == [200, 401]
    assert run("--config", config, "--api-key", sandbox.api_key, "agents")[0] == 0


# --- pure rendering -------------------------------------------------------------------------------


def test_render_table_aligns_text_left_and_numbers_right():
    text = output.render_table(["ID", "NAME"], [[7, "a"], [1234, "東京"], [None, "x\ny\x1b[2J"]])
    assert text.splitlines() == ["ID    NAME", "   7  a", "1234  東京", "   -  x y [2J"]


def test_progress_bar():
    assert output.progress_bar(0, 100).startswith("[------")
    assert "50%" in output.progress_bar(50, 100)
    assert output.progress_bar(2048, 2048).startswith("[" + "#" * 30 + "]")
    assert output.progress_bar(3 * 1024 * 1024, None) == "3.0 MB"


# --- as real processes ----------------------------------------------------------------------------


def test_process_json_and_download(demo_sandbox, tmp_path):
    env = {"TAP_SEQUENTUM_API_KEY": demo_sandbox.api_key, "TAP_SEQUENTUM_BASE_URL": demo_sandbox.base_url}
    listed = run_subprocess(["--json", "agents"], env)
    assert listed.returncode == 0, listed.stderr
    assert {a["name"] for a in json.loads(listed.stdout)} >= {"steam", "price-monitor"}
    fetched = run_subprocess(["download", str(STEAM), str(STEAM_RUN), str(STEAM_CSV)], env, cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "steam.csv").read_bytes() == direct_download(demo_sandbox)


def test_process_wrong_key_and_bad_id(demo_sandbox):
    secret = "sk-process-secret-42"
    env = {"TAP_SEQUENTUM_API_KEY": secret, "TAP_SEQUENTUM_BASE_URL": demo_sandbox.base_url}
    denied = run_subprocess(["runs", str(STEAM)], env)
    assert denied.returncode == 1
    assert denied.stdout == "" and one_error_line(denied.stderr)
    assert secret not in denied.stdout + denied.stderr
    bad = run_subprocess(["runs", "abc"], env)
    assert bad.returncode == 2 and "'abc' is not a valid whole number" in one_error_line(bad.stderr)


def test_process_start_wait():
    with Sandbox(run_duration=0.5) as sandbox:
        env = {"TAP_SEQUENTUM_API_KEY": sandbox.api_key, "TAP_SEQUENTUM_BASE_URL": sandbox.base_url}
        done = run_subprocess(["start", str(STEAM), "--wait", "--poll-interval", "0.1"], env)
    assert done.returncode == 0, done.stderr
    assert "Completed (9)" in done.stdout


def test_console_script_is_installed(demo_sandbox):
    script = Path(sys.executable).with_name("sequentum")
    if not script.exists():
        pytest.skip("the package is not installed in this environment")
    env = environment(
        "TAP_SEQUENTUM_",
        TAP_SEQUENTUM_API_KEY=demo_sandbox.api_key,
        TAP_SEQUENTUM_BASE_URL=demo_sandbox.base_url,
    )
    done = run_process([str(script), "--json", "versions", str(STEAM)], env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["version"] == 3


def test_an_exported_key_is_never_sent_to_a_host_that_a_config_file_names(sandbox, tmp_path):
    config = tmp_path / "other.json"
    config.write_text(json.dumps({"base_url": sandbox.base_url}))
    proc = run_process(
        [sys.executable, "-m", "tap_sequentum.cli", "--config", str(config), "agents"],
        env=environment(TAP_SEQUENTUM_API_KEY=sandbox.api_key),
    )
    assert proc.returncode == 2
    assert "No Sequentum API key" in proc.stderr
    assert not sandbox.requests  # nothing was sent, with or without the key


@pytest.mark.parametrize(
    ("raised", "code", "line"),
    [
        (KeyboardInterrupt(), commands.INTERRUPTED, "interrupted"),
        (OSError("No space left on device"), 1, "No space left on device"),
        (ValueError("boom"), 1, "unexpected ValueError: boom (please report this)"),
    ],
)
def test_failure_is_one_line_and_an_exit_code(raised, code, line):
    assert cli.failure(raised) == (line, code)
