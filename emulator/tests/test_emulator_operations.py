"""Starting, stopping and restoring over HTTP, and seeding from Python: the tests that change the demo,
on a sandbox of their own (test_sandbox.py only reads its one)."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest

STEAM, ACDELCO, LISTINGS = 1001, 1003, 1004


def test_async_start_queues_then_completes_with_files(sb, http, api):
    body = {"inputParameters": json.dumps({"region": "EU"}), "isRunSynchronously": False}
    started = http.post(f"{api}/agent/{STEAM}/start", json=body).json()
    assert started["status"] == 4
    assert started["tableType"] == "run"
    assert started["startTime"] is None
    assert http.get(f"{api}/agent/{STEAM}/runs").json()[0]["id"] == started["id"]

    status_url = f"{api}/agent/{STEAM}/run/{started['id']}/status"
    deadline = time.monotonic() + 5
    seen = set()
    while (run := http.get(status_url).json())["status"] != 9:
        seen.add(run["status"])
        assert time.monotonic() < deadline
        time.sleep(0.03)
    assert seen <= {4, 1}
    assert run["tableType"] == "history"
    assert run["endTime"] and run["startTime"] and run["runTimeSec"] is not None

    files = http.get(f"{api}/agent/{STEAM}/run/{run['id']}/files").json()
    assert {(f["fileType"], f["name"]) for f in files} == {
        (1, f"steam_{run['id']}.csv"),
        (6, f"steam_{run['id']}.log"),
    }
    data = next(f for f in files if f["fileType"] == 1)
    text = http.get(f"{api}/agent/{STEAM}/run/{run['id']}/file/{data['id']}/download").text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == run["dataCount"] > 0
    assert {row["region"] for row in rows} == {"EU"}


def test_sync_start_returns_rows_by_agent_name(http, api):
    body = {"inputParameters": {"param1": "value1"}, "isRunSynchronously": True}
    response = http.post(f"{api}/agent/{ACDELCO}/start", json=body)
    assert response.status_code == 200
    result = response.json()
    assert list(result) == ["ACDelco parts"]
    rows = result["ACDelco parts"]
    assert rows
    assert set(rows[0]) == {"Product Name", "Part Number", "Category", "Qty", "param1"}
    newest = http.get(f"{api}/agent/{ACDELCO}/runs", params={"maxRecords": 1}).json()[0]
    assert newest["status"] == 9
    assert newest["dataCount"] == len(rows)


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b"[1, 2]", b'{"parallelism": "many"}', b'{"inputParameters": "{oops"}'],
)
def test_bad_start_bodies_are_400(http, api, payload):
    response = http.post(
        f"{api}/agent/{STEAM}/start", data=payload, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["status"] == 400


def test_stop_a_run_and_an_agent(sb, http, api):
    agent = sb.add_agent("stoppable")
    sb.run_duration = 30
    try:
        first = http.post(f"{api}/agent/{agent['id']}/start", json={}).json()
        second = http.post(f"{api}/agent/{agent['id']}/start", json={}).json()
    finally:
        sb.run_duration = 0.3
    stopped = http.post(f"{api}/agent/{agent['id']}/run/{first['id']}/stop")
    assert stopped.status_code == 200
    assert stopped.json()["status"] == 8
    files = http.get(f"{api}/agent/{agent['id']}/run/{first['id']}/files").json()
    assert sorted(f["fileType"] for f in files) == [1, 6]

    again = http.post(f"{api}/agent/{agent['id']}/run/{first['id']}/stop")
    assert again.status_code == 400
    assert "not running" in again.json()["detail"]

    by_agent = http.post(f"{api}/agent/{agent['id']}/stop")
    assert [r["id"] for r in by_agent.json()] == [second["id"]]
    assert http.post(f"{api}/agent/{agent['id']}/stop").status_code == 400


def test_restore_creates_the_next_version(http, api):
    versions = http.get(f"{api}/agent/{LISTINGS}/versions").json()
    top = versions[0]["version"]
    assert [v["version"] for v in versions] == sorted((v["version"] for v in versions), reverse=True)
    restored = http.post(f"{api}/agent/{LISTINGS}/version/1/restore", json={"content": "Api restore"})
    assert restored.status_code == 200
    assert restored.json()["version"] == top + 1
    assert restored.json()["comments"] == "Api restore"
    assert http.get(f"{api}/agent/{LISTINGS}").json()["version"] == top + 1
    assert http.get(f"{api}/agent/{LISTINGS}/versions").json()[0]["version"] == top + 1
    missing = http.post(f"{api}/agent/{LISTINGS}/version/99/restore", json={"content": "x"})
    assert missing.status_code == 404


def test_python_api_seeds_runs_and_streams_files_from_disk(sb, http, api, tmp_path):
    big = tmp_path / "big.csv"
    big.write_bytes(b"id,value\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(100_000)))
    agent = sb.add_agent("disk agent", spaceId=3, description="seeded by a test")
    assert agent["id"] >= 1000
    run = sb.add_run(agent["id"], status=9, created="2026-01-01T00:00:00Z", files=[("big.csv", big)])
    assert run["id"] >= 50000
    extra = sb.add_file(agent["id"], run["id"], "notes.txt", b"hello", file_type=6)
    assert extra["id"] >= 90000
    active = sb.add_run(agent["id"], status=1)
    finished = sb.set_run_status(agent["id"], active["id"], 9, files=[("out.json", b"[{}]")])
    assert finished["tableType"] == "history"
    version = sb.add_version(agent["id"], comments="second", user_name="Test")
    assert version["version"] == 2

    files = http.get(f"{api}/agent/{agent['id']}/run/{run['id']}/files").json()
    assert [f["fileSize"] for f in files] == [big.stat().st_size, 5]
    response = http.get(f"{api}/agent/{agent['id']}/run/{run['id']}/file/{files[0]['id']}/download")
    assert response.content == big.read_bytes()
    assert http.get(f"{api}/agent/{agent['id']}").json()["lastActivity"] == finished["created"]


def test_a_renamed_agent_keeps_its_version_and_its_files_their_export_name(sb, http, api):
    agent = sb.add_agent("Price Watch", created="2026-01-05T08:00:00Z")
    before = http.get(f"{api}/agent/{agent['id']}").json()
    renamed = sb.rename_agent(agent["id"], "Price Watch EU")
    detail = http.get(f"{api}/agent/{agent['id']}").json()
    assert renamed == detail
    assert detail["name"] == "Price Watch EU"
    assert detail["version"] == before["version"]
    assert detail["updated"] > before["updated"]
    listed = [a for a in http.get(f"{api}/agent/all").json() if a["id"] == agent["id"]]
    assert [a["name"] for a in listed] == ["Price Watch EU"]
    http.post(f"{api}/agent/{agent['id']}/start", json={"isRunSynchronously": True})
    run = http.get(f"{api}/agent/{agent['id']}/runs").json()[0]
    names = {f["name"] for f in http.get(f"{api}/agent/{agent['id']}/run/{run['id']}/files").json()}
    assert names == {f"price_watch_{run['id']}.csv", f"price_watch_{run['id']}.log"}
