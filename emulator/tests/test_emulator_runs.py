"""Agent list hints, restarted runs, files that disappear, byte ranges and date forms, over HTTP."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from sequentum_emulator import DEFAULT_API_KEY, READONLY_API_KEY, Sandbox

SENTINEL = "0001-01-01T00:00:00"
STEAM, SOCGEN, ACDELCO = 1001, 1002, 1003
ACTIVE_STATUSES = {1, 2, 3, 4, 5, 12, 13}
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def agent(sb):
    """A fresh agent per test in the shared sandbox."""
    return sb.add_agent("runs under test")["id"]


# --- agent list hints -------------------------------------------------------------------------


def test_agent_list_carries_last_activity_and_status_hints(http, api):
    summaries = http.get(f"{api}/agent/all").json()
    assert len(summaries) == 6
    for summary in summaries:
        detail = http.get(f"{api}/agent/{summary['id']}").json()
        newest = http.get(f"{api}/agent/{summary['id']}/runs", params={"maxRecords": 1}).json()[0]
        assert summary["lastActivity"] == detail["lastActivity"] == newest["created"]
        assert summary["status"] == newest["status"]
        assert summary["version"] == detail["version"]
        assert summary["created"] == summary["updated"] == SENTINEL
        assert summary["startUrl"] is None
        assert summary["proxyPoolId"] is None
    paged = http.get(f"{api}/agent/all", params={"pageIndex": 1, "recordsPerPage": 10}).json()
    assert paged["agents"] == summaries


def test_recently_run_agents_sort_first(http, api):
    ordered = http.get(f"{api}/agent/all", params={"sortColumn": "lastActivity", "sortOrder": 1}).json()
    stamps = [a["lastActivity"] for a in ordered]
    assert stamps == sorted(stamps, reverse=True)
    assert ordered[0]["id"] == ACDELCO


def test_an_agent_never_run_has_null_hints(sb, http, api, agent):
    summary = next(a for a in http.get(f"{api}/agent/all").json() if a["id"] == agent)
    assert summary["lastActivity"] is None
    assert summary["status"] is None
    run = sb.add_run(agent, status=8, created="2026-04-01T10:00:00Z")
    summary = next(a for a in http.get(f"{api}/agent/all").json() if a["id"] == agent)
    assert summary["lastActivity"] == run["created"]
    assert summary["status"] == 8


def test_without_hints_the_list_has_the_reference_shape(sb, http, api):
    sb.list_hints = False
    for summary in http.get(f"{api}/agent/all").json():
        assert summary["lastActivity"] is None
        assert summary["status"] is None
        assert summary["created"] == SENTINEL
    assert http.get(f"{api}/agent/{STEAM}").json()["lastActivity"] is not None


def test_hints_can_be_hidden_for_one_agent(sb, http, api):
    sb.set_list_hints(STEAM, False)
    try:
        summaries = {a["id"]: a for a in http.get(f"{api}/agent/all").json()}
        assert summaries[STEAM]["lastActivity"] is None and summaries[STEAM]["status"] is None
        assert all(a["lastActivity"] is not None for i, a in summaries.items() if i != STEAM)
        assert http.get(f"{api}/agent/{STEAM}").json()["lastActivity"] is not None  # the detail keeps it
    finally:
        sb.set_list_hints(STEAM, True)
    assert next(a for a in http.get(f"{api}/agent/all").json() if a["id"] == STEAM)["lastActivity"]


def test_list_hints_option_at_construction():
    with Sandbox(list_hints=False) as plain:
        response = requests.get(
            f"{plain.base_url}/api/v1/agent/all", headers={"Authorization": f"ApiKey {DEFAULT_API_KEY}"}
        )
        assert {a["lastActivity"] for a in response.json()} == {None}


# --- restarted runs ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", range(14))
def test_table_type_for_every_status(sb, http, api, agent, status):
    run = sb.add_run(agent, status=status)
    expected = "run" if status in ACTIVE_STATUSES else "history"
    assert run["tableType"] == expected
    assert http.get(f"{api}/agent/{agent}/run/{run['id']}/status").json()["tableType"] == expected
    assert http.get(f"{api}/agent/{agent}").json()["isActive"] is (expected == "run")


def test_a_failure_waiting_to_retry_is_restarted_and_finished_later(sb, http, api, agent):
    failed = sb.add_run(agent, status=6, created="2026-04-02T08:00:00Z", waiting_retry=True)
    assert (failed["status"], failed["tableType"]) == (6, "run")
    assert failed["endTime"] is not None
    status_url = f"{api}/agent/{agent}/run/{failed['id']}/status"
    assert http.get(status_url).json()["tableType"] == "run"
    assert http.get(f"{api}/agent/{agent}").json()["isActive"] is True
    assert http.get(f"{api}/agent/{agent}/run/{failed['id']}/files").json() == []

    restarted = sb.restart_run(agent, failed["id"])
    assert (restarted["status"], restarted["tableType"], restarted["endTime"]) == (1, "run", None)
    assert restarted["startTime"] == failed["startTime"]

    done = sb.set_run_status(agent, failed["id"], 9, files=[("late.csv", b"a,b\n1,2\n3,4\n")])
    assert (done["status"], done["tableType"]) == (9, "history")
    assert done["endTime"] > done["startTime"]
    assert done["dataCount"] == 2
    assert http.get(status_url).json() == done
    files = http.get(f"{api}/agent/{agent}/run/{failed['id']}/files").json()
    assert [f["name"] for f in files] == ["late.csv"]


def test_a_running_run_can_fail_into_the_retry_wait(sb, agent):
    run = sb.add_run(agent, status=1)
    waiting = sb.set_run_status(agent, run["id"], 6, waiting_retry=True)
    assert (waiting["status"], waiting["tableType"]) == (6, "run")
    final = sb.set_run_status(agent, run["id"], 6)
    assert (final["status"], final["tableType"]) == (6, "history")


def test_waiting_to_retry_is_only_for_failures(sb, agent):
    with pytest.raises(ValueError, match="Failure"):
        sb.add_run(agent, status=9, waiting_retry=True)
    done = sb.add_run(agent, status=6)
    with pytest.raises(ValueError, match="not waiting to retry"):
        sb.restart_run(agent, done["id"])


def test_stopping_a_run_waiting_to_retry(sb, http, api, agent):
    waiting = sb.add_run(agent, status=6, waiting_retry=True)
    stopped = http.post(f"{api}/agent/{agent}/run/{waiting['id']}/stop")
    assert stopped.status_code == 200
    assert (stopped.json()["status"], stopped.json()["tableType"]) == (8, "history")


# --- files that disappear -------------------------------------------------------------------


def _run_with_files(sb, agent):
    run = sb.add_run(agent, status=9, files=[("a.csv", b"x\n1\n"), ("b.csv", b"x\n2\n")])
    files = sb.data.run(agent, run["id"]).files
    return run["id"], [f.id for f in files]


def test_a_listed_file_removed_before_download_answers_404(sb, http, api, agent):
    run, (first, second) = _run_with_files(sb, agent)
    sb.remove_file(agent, run, first, keep_listed=True)
    listed = http.get(f"{api}/agent/{agent}/run/{run}/files").json()
    assert [f["id"] for f in listed] == [first, second]
    gone = http.get(f"{api}/agent/{agent}/run/{run}/file/{first}/download")
    assert gone.status_code == 404
    assert gone.headers["Content-Type"] == "application/problem+json"
    assert "no longer exists" in gone.json()["detail"]
    assert http.get(f"{api}/agent/{agent}/run/{run}/file/{second}/download").content == b"x\n2\n"

    sb.redirect_downloads = True
    redirect = http.get(f"{api}/agent/{agent}/run/{run}/file/{first}/download", allow_redirects=False)
    assert redirect.status_code == 302
    storage = requests.get(redirect.headers["Location"])
    assert storage.status_code == 404
    assert "<Code>NoSuchKey</Code>" in storage.text


def test_a_file_removed_from_the_list(sb, http, api, agent):
    run, (first, second) = _run_with_files(sb, agent)
    sb.remove_file(agent, run, first, keep_listed=False)
    assert [f["id"] for f in http.get(f"{api}/agent/{agent}/run/{run}/files").json()] == [second]
    assert http.get(f"{api}/agent/{agent}/run/{run}/file/{first}/download").status_code == 404


@pytest.mark.parametrize("method", ["RemoveAllFiles", "RemoveAllFilesAndAgentInput"])
def test_delete_only_the_files_of_a_run(sb, http, api, agent, method):
    run, (first, _) = _run_with_files(sb, agent)
    response = http.delete(f"{api}/agent/{agent}/run/{run}", params={"removeMethod": method})
    assert response.status_code == 204
    assert response.content == b""
    assert http.get(f"{api}/agent/{agent}/run/{run}/files").json() == []
    assert http.get(f"{api}/agent/{agent}/run/{run}/status").json()["status"] == 9
    assert http.get(f"{api}/agent/{agent}/run/{run}/file/{first}/download").status_code == 404


@pytest.mark.parametrize("params", [{"removeMethod": "RemoveEntireRun"}, {}])
def test_delete_an_entire_run(sb, http, api, agent, params):
    run, _ = _run_with_files(sb, agent)
    assert http.delete(f"{api}/agent/{agent}/run/{run}", params=params).status_code == 204
    assert http.get(f"{api}/agent/{agent}/run/{run}/status").status_code == 404
    assert run not in [r["id"] for r in http.get(f"{api}/agent/{agent}/runs").json()]
    assert http.delete(f"{api}/agent/{agent}/run/{run}").status_code == 404


def test_delete_refuses_bad_methods_and_read_only_keys(sb, http, api, agent):
    run, _ = _run_with_files(sb, agent)
    bad = http.delete(f"{api}/agent/{agent}/run/{run}", params={"removeMethod": "DropEverything"})
    assert bad.status_code == 400
    assert "RemoveAllFiles" in bad.json()["detail"]
    readonly = requests.delete(
        f"{api}/agent/{agent}/run/{run}", headers={"Authorization": f"ApiKey {READONLY_API_KEY}"}
    )
    assert readonly.status_code == 403
    assert readonly.json()["errorCode"] == "insufficient_scope"
    assert len(http.get(f"{api}/agent/{agent}/run/{run}/files").json()) == 2


# --- byte ranges ------------------------------------------------------------------------------

BODY = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def ranged(sb, agent, tmp_path):
    """A run with one file in memory and the same bytes streamed from disk."""
    path = tmp_path / "disk.bin"
    path.write_bytes(BODY)
    run = sb.add_run(agent, status=9, files=[("memory.bin", BODY), ("disk.bin", path)])
    files = sb.data.run(agent, run["id"]).files
    return agent, run["id"], [f.id for f in files]


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=100-", 100, len(BODY) - 1),
        ("bytes=-16", len(BODY) - 16, len(BODY) - 1),
        ("bytes=10000-99999", 10000, len(BODY) - 1),
        ("bytes=4096-8191", 4096, 8191),
    ],
)
def test_a_range_answers_206_with_exactly_those_bytes(sb, http, api, ranged, header, first, last):
    agent, run, ids = ranged
    for file_id in ids:
        url = f"{api}/agent/{agent}/run/{run}/file/{file_id}/download"
        response = http.get(url, headers={"Range": header})
        assert response.status_code == 206
        assert response.headers["Content-Range"] == f"bytes {first}-{last}/{len(BODY)}"
        assert int(response.headers["Content-Length"]) == last - first + 1
        assert response.content == BODY[first : last + 1]
        assert sb.requests[-1].range == header


def test_no_range_is_the_whole_file_and_an_unusable_one_is_ignored(sb, http, api, ranged):
    agent, run, (file_id, _) = ranged
    url = f"{api}/agent/{agent}/run/{run}/file/{file_id}/download"
    whole = http.get(url)
    assert whole.status_code == 200
    assert whole.content == BODY
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert sb.requests[-1].range is None
    for header in ("bytes=0-1,5-6", "items=0-5", "bytes=9-3"):
        assert http.get(url, headers={"Range": header}).status_code == 200


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-20010", "bytes=-0"])
def test_an_unsatisfiable_range_is_416(http, api, ranged, header):
    agent, run, (file_id, _) = ranged
    response = http.get(f"{api}/agent/{agent}/run/{run}/file/{file_id}/download", headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(BODY)}"
    assert response.json()["status"] == 416


def test_ranges_on_the_storage_host(sb, http, api, ranged):
    agent, run, (file_id, disk_id) = ranged
    sb.redirect_downloads = True
    sb.clear_requests()
    for target in (file_id, disk_id):
        url = f"{api}/agent/{agent}/run/{run}/file/{target}/download"
        response = http.get(url, headers={"Range": "bytes=5-14"})
        assert response.status_code == 206
        assert response.content == BODY[5:15]
        assert response.headers["Content-Range"] == f"bytes 5-14/{len(BODY)}"
    storage = [r for r in sb.requests if r.host == "storage"]
    assert [r.range for r in storage] == ["bytes=5-14", "bytes=5-14"]
    assert not any(r.has_authorization for r in storage)
    location = http.get(
        f"{api}/agent/{agent}/run/{run}/file/{file_id}/download", allow_redirects=False
    ).headers["Location"]
    refused = requests.get(location, headers={"Range": "bytes=99999-"})
    assert refused.status_code == 416
    assert "<Code>InvalidRange</Code>" in refused.text
    assert refused.headers["Content-Range"] == f"bytes */{len(BODY)}"


# --- date forms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "pattern"),
    [
        ("z", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"),
        ("naive", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?"),
        ("7digit", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z"),
    ],
)
def test_date_forms_of_runs_and_files(sb, http, api, form, pattern):
    sb.date_form = form
    runs = http.get(f"{api}/agent/{STEAM}/runs").json()
    stamps = [r[key] for r in runs for key in ("created", "startTime", "endTime") if r[key]]
    files = http.get(f"{api}/agent/{STEAM}/run/{runs[-1]['id']}/files").json()
    stamps += [f["created"] for f in files]
    assert stamps
    assert all(re.fullmatch(pattern, stamp) for stamp in stamps), stamps
    assert http.get(f"{api}/agent/{STEAM}").json()["created"].endswith("Z")


def test_naive_dates_drop_a_zero_fraction(sb, agent):
    sb.date_form = "naive"
    try:
        run = sb.add_run(agent, status=4, created="2026-09-01T00:00:00Z")
        assert run["created"] == "2026-09-01T00:00:00"
        run = sb.add_run(agent, status=4, created="2026-09-01T23:59:59.999999Z")
        assert run["created"] == "2026-09-01T23:59:59.999999"
        sb.date_form = "7digit"
        assert sb.set_run_status(agent, run["id"], 4)["created"] == "2026-09-01T23:59:59.9999990Z"
    finally:
        sb.date_form = "z"
    with pytest.raises(ValueError, match="date_form"):
        Sandbox(date_form="ticks")


# --- the CLI flags ----------------------------------------------------------------------------


def test_cli_flags_for_hints_realities_and_dates():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sequentum_emulator",
            "--port",
            "0",
            "--storage-port",
            "0",
            "--realities",
            "--no-list-hints",
            "--date-form",
            "naive",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base = re.search(r"at (http://\S+) ", process.stdout.readline())[1]
        headers = {"Authorization": f"ApiKey {DEFAULT_API_KEY}"}
        agents = requests.get(f"{base}/api/v1/agent/all", headers=headers).json()
        assert [a["id"] for a in agents][-3:] == [1007, 1008, 1009]
        assert {a["lastActivity"] for a in agents} == {None}
        run = requests.get(f"{base}/api/v1/agent/{STEAM}/runs", headers=headers).json()[0]
        assert not run["created"].endswith("Z")
        process.terminate()
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
