"""Run costs, the credit history, spaces and the billing:read scope, over HTTP."""

from __future__ import annotations

import math
import time
from decimal import Decimal

import pytest
import requests

from sequentum_emulator import DEFAULT_API_KEY, NOBILLING_API_KEY, READONLY_API_KEY, Sandbox

STEAM, SOCGEN, ACDELCO, LISTINGS, PRICE_TSV, PRICE_JSON = 1001, 1002, 1003, 1004, 1005, 1006
PLACES = Decimal("0.0001")


def dec(value: float) -> Decimal:
    return Decimal(str(value))


def expected_cost(run: dict) -> Decimal:
    minutes = math.ceil((run["runTimeSec"] or 0) / 60)
    return (Decimal("0.0025") * run["pageCount"] + Decimal("0.01") * minutes).quantize(PLACES)


def all_transactions(http, api) -> list[dict]:
    rows, page = [], 1
    while True:
        body = http.get(f"{api}/billing/history", params={"pageIndex": page, "recordsPerPage": 100}).json()
        rows += body["transactions"]
        if page * 100 >= body["totalCount"]:
            return rows
        page += 1


# --- run costs --------------------------------------------------------------------------------


def test_run_costs_list_every_finished_run_with_its_cost(http, api):
    body = http.get(f"{api}/billing/agents/{STEAM}/runs").json()
    assert set(body) == {"runs", "totalRecordCount", "totalCost", "agentId", "agentName"}
    assert (body["agentId"], body["agentName"]) == (STEAM, "steam")
    runs = {r["id"]: r for r in http.get(f"{api}/agent/{STEAM}/runs").json()}
    finished = [r for r in runs.values() if r["tableType"] == "history"]
    assert body["totalRecordCount"] == len(finished) == 4
    assert {c["runId"] for c in body["runs"]} == {r["id"] for r in finished}
    dates = [c["date"] for c in body["runs"]]
    assert dates == sorted(dates)
    for entry in body["runs"]:
        assert set(entry) == {"runId", "date", "startTime", "endTime", "cost", "billingType"}
        run = runs[entry["runId"]]
        assert (entry["startTime"], entry["endTime"], entry["date"]) == (
            run["startTime"],
            run["endTime"],
            run["endTime"],
        )
        assert dec(entry["cost"]) == expected_cost(run) > 0
        assert dec(entry["cost"]) == dec(entry["cost"]).quantize(PLACES)
        assert entry["billingType"] == "RunUsage"
    assert dec(body["totalCost"]) == sum(dec(c["cost"]) for c in body["runs"])


def test_run_costs_page_and_total_the_page_only(http, api):
    url = f"{api}/billing/agents/{ACDELCO}/runs"
    everything = http.get(url).json()["runs"]
    first = http.get(url, params={"pageIndex": 1, "recordsPerPage": 3}).json()
    second = http.get(url, params={"pageIndex": 2, "recordsPerPage": 3}).json()
    assert first["totalRecordCount"] == second["totalRecordCount"] == len(everything) == 4
    assert first["runs"] + second["runs"] == everything
    assert len(second["runs"]) == 1
    assert dec(second["totalCost"]) == dec(second["runs"][0]["cost"])
    assert http.get(url, params={"pageIndex": 3, "recordsPerPage": 3}).json()["runs"] == []


def test_run_costs_filter_by_date_inclusively(http, api):
    url = f"{api}/billing/agents/{LISTINGS}/runs"
    everything = http.get(url).json()["runs"]
    days = [c["date"][:10] for c in everything]
    assert len(set(days)) == len(days) == 4
    middle = http.get(url, params={"startDate": days[1], "endDate": days[2]}).json()
    assert [c["runId"] for c in middle["runs"]] == [c["runId"] for c in everything[1:3]]
    assert middle["totalRecordCount"] == 2
    exact = http.get(url, params={"startDate": everything[1]["date"], "endDate": everything[1]["date"]})
    assert [c["runId"] for c in exact.json()["runs"]] == [everything[1]["runId"]]
    after = http.get(url, params={"startDate": f"{days[3]}T00:00:00Z"}).json()
    assert [c["runId"] for c in after["runs"]] == [everything[3]["runId"]]
    assert http.get(url, params={"endDate": "2000-01-01"}).json()["runs"] == []


@pytest.mark.parametrize(
    "params",
    [{"startDate": "last week"}, {"endDate": "2026-13-01"}, {"recordsPerPage": 101}, {"pageIndex": 0}],
)
def test_run_costs_reject_bad_parameters(http, api, params):
    response = http.get(f"{api}/billing/agents/{STEAM}/runs", params=params)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"


def test_run_costs_of_an_unknown_agent_are_404(http, api):
    assert http.get(f"{api}/billing/agents/9999/runs").status_code == 404


def test_active_runs_are_billed_once_final(http):
    with Sandbox(run_duration=0.2, seed_demo=False) as fresh:
        api = f"{fresh.base_url}/api/v1"
        agent = fresh.add_agent("billed later")["id"]
        waiting = fresh.add_run(agent, status=6, waiting_retry=True)
        started = http.post(f"{api}/agent/{agent}/start", json={}).json()
        assert http.get(f"{api}/billing/agents/{agent}/runs").json()["runs"] == []
        fresh.set_run_status(agent, waiting["id"], 9)
        deadline = time.monotonic() + 5
        while http.get(f"{api}/agent/{agent}/run/{started['id']}/status").json()["status"] != 9:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        costs = http.get(f"{api}/billing/agents/{agent}/runs").json()["runs"]
        assert {c["runId"] for c in costs} == {waiting["id"], started["id"]}
        assert all(c["cost"] > 0 for c in costs)


def test_costs_are_deterministic(http):
    with Sandbox() as one, Sandbox() as two:
        apis = [f"{one.base_url}/api/v1", f"{two.base_url}/api/v1"]
        for agent in (STEAM, SOCGEN, PRICE_JSON):
            path = f"/billing/agents/{agent}/runs"
            assert http.get(apis[0] + path).json() == http.get(apis[1] + path).json()
        assert all_transactions(http, apis[0]) == all_transactions(http, apis[1])


# --- credit history ---------------------------------------------------------------------------


def test_credit_history_pages_newest_first(http, api):
    first = http.get(f"{api}/billing/history").json()
    assert set(first) == {"transactions", "totalCount", "pageIndex", "recordsPerPage"}
    assert (first["pageIndex"], first["recordsPerPage"]) == (1, 50)
    assert first["totalCount"] > 100
    rows = all_transactions(http, api)
    assert len(rows) == first["totalCount"]
    assert rows[:50] == first["transactions"]
    assert len({r["id"] for r in rows}) == len(rows)
    stamps = [r["created"] for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    assert all(s.endswith("Z") for s in stamps)
    for row in rows:
        assert set(row) == {"id", "transactionType", "amount", "balance", "created", "expiresAt", "message"}
    assert {r["transactionType"] for r in rows} == {
        "Initial",
        "Credit",
        "Debit",
        "Expiration",
        "Refund",
        "Adjustment",
    }
    last = http.get(f"{api}/billing/history", params={"pageIndex": 3, "recordsPerPage": 50}).json()
    assert last["transactions"] == rows[100:]
    assert http.get(f"{api}/billing/history", params={"recordsPerPage": 101}).status_code == 400


def test_balances_add_up_and_runs_are_debited_their_cost(http, api):
    oldest_first = list(reversed(all_transactions(http, api)))
    balance = Decimal(0)
    for row in oldest_first:
        balance += dec(row["amount"])
        assert dec(row["balance"]) == balance
    assert balance > 0
    debits = {r["id"]: r for r in oldest_first if r["transactionType"] == "Debit"}
    billed = 0
    for agent in (STEAM, SOCGEN, ACDELCO, LISTINGS, PRICE_TSV, PRICE_JSON):
        for cost in http.get(f"{api}/billing/agents/{agent}/runs").json()["runs"]:
            debit = debits[1_000_000 + cost["runId"]]
            assert dec(debit["amount"]) == -dec(cost["cost"])
            assert debit["created"] == cost["date"]
            assert str(cost["runId"]) in debit["message"]
            billed += 1
    assert billed == 24


# --- spaces -----------------------------------------------------------------------------------


def test_spaces_match_the_agents_space_ids(http, api):
    spaces = http.get(f"{api}/spaces").json()
    assert [(s["id"], s["name"]) for s in spaces] == [(7, "Pricing"), (12, "Research")]
    for space in spaces:
        assert {"id", "name", "description", "organizationId", "created", "isDefaultAccess"} <= set(space)
    members = {s["id"]: {a["id"] for a in http.get(f"{api}/spaces/{s['id']}/agents").json()} for s in spaces}
    assert members == {7: {PRICE_TSV, PRICE_JSON}, 12: {SOCGEN, LISTINGS}}
    agents = http.get(f"{api}/agent/all").json()
    assert {a["spaceId"] for a in agents} == {None, 7, 12}
    entry = http.get(f"{api}/spaces/12/agents").json()[0]
    assert {"id", "name", "description", "configType", "status", "lastActivity", "version"} <= set(entry)
    assert http.get(f"{api}/spaces/99/agents").status_code == 404
    assert http.get(f"{api}/spaces/abc/agents").status_code == 400


def test_an_agent_in_a_new_space_brings_the_space(http):
    with Sandbox(seed_demo=False) as fresh:
        api = f"{fresh.base_url}/api/v1"
        agent = fresh.add_agent("spaced", spaceId=3)["id"]
        fresh.add_space("Named", space_id=4, description="by hand")
        spaces = http.get(f"{api}/spaces").json()
        assert [(s["id"], s["name"]) for s in spaces] == [(3, "Space 3"), (4, "Named")]
        assert [a["id"] for a in http.get(f"{api}/spaces/3/agents").json()] == [agent]
        assert http.get(f"{api}/spaces/4/agents").json() == []


# --- scopes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"/billing/agents/{STEAM}/runs", "/billing/history"])
def test_a_key_without_billing_scope_gets_403_on_billing(api, path):
    response = requests.get(api + path, headers={"Authorization": f"ApiKey {NOBILLING_API_KEY}"})
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["errorCode"] == "insufficient_scope"
    assert "billing:read" in body["detail"]
    assert body["title"] == "Forbidden"
    assert 'scope="billing:read"' in response.headers["WWW-Authenticate"]
    assert response.headers["X-RateLimit-Limit"] == "1000"


def test_the_key_without_billing_scope_works_everywhere_else(sb, api):
    headers = {"Authorization": f"ApiKey {NOBILLING_API_KEY}"}
    for path in ("/agent/all", f"/agent/{STEAM}", f"/agent/{STEAM}/runs", "/spaces", "/spaces/7/agents"):
        assert requests.get(api + path, headers=headers).status_code == 200, path
    agent = sb.add_agent("nobilling starts")["id"]
    assert requests.post(f"{api}/agent/{agent}/start", headers=headers, json={}).status_code == 200
    remaining = [
        int(requests.get(f"{api}/spaces", headers=headers).headers["X-RateLimit-Remaining"]) for _ in range(2)
    ]
    assert remaining[1] == remaining[0] - 1


@pytest.mark.parametrize("key", [DEFAULT_API_KEY, READONLY_API_KEY])
def test_keys_with_billing_scope_read_billing(api, key):
    headers = {"Authorization": f"ApiKey {key}"}
    assert requests.get(f"{api}/billing/history", headers=headers).status_code == 200
    assert requests.get(f"{api}/billing/agents/{STEAM}/runs", headers=headers).status_code == 200
