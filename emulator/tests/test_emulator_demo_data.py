"""The seeded dataset, fingerprinted as the API serves it: moving the demo between code and data (or
touching a table generator or a renderer) must not change one byte of it.

Each part (agents, versions, runs, files, spaces, billing, schedules) has its own digest so a failure names
what changed. Lists are keyed by id, so the fingerprint is about the data, not the order a listing uses.
A deliberate change to the demo updates the digests here (and the tap's tests that assert its rows).
Schedules (issue 20) came as a part of their own: adding them changed no other part's digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from sequentum_emulator import DEFAULT_API_KEY, Sandbox

EXPECTED = {
    "demo": {
        "agents": "14896c5c535862135bdfccb321d6de02a467612c742d17e235119c18bf50c86c",
        "versions": "75e064d4e7a8add14c7af5de6907dd7e32a908ae1628b1bdf38e0fe9c6dddf01",
        "runs": "e4f29e15fe864e8c1713ffb0e1a67c85e0db1dc77d3ce3b06ede3ec8e87e0c77",
        "files": "83f8b479975f359537bbab22d850d1d6e74f3f5ae7850427f8960a1be6fc58ad",
        "spaces": "182f2e61d2a9395cda49d58f5e4bbb800374645469848fc0de0319b61418e3fd",
        "billing": "5888a92bd67fbf74f80608ab3fbddaef6110e5f66d0e71659ae3364b5ec01175",
        "schedules": "f87f272163c30ef7a665ef9d3e901c578aef748570b85270d8d77c169d269874",
    },
    "realities": {
        "agents": "b3a59e59be0eed4bf468103b41ea44b03300eb253c7a3397184877841ec5197c",
        "versions": "49178a06a9116160a6a2f63cce16ebb403ff0daf1860aea58d0978aa835ce0ff",
        "runs": "cbd5079c71261de3efb4095f5de57e433a16025e9db7bd859a79bd43c5490995",
        "files": "4586dc3f9781fa61e7e91737444c8f839a06a4904475be1cdcbe6f28a94ec0b0",
        "spaces": "893acbcc266778832a37abb3f065fac28f2e7789d2e209429be2b63a00da758b",
        "billing": "06b156265bf116ab174494bbbd4e63113ac977e525d0bb6f2391ac165e29efab",
        "schedules": "006dde66abccf8622c2c4f5a3f11938c9441ac98722c63a476b5c9d724758229",
    },
}

# (agents, runs, files, credit transactions, schedules): what changed, when a digest did.
SIZES = {"demo": (6, 26, 50, 112, 7), "realities": (9, 36, 72, 121, 10)}
#: A window holding every seeded next run (upcoming scheduled runs default to the week from today).
UPCOMING = {"startDate": "2025-01-01", "endDate": "2027-01-01"}


def by_id(items: list[dict[str, Any]], key: str = "id") -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: item[key])


def served(sandbox: Sandbox) -> dict[str, Any]:
    """Everything a client can read of the seeded dataset, over HTTP, files as (size, sha256)."""
    api = f"{sandbox.base_url}/api/v1"
    with requests.Session() as http:
        http.headers["Authorization"] = f"ApiKey {DEFAULT_API_KEY}"

        def get(path: str, **params: Any) -> Any:
            response = http.get(f"{api}{path}", params=params)
            assert response.status_code == 200, (path, response.text)
            return response.json() if "/download" not in path else response.content

        listed = by_id(get("/agent/all"))
        parts: dict[str, Any] = {"agents": [], "versions": {}, "runs": {}, "files": {}, "spaces": {}}
        schedules: dict[str, Any] = {"agents": {}}
        billing: dict[str, Any] = {"agents": {}}
        for summary in listed:
            agent = summary["id"]
            parts["agents"].append({"list": summary, "detail": get(f"/agent/{agent}")})
            parts["versions"][agent] = sorted(get(f"/agent/{agent}/versions"), key=lambda v: v["version"])
            runs = by_id(get(f"/agent/{agent}/runs", maxRecords=1000))
            parts["runs"][agent] = [
                {"list": run, "status": get(f"/agent/{agent}/run/{run['id']}/status")} for run in runs
            ]
            for run in runs:
                files = by_id(get(f"/agent/{agent}/run/{run['id']}/files"))
                for item in files:
                    content = get(f"/agent/{agent}/run/{run['id']}/file/{item['id']}/download")
                    item["download"] = [len(content), hashlib.sha256(content).hexdigest()]
                parts["files"][run["id"]] = files
            billing["agents"][agent] = get(f"/billing/agents/{agent}/runs", recordsPerPage=100)
            listed_schedules = by_id(get(f"/agent/{agent}/schedules"))
            schedules["agents"][agent] = [
                {"list": item, "detail": get(f"/agent/{agent}/schedules/{item['id']}")}
                for item in listed_schedules
            ]
        parts["spaces"] = {
            space["id"]: {"space": space, "agents": by_id(get(f"/spaces/{space['id']}/agents"))}
            for space in by_id(get("/spaces"))
        }
        first = get("/billing/history", recordsPerPage=100)
        pages = -(-first["totalCount"] // 100)
        transactions = first["transactions"]
        for page in range(2, pages + 1):
            transactions += get("/billing/history", recordsPerPage=100, pageIndex=page)["transactions"]
        billing["credits"] = by_id(transactions)
        parts["billing"] = billing
        schedules["upcoming"] = get("/analytics/schedules/upcoming", **UPCOMING)
        parts["schedules"] = schedules
    return parts


def digests(parts: dict[str, Any]) -> dict[str, str]:
    def digest(value: Any) -> str:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    return {name: digest(value) for name, value in parts.items()}


SANDBOXES: dict[str, Callable[[], Sandbox]] = {
    "demo": lambda: Sandbox(rate_limit=1_000_000),
    "realities": lambda: Sandbox(rate_limit=1_000_000, realities=True),
}


@pytest.mark.parametrize("name", list(SANDBOXES))
def test_the_seeded_dataset_is_unchanged(name):
    with SANDBOXES[name]() as sandbox:
        parts = served(sandbox)
    runs = sum(len(runs) for runs in parts["runs"].values())
    files = sum(len(files) for files in parts["files"].values())
    schedules = sum(len(items) for items in parts["schedules"]["agents"].values())
    assert (len(parts["agents"]), runs, files, len(parts["billing"]["credits"]), schedules) == SIZES[name]
    assert digests(parts) == EXPECTED[name]
