"""Schedules: each agent's (agent/{id}/schedules, one by id) and the organisation's upcoming scheduled runs
(analytics/schedules/upcoming), in Sequentum's shapes, over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from sequentum_emulator import NOBILLING_API_KEY, READONLY_API_KEY, Sandbox
from sequentum_emulator.__main__ import parse_args

STEAM, ACDELCO, PRICE_JSON = 1001, 1003, 1006
#: AgentScheduleApiModel (Sequentum's client, src/api/types.ts), in its order.
SCHEDULE_FIELDS = [
    "id",
    "configId",
    "name",
    "schedule",
    "localSchedule",
    "timezone",
    "nextRunTime",
    "startTime",
    "scheduleType",
    "isEnabled",
    "runEveryCount",
    "runEveryPeriod",
    "inputParameters",
    "parallelism",
    "parallelMaxConcurrency",
    "parallelExport",
    "proxyPoolId",
    "logLevel",
    "logMode",
    "created",
    "updated",
]
UPCOMING_FIELDS = [
    "scheduleId",
    "agentId",
    "agentName",
    "scheduleName",
    "nextRunTime",
    "timezone",
    "isEnabled",
]
EVERYTHING = {"startDate": "2025-01-01", "endDate": "2027-01-01"}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def agent(sb):
    """A fresh agent per test in the shared sandbox."""
    return sb.add_agent("schedules under test")["id"]


def test_an_agents_schedules_in_sequentums_shape(http, api):
    schedules = http.get(f"{api}/agent/{PRICE_JSON}/schedules").json()
    assert [list(s) for s in schedules] == [SCHEDULE_FIELDS] * 2
    once, six_hours = schedules
    assert (once["scheduleType"], once["schedule"], once["startTime"]) == (
        1,
        "",
        "2026-01-06T12:00:00.000000Z",
    )
    assert once["nextRunTime"] == once["startTime"] and once["isEnabled"] is True
    assert (six_hours["scheduleType"], six_hours["schedule"], six_hours["parallelism"]) == (
        3,
        "0 */6 * * *",
        2,
    )
    assert {s["configId"] for s in schedules} == {PRICE_JSON}
    assert [s["id"] for s in schedules] == sorted(s["id"] for s in schedules)


def test_one_schedule_by_id_and_only_under_its_agent(http, api):
    listed = http.get(f"{api}/agent/{STEAM}/schedules").json()[0]
    assert http.get(f"{api}/agent/{STEAM}/schedules/{listed['id']}").json() == listed
    other = http.get(f"{api}/agent/{ACDELCO}/schedules/{listed['id']}")
    assert other.status_code == 404 and "was not found for agent" in other.json()["detail"]
    assert http.get(f"{api}/agent/99999/schedules").status_code == 404
    bad = http.get(f"{api}/agent/{STEAM}/schedules/abc")
    assert bad.status_code == 400 and "scheduleId must be an integer" in bad.json()["detail"]


def test_a_run_every_schedule_with_its_period_and_json_text_parameters(http, api):
    quarterly = http.get(f"{api}/agent/1002/schedules").json()[0]
    assert (quarterly["scheduleType"], quarterly["runEveryCount"], quarterly["runEveryPeriod"]) == (2, 3, 5)
    assert quarterly["schedule"] == "Every 3 months" and quarterly["timezone"] == "Europe/Paris"
    assert isinstance(quarterly["inputParameters"], str)
    assert json.loads(quarterly["inputParameters"]) == {"market": "XPAR"}


def test_a_disabled_schedule_has_no_next_run_until_enabled_again(sb, http, api, agent):
    nxt = datetime(2026, 6, 1, 8, tzinfo=UTC)
    schedule = sb.add_schedule(
        agent, name="Daily", scheduleType="RunEvery", runEveryCount=1, runEveryPeriod="days", nextRunTime=nxt
    )
    assert schedule["nextRunTime"] == iso(nxt)
    sb.update_schedule(agent, schedule["id"], isEnabled=False)
    served = http.get(f"{api}/agent/{agent}/schedules/{schedule['id']}").json()
    assert (served["isEnabled"], served["nextRunTime"]) == (False, None)
    assert served["updated"] > schedule["updated"]
    sb.update_schedule(agent, schedule["id"], isEnabled=True)
    assert http.get(f"{api}/agent/{agent}/schedules").json()[0]["nextRunTime"] == iso(nxt)


def test_helpers_take_numbers_or_names_and_refuse_unknown_fields(sb, agent):
    cron = sb.add_schedule(agent, name="Nightly", scheduleType="cron", schedule="0 2 * * *")
    assert (cron["scheduleType"], cron["runEveryPeriod"], cron["nextRunTime"]) == (3, None, None)
    every = sb.add_schedule(
        agent, scheduleType=2, runEveryCount=6, runEveryPeriod="Hour", inputParameters={"q": "é"}
    )
    assert (every["runEveryPeriod"], every["schedule"], every["inputParameters"]) == (
        2,
        "Every 6 hours",
        '{"q": "é"}',
    )
    with pytest.raises(TypeError, match=r"Unknown schedule field\(s\) \['cron'\]"):
        sb.add_schedule(agent, cron="* * * * *")
    with pytest.raises(ValueError, match="scheduleType must be one of 1 RunOnce, 2 RunEvery, 3 CRON"):
        sb.add_schedule(agent, scheduleType="Weekly")
    with pytest.raises(ValueError, match="runEveryPeriod must be one of 1 Minutes"):
        sb.add_schedule(agent, scheduleType=2, runEveryPeriod=9)
    sb.delete_schedule(agent, cron["id"])
    assert [s["id"] for s in map(sb.data.schedule_json, sb.data.agent(agent).schedules.values())] == [
        every["id"]
    ]


def test_editing_schedules_leaves_the_agents_list_entry_as_it_is(sb, http, api, agent):
    def entry() -> tuple[dict, dict]:
        listed = next(a for a in http.get(f"{api}/agent/all").json() if a["id"] == agent)
        return listed, http.get(f"{api}/agent/{agent}").json()

    before = entry()
    schedule = sb.add_schedule(agent, name="Hourly", schedule="0 * * * *")
    sb.update_schedule(agent, schedule["id"], name="Every hour")
    sb.delete_schedule(agent, schedule["id"])
    assert entry() == before


@pytest.mark.parametrize("text", [True, False])
def test_older_versions_send_the_schedule_type_as_text(sb, http, api, text):
    sb.schedule_type_text = text
    types = [s["scheduleType"] for s in http.get(f"{api}/agent/{PRICE_JSON}/schedules").json()]
    assert types == (["RunOnce", "CRON"] if text else [1, 3])
    one = http.get(f"{api}/agent/1002/schedules").json()[0]
    assert one["scheduleType"] == ("RunEvery" if text else 2) and one["runEveryPeriod"] == 5


def test_the_schedule_type_as_text_at_construction_and_on_the_command_line():
    assert Sandbox(schedule_type_text=True, seed_demo=False).schedule_type_text is True
    assert parse_args([]).schedule_type_text is False
    assert parse_args(["--schedule-type-text"]).schedule_type_text is True


def test_schedule_timestamps_follow_the_date_form(sb, http, api):
    sb.date_form = "naive"
    listed = http.get(f"{api}/agent/{STEAM}/schedules").json()[0]
    assert (listed["nextRunTime"], listed["created"]) == ("2026-02-16T09:00:00", "2025-01-20T09:40:12.502114")


# --- upcoming scheduled runs ------------------------------------------------------------------------


def test_upcoming_runs_of_the_organisation_in_a_window(http, api):
    upcoming = http.get(f"{api}/analytics/schedules/upcoming", params=EVERYTHING).json()
    assert all(list(entry) == UPCOMING_FIELDS for entry in upcoming)
    times = [entry["nextRunTime"] for entry in upcoming]
    assert times == sorted(times)  # by next run
    steam = next(entry for entry in upcoming if entry["agentId"] == STEAM)
    assert steam == {
        "scheduleId": steam["scheduleId"],
        "agentId": STEAM,
        "agentName": "steam",
        "scheduleName": "Top of the hour",
        "nextRunTime": "2026-02-16T09:00:00.000000Z",
        "timezone": "UTC",
        "isEnabled": True,
    }
    assert ACDELCO not in {entry["agentId"] for entry in upcoming}  # its only schedule is disabled
    window = {"startDate": "2026-02-16T09:00:00Z", "endDate": "2026-03-01"}
    inside = http.get(f"{api}/analytics/schedules/upcoming", params=window).json()
    assert [entry["scheduleName"] for entry in inside] == ["Top of the hour"]  # both bounds inclusive


def test_upcoming_runs_default_to_the_week_from_today(sb, http, api, agent):
    now = datetime.now(UTC)
    soon = sb.add_schedule(agent, name="Soon", nextRunTime=now + timedelta(days=2))
    sb.add_schedule(agent, name="Later", nextRunTime=now + timedelta(days=9))
    sb.add_schedule(agent, name="Soon but off", nextRunTime=now + timedelta(days=1), isEnabled=False)
    upcoming = http.get(f"{api}/analytics/schedules/upcoming").json()
    assert [entry["scheduleId"] for entry in upcoming if entry["agentId"] == agent] == [soon["id"]]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"startDate": "tomorrow"}, "startDate must be an ISO 8601 date or date-time"),
        ({"startDate": "2026-02-01", "endDate": "2026-01-01"}, "endDate must not be before startDate"),
    ],
)
def test_upcoming_runs_refuse_bad_dates(http, api, params, message):
    response = http.get(f"{api}/analytics/schedules/upcoming", params=params)
    assert response.status_code == 400 and message in response.json()["detail"]


def test_listing_orders_apply_to_schedules(sb, http, api, agent):
    for minute in range(4):
        sb.add_schedule(agent, name=f"s{minute}", created=f"2026-01-01T00:0{minute}:00Z")
    documented = [s["id"] for s in http.get(f"{api}/agent/{agent}/schedules").json()]
    sb.listing_order = "newest-first"
    assert [s["id"] for s in http.get(f"{api}/agent/{agent}/schedules").json()] == documented[::-1]


# --- scopes and faults ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [READONLY_API_KEY, NOBILLING_API_KEY])
def test_schedules_need_the_agent_lists_scope_only(api, key):
    headers = {"Authorization": f"ApiKey {key}"}
    for path in (f"/agent/{STEAM}/schedules", "/analytics/schedules/upcoming"):
        assert requests.get(api + path, headers=headers).status_code == 200, path


@pytest.mark.parametrize("kind", ["400", "403", "404"])
def test_a_key_that_may_not_read_them_or_a_sequentum_without_them(sb, http, api, kind):
    sb.add_fault(r"/schedules$", kind)
    refused = http.get(f"{api}/agent/{STEAM}/schedules")
    assert refused.status_code == int(kind)
    if kind == "403":
        assert refused.json()["errorCode"] == "insufficient_scope"
        assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
    assert http.get(f"{api}/agent/{STEAM}/schedules").status_code == 200  # the fault is spent
