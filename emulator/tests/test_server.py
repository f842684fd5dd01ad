"""The sandbox speaks Sequentum's API (and its storage redirects) faithfully enough to test a tap."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from http.client import HTTPConnection, IncompleteRead
from pathlib import Path

import pytest
import requests

from sequentum_emulator import DEFAULT_API_KEY, READONLY_API_KEY, Sandbox

SENTINEL = "0001-01-01T00:00:00"
STEAM, SOCGEN, ACDELCO, LISTINGS, PRICE_TSV, PRICE_JSON = 1001, 1002, 1003, 1004, 1005, 1006
ROOT = Path(__file__).resolve().parents[1]


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- auth, errors, routing --------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "ApiKey wrong-key", f"Basic {DEFAULT_API_KEY}"])
def test_wrong_or_missing_key_is_a_401_problem(api, header):
    headers = {"Authorization": header} if header else {}
    response = requests.get(f"{api}/agent/all", headers=headers)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "instance"}
    assert body["status"] == 401
    assert body["instance"] == "/api/v1/agent/all"
    assert response.headers["X-RateLimit-Limit"] == "1000"
    assert response.headers["X-RateLimit-Window-Seconds"] == "60"


def test_bearer_form_is_accepted(api):
    response = requests.get(f"{api}/agent/all", headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"})
    assert response.status_code == 200


def test_readonly_key_reads_but_may_not_post(api):
    headers = {"Authorization": f"ApiKey {READONLY_API_KEY}"}
    assert requests.get(f"{api}/agent/{STEAM}", headers=headers).status_code == 200
    response = requests.post(f"{api}/agent/{STEAM}/start", headers=headers, json={})
    assert response.status_code == 403
    body = response.json()
    assert body["title"] == "Forbidden"
    assert body["errorCode"] == "insufficient_scope"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/agent/9999", 404),
        ("GET", "/agent/abc", 400),
        ("GET", f"/agent/{STEAM}/run/x/status", 400),
        ("GET", "/nope", 404),
        ("DELETE", f"/agent/{STEAM}", 405),
        ("GET", f"/agent/{STEAM}/start", 405),
        ("GET", f"/agent/{STEAM}/version/99", 404),
    ],
)
def test_routing_errors_are_problems(http, api, method, path, status):
    response = http.request(method, api + path)
    assert response.status_code == status
    assert response.json()["status"] == status
    assert response.headers["Content-Type"] == "application/problem+json"


# --- agents -----------------------------------------------------------------------------------


def test_agent_list_is_a_bare_array_of_summaries(http, api):
    agents = http.get(f"{api}/agent/all").json()
    assert [a["id"] for a in agents] == [STEAM, SOCGEN, ACDELCO, LISTINGS, PRICE_TSV, PRICE_JSON]
    assert agents[1]["name"] == "Société Générale \u2013 prix"
    for agent in agents:
        assert agent["created"] == agent["updated"] == SENTINEL
        assert agent["startUrl"] is None
        assert agent["proxyPoolId"] is None
        assert agent["lastActivity"] is not None  # a change hint, as live lists carry it
        assert agent["configType"] == 1
        assert agent["validationStatus"] == 3


def test_agent_list_pages_filters_and_sorts(http, api):
    page = http.get(f"{api}/agent/all", params={"pageIndex": 2, "recordsPerPage": 4}).json()
    assert page["totalRecordCount"] == 6
    assert [a["id"] for a in page["agents"]] == [PRICE_TSV, PRICE_JSON]

    named = http.get(f"{api}/agent/all", params={"name": "PRICE", "pageIndex": 1, "recordsPerPage": 1})
    assert named.json()["totalRecordCount"] == 2
    assert len(named.json()["agents"]) == 1

    spaced = http.get(f"{api}/agent/all", params={"spaceId": 12}).json()
    assert {a["id"] for a in spaced} == {SOCGEN, LISTINGS}

    by_name = http.get(f"{api}/agent/all", params={"sortColumn": "name", "sortOrder": 1}).json()
    names = [a["name"].casefold() for a in by_name]
    assert names == sorted(names, reverse=True)

    assert http.get(f"{api}/agent/all", params={"sortColumn": "color"}).status_code == 400


def test_agent_detail_has_real_dates(http, api):
    detail = http.get(f"{api}/agent/{STEAM}").json()
    assert detail["created"].endswith("Z")
    assert parse(detail["updated"]) >= parse(detail["created"])
    assert detail["startUrl"].startswith("https://store.steampowered.com/")
    assert detail["proxyPoolId"] == 5
    newest = http.get(f"{api}/agent/{STEAM}/runs", params={"maxRecords": 1}).json()[0]
    assert detail["lastActivity"] == newest["created"]


# --- runs, files, downloads -------------------------------------------------------------------


def test_runs_are_newest_first_and_limited(http, api):
    runs = http.get(f"{api}/agent/{ACDELCO}/runs").json()
    created = [parse(r["created"]) for r in runs]
    assert created == sorted(created, reverse=True)
    assert len(set(created)) == len(created)
    assert runs[0]["status"] == 4
    assert runs[0]["tableType"] == "run"
    assert runs[1]["tableType"] == "history"
    assert set(runs[0]) >= {"id", "configId", "sequence", "runTimeSec", "serverName", "traffic"}
    assert len(http.get(f"{api}/agent/{ACDELCO}/runs", params={"maxRecords": 2}).json()) == 2
    assert http.get(f"{api}/agent/{ACDELCO}/runs", params={"maxRecords": 5000}).status_code == 200
    assert http.get(f"{api}/agent/{ACDELCO}/runs", params={"maxRecords": "x"}).status_code == 400


#: Every listing the tap reads: path, the list's key in a page (None: a bare array), date and id fields.
ORDERED_LISTINGS = [
    ("agent/all", None, "created", "id"),  # the list's dates are sentinels: the agents' own are compared
    (f"agent/{ACDELCO}/runs?maxRecords=1000", None, "created", "id"),
    (f"agent/{ACDELCO}/run/50010/files", None, "created", "id"),
    (f"agent/{STEAM}/versions", None, "created", "version"),
    (f"billing/agents/{ACDELCO}/runs", "runs", "date", "runId"),
    ("billing/history", "transactions", "created", "id"),
    ("spaces", None, "created", "id"),
]


def listed(http, api, path: str, key: str | None, page_size: int = 7) -> list[dict]:
    """A listing whole, page by page when it pages."""
    if key is None:
        return http.get(f"{api}/{path}").json()
    items: list[dict] = []
    while True:
        body = http.get(
            f"{api}/{path}", params={"pageIndex": len(items) // page_size + 1, "recordsPerPage": page_size}
        )
        page = body.json()[key]
        items += page
        if len(page) < page_size:
            return items


@pytest.mark.parametrize(("path", "key", "date", "ident"), ORDERED_LISTINGS)
def test_each_listing_comes_in_the_order_asked_for(sb, http, api, path, key, date, ident):
    documented = listed(http, api, path, key)
    assert len(documented) >= 2

    def sort_key(item: dict) -> tuple:
        when = sb.data.agents[item["id"]].created if path == "agent/all" else parse(item[date])
        return when, item[ident]

    served = {}
    for order in ("newest-first", "oldest-first", "shuffled"):
        sb.listing_order = order
        served[order] = listed(http, api, path, key)
    assert served["newest-first"] == sorted(documented, key=sort_key, reverse=True)
    assert served["oldest-first"] == sorted(documented, key=sort_key)
    shuffled = served["shuffled"]
    assert sorted(shuffled, key=sort_key) == sorted(documented, key=sort_key)  # every item once, over pages
    if len(documented) > 2:
        assert shuffled not in (served["newest-first"], served["oldest-first"])
    sb.listing_order = "documented"
    assert listed(http, api, path, key) == documented


def test_a_shuffled_listing_is_cut_across_its_pages(sb, http, api):
    sb.listing_order = "shuffled"
    first, second = (
        http.get(f"{api}/billing/history", params={"pageIndex": page, "recordsPerPage": 20}).json()[
            "transactions"
        ]
        for page in (1, 2)
    )
    assert max(t["created"] for t in second) > min(t["created"] for t in first)
    again = http.get(f"{api}/billing/history", params={"pageIndex": 1, "recordsPerPage": 20}).json()
    assert again["transactions"] == first  # the same order on every request


def test_an_explicit_sort_beats_the_listing_order(sb, http, api):
    sb.listing_order = "shuffled"
    by_id = http.get(f"{api}/agent/all", params={"sortColumn": "id"}).json()
    assert [a["id"] for a in by_id] == sorted(a["id"] for a in by_id)


def test_an_unknown_listing_order_is_refused():
    with pytest.raises(ValueError, match="listing_order must be one of documented, newest-first"):
        Sandbox(listing_order="random")


def test_the_cli_takes_a_listing_order():
    from sequentum_emulator.__main__ import parse_args

    assert parse_args([]).listing_order == "documented"
    assert parse_args(["--listing-order", "oldest-first"]).listing_order == "oldest-first"


def test_run_status_and_the_other_error_shape(http, api):
    newest = http.get(f"{api}/agent/{STEAM}/runs").json()[0]
    status = http.get(f"{api}/agent/{STEAM}/run/{newest['id']}/status").json()
    assert status == newest
    assert status["status"] == 1
    missing = http.get(f"{api}/agent/{STEAM}/run/1/status")
    assert missing.status_code == 404
    assert missing.json()["statusCode"] == 404
    assert missing.json()["severity"] == "Error"


def test_every_demo_file_downloads_byte_exact(http, api):
    for agent in http.get(f"{api}/agent/all").json():
        for run in http.get(f"{api}/agent/{agent['id']}/runs").json():
            base = f"{api}/agent/{agent['id']}/run/{run['id']}"
            for item in http.get(f"{base}/files").json():
                assert set(item) == {"id", "regionId", "fileType", "name", "fileSize", "created"}
                response = http.get(f"{base}/file/{item['id']}/download")
                assert response.status_code == 200
                assert len(response.content) == item["fileSize"]
                assert int(response.headers["Content-Length"]) == item["fileSize"]
                assert item["name"] in response.headers["Content-Disposition"]


def test_demo_traps_are_present(http, api):
    def files_of(agent_id):
        for run in http.get(f"{api}/agent/{agent_id}/runs").json():
            base = f"{api}/agent/{agent_id}/run/{run['id']}"
            for item in http.get(f"{base}/files").json():
                yield item, base

    bom = [
        (i, b)
        for i, b in files_of(SOCGEN)
        if http.get(f"{b}/file/{i['id']}/download").content.startswith(b"\xef\xbb\xbf")
    ]
    assert len(bom) == 1
    item, base = bom[0]
    download = http.get(f"{base}/file/{item['id']}/download")
    assert b"\r\n" in download.content
    assert download.headers["Content-Type"] == "text/csv"
    assert b"98765432109876543210" in download.content

    kinds = {i["name"].rsplit(".", 1)[1] for i, _ in files_of(PRICE_JSON) if i["fileType"] == 1}
    assert kinds == {"json", "jsonl"}
    assert {i["name"] for i, _ in files_of(PRICE_TSV) if i["fileType"] == 1} == {"price_monitor.tsv"}

    parts = [http.get(f"{b}/file/{i['id']}/download").text for i, b in files_of(ACDELCO)]
    assert any('"007123"' in text and '""' in text for text in parts)
    two = [b for i, b in files_of(ACDELCO) if i["name"] == "products_reviews.csv"]
    assert len(two) == 1


def test_redirected_download_goes_to_signed_storage(sb, http, api):
    sb.redirect_downloads = True
    url = f"{api}/agent/{STEAM}/run/50004/file/90007/download"
    size = next(f["fileSize"] for f in http.get(f"{api}/agent/{STEAM}/run/50004/files").json())

    redirect = http.get(url, allow_redirects=False)
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert location.startswith(f"{sb.storage_url}/signed/")
    assert "X-Amz-Signature=" in location

    refused = requests.get(location, headers={"Authorization": f"ApiKey {DEFAULT_API_KEY}"})
    assert refused.status_code == 400
    assert "<Code>InvalidArgument</Code>" in refused.text

    served = requests.get(location)
    assert served.status_code == 200
    assert len(served.content) == size
    assert "X-RateLimit-Limit" not in served.headers

    tampered = requests.get(location.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    assert tampered.status_code == 403
    assert sb.requests[-1].host == "storage"
    assert not sb.requests[-1].has_authorization


def test_expired_signed_url_is_refused(sb, http, api):
    sb.redirect_downloads = True
    sb.signed_url_ttl = 0.05
    try:
        location = http.get(
            f"{api}/agent/{STEAM}/run/50004/file/90007/download", allow_redirects=False
        ).headers["Location"]
    finally:
        sb.signed_url_ttl = 60.0
    time.sleep(0.1)
    expired = requests.get(location)
    assert expired.status_code == 403
    assert "<Code>AccessDenied</Code><Message>Request has expired</Message>" in expired.text


# --- faults and rate limits -------------------------------------------------------------------


def test_injected_429_and_503(sb, http, api):
    sb.add_fault(r"/agent/all$", "429", retry_after=2)
    sb.add_fault(r"/agent/\d+$", "503", times=2, method="GET")
    limited = http.get(f"{api}/agent/all")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"
    assert limited.json()["status"] == 429
    assert http.get(f"{api}/agent/all").status_code == 200
    assert [http.get(f"{api}/agent/{STEAM}").status_code for _ in range(3)] == [503, 503, 200]


def test_injected_reset_raises_connection_error(sb, http, api):
    sb.add_fault(r"/runs$", "reset")
    with pytest.raises(requests.ConnectionError):
        http.get(f"{api}/agent/{STEAM}/runs")
    assert sb.requests[-1].status == 0
    assert http.get(f"{api}/agent/{STEAM}/runs").status_code == 200


def test_injected_truncate_cuts_the_body(sb, http, api):
    sb.add_fault(r"/download$", "truncate")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        http.get(f"{api}/agent/{STEAM}/run/50004/file/90007/download")

    sb.add_fault(r"/download$", "truncate")
    raw = HTTPConnection(sb.host, sb.port, timeout=5)
    raw.request(
        "GET",
        f"/api/v1/agent/{STEAM}/run/50004/file/90007/download",
        headers={"Authorization": f"ApiKey {DEFAULT_API_KEY}"},
    )
    response = raw.getresponse()
    with pytest.raises(IncompleteRead) as caught:
        response.read()
    raw.close()
    assert len(caught.value.partial) == int(response.headers["Content-Length"]) // 2


def test_rate_limit_is_a_sliding_window_per_key():
    with Sandbox(rate_limit=3, rate_window=60, seed_demo=False) as small:
        url = f"{small.base_url}/api/v1/agent/all"
        headers = {"Authorization": f"ApiKey {DEFAULT_API_KEY}"}
        remaining = [requests.get(url, headers=headers).headers["X-RateLimit-Remaining"] for _ in range(3)]
        assert remaining == ["2", "1", "0"]
        limited = requests.get(url, headers=headers)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.headers["X-RateLimit-Limit"] == "3"
        assert limited.json()["title"] == "Too Many Requests"
        other = requests.get(url, headers={"Authorization": f"ApiKey {READONLY_API_KEY}"})
        assert other.status_code == 200


def test_rate_limit_queues_a_request_whose_slot_is_about_to_free():
    with Sandbox(rate_limit=2, rate_window=0.4, seed_demo=False) as small:
        url = f"{small.base_url}/api/v1/agent/all"
        headers = {"Authorization": f"ApiKey {DEFAULT_API_KEY}"}
        assert [requests.get(url, headers=headers).status_code for _ in range(2)] == [200, 200]
        time.sleep(0.3)
        started = time.perf_counter()
        assert requests.get(url, headers=headers).status_code == 200
        assert time.perf_counter() - started >= 0.05


def test_latency_delays_api_answers(sb, http, api):
    sb.latency = 0.15
    started = time.perf_counter()
    assert http.get(f"{api}/agent/{STEAM}").status_code == 200
    assert time.perf_counter() - started >= 0.15


def test_keep_alive_serves_many_requests_on_one_connection(sb):
    connection = HTTPConnection(sb.host, sb.port, timeout=5)
    for _ in range(3):
        connection.request("GET", "/api/v1/agent/all", headers={"Authorization": f"ApiKey {DEFAULT_API_KEY}"})
        response = connection.getresponse()
        assert response.status == 200
        assert len(response.read()) == int(response.headers["Content-Length"])
    connection.close()


# --- the Python API and the CLI ---------------------------------------------------------------


def test_request_log_records_every_request(sb, http, api):
    sb.clear_requests()
    http.get(f"{api}/agent/all", params={"name": "steam"})
    requests.get(f"{api}/agent/all")
    log = sb.requests
    assert [(r.method, r.host, r.status, r.has_authorization) for r in log] == [
        ("GET", "api", 200, True),
        ("GET", "api", 401, False),
    ]
    assert log[0].query == {"name": "steam"}
    assert log[0].path == "/api/v1/agent/all"


def test_cli_prints_its_address_and_stops_on_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "sequentum_emulator", "--port", "0", "--storage-port", "0", "--no-demo"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(
            r"Sequentum sandbox at (http://127\.0\.0\.1:\d+) \(API key: sandbox-demo-key\); "
            r"storage at http://127\.0\.0\.1:\d+\n",
            line,
        )
        assert match, line
        response = requests.get(
            f"{match[1]}/api/v1/agent/all", headers={"Authorization": f"ApiKey {DEFAULT_API_KEY}"}
        )
        assert response.json() == []
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""
    finally:
        if process.poll() is None:
            process.kill()


def test_a_taken_port_is_one_line_naming_the_options(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "sequentum_emulator", "--port", str(port), "--storage-port", "0"]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and "Address already in use" in line and "--port" in line
