"""Operations shared by the CLI and the tap: parameter syntax, the start body, waiting, success."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap_sequentum import errors
from tap_sequentum.client import SequentumClient
from tap_sequentum.operations import (
    parse_params,
    run_succeeded,
    start_body,
    started_run,
    status_label,
    wait_for_run,
)

# --- parse_params ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([], {}),
        (["city=Boston"], {"city": "Boston"}),
        (["q=a=b=c"], {"q": "a=b=c"}),
        (["empty="], {"empty": ""}),
        (["k=1", "k=2"], {"k": "2"}),
        (["url=https://x.test/?a=1&b=2"], {"url": "https://x.test/?a=1&b=2"}),
        ([" spaced =v "], {"spaced": "v "}),
    ],
)
def test_parse_params(pairs, expected):
    assert parse_params(pairs) == expected


@pytest.mark.parametrize("bad", ["novalue", "=value", " =x", ""])
def test_parse_params_names_the_bad_pair(bad):
    with pytest.raises(errors.ConfigurationError, match=r"NAME=VALUE") as caught:
        parse_params(["ok=1", bad])
    assert repr(bad) in str(caught.value)


@given(
    st.text(min_size=1).filter(lambda k: "=" not in k and k.strip() == k and k),
    st.text(),
)
def test_parse_params_round_trips(key, value):
    assert parse_params([f"{key}={value}"]) == {key: value}


# --- start_body -----------------------------------------------------------------------------------


def test_start_body_defaults_send_only_the_mode():
    assert start_body() == {"isRunSynchronously": False}
    assert start_body(synchronous=True) == {"isRunSynchronously": True}


def test_start_body_full():
    body = start_body(
        {"param1": "value1", "param2": "value2"},
        parallelism=10,
        max_concurrency=2,
        export="combined",
        timeout=300,
        proxy_pool_id=123,
        exclusive=False,
        wait_on_failure=True,
        log_level="Info",
        log_mode="Text",
    )
    # The reference page's own example body.
    assert body == {
        "inputParameters": {"param1": "value1", "param2": "value2"},
        "parallelism": 10,
        "parallelMaxConcurrency": 2,
        "parallelExport": "Combined",
        "proxyPoolId": 123,
        "timeout": 300,
        "isRunSynchronously": False,
        "isExclusive": False,
        "isWaitOnFailure": True,
        "logLevel": "Info",
        "logMode": "Text",
    }


@pytest.mark.parametrize(
    ("given_", "sent"),
    [
        ("Combined", "Combined"),
        ("SEPARATED", "Separated"),
        ("separated", "Separated"),
        (" combined ", "Combined"),
    ],
)
def test_start_body_export_any_case(given_, sent):
    assert start_body(export=given_)["parallelExport"] == sent


def test_start_body_empty_parameters_are_sent_as_an_object():
    assert start_body({})["inputParameters"] == {}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"export": "both"},
        {"parallelism": 0},
        {"max_concurrency": -1},
        {"timeout": -5},
        {"parallelism": True},
        {"proxy_pool_id": "7"},
    ],
)
def test_start_body_rejects_bad_values(kwargs):
    with pytest.raises(errors.ConfigurationError):
        start_body(**kwargs)


def test_started_run_needs_a_run_id():
    assert started_run({"id": 5, "status": 4}, 1)["id"] == 5
    with pytest.raises(errors.ResponseFormatError, match=r"sequentum runs 7"):
        started_run("queued", 7)


# --- wait_for_run ---------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeClient:
    """Answers the given statuses in turn, repeating the last one."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.polls = 0

    def get_run(self, agent_id: int, run_id: int) -> dict:
        status = self.statuses[min(self.polls, len(self.statuses) - 1)]
        self.polls += 1
        return {"id": run_id, "configId": agent_id, "status": status}


def test_wait_returns_the_finished_run_and_reports_every_poll():
    clock, client, seen = FakeClock(), FakeClient([4, 1, 1, 9]), []
    run = wait_for_run(
        client, 1, 2, timeout=None, poll_interval=5, on_update=seen.append, clock=clock, sleep=clock.sleep
    )
    assert run["status"] == 9
    assert [r["status"] for r in seen] == [4, 1, 1, 9]
    assert clock.sleeps == [5, 5, 5]


@pytest.mark.parametrize("final", [6, 7, 8, 9, 10, 11])
def test_wait_stops_on_every_finished_status(final):
    clock = FakeClock()
    run = wait_for_run(FakeClient([1, final]), 1, 2, timeout=60, clock=clock, sleep=clock.sleep)
    assert run["status"] == final


def test_wait_times_out_with_an_actionable_message():
    clock, client = FakeClock(), FakeClient([4, 1])
    with pytest.raises(errors.RunTimeoutError) as caught:
        wait_for_run(client, 1001, 50027, timeout=12, poll_interval=5, clock=clock, sleep=clock.sleep)
    message = str(caught.value)
    assert "50027" in message
    assert "Running" in message
    assert "still" in message
    assert "sequentum stop 1001 50027" in message
    assert caught.value.run["status"] == 1
    assert isinstance(caught.value, errors.SequentumError)
    # Polls at 0, 5, 10 and once more at the deadline (12), never past it.
    assert clock.sleeps == [5, 5, 2]
    assert client.polls == 4


def test_wait_polls_once_more_at_the_deadline_and_sees_a_late_finish():
    clock = FakeClock()
    run = wait_for_run(
        FakeClient([1, 1, 9]), 1, 2, timeout=7, poll_interval=5, clock=clock, sleep=clock.sleep
    )
    assert run["status"] == 9
    assert clock.sleeps == [5, 2]


def test_wait_with_zero_timeout_polls_once():
    clock, client = FakeClock(), FakeClient([4])
    with pytest.raises(errors.RunTimeoutError):
        wait_for_run(client, 1, 2, timeout=0, clock=clock, sleep=clock.sleep)
    assert client.polls == 1
    assert clock.sleeps == []


def test_wait_on_an_unknown_status_keeps_waiting():
    clock = FakeClock()
    with pytest.raises(errors.RunTimeoutError, match=r"in status 42"):
        wait_for_run(FakeClient([42]), 1, 2, timeout=10, clock=clock, sleep=clock.sleep)


def test_wait_rejects_a_bad_poll_interval():
    with pytest.raises(errors.ConfigurationError):
        wait_for_run(FakeClient([1]), 1, 2, timeout=None, poll_interval=0)


def test_wait_rejects_an_answer_that_is_not_a_run():
    class Odd:
        def get_run(self, agent_id: int, run_id: int) -> str:
            return "busy"

    with pytest.raises(errors.ResponseFormatError):
        wait_for_run(Odd(), 1, 2, timeout=None)


def test_wait_against_the_sandbox(sandbox):
    sandbox.run_duration = 0.3
    client = SequentumClient(sandbox.api_key, sandbox.base_url)
    run = client.start_agent(1001, start_body())
    seen = []
    final = wait_for_run(client, 1001, run["id"], timeout=10, poll_interval=0.05, on_update=seen.append)
    assert final["status"] == 9
    assert run_succeeded(final)
    assert seen[0]["status"] in (4, 1)
    assert len(seen) >= 2


# --- classification -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "ok"),
    [
        (9, True),
        (10, True),
        ("Completed", True),
        ("10", True),
        (6, False),
        (7, False),
        (8, False),
        (11, False),
        (1, False),
        (None, False),
        (99, False),
    ],
)
def test_run_succeeded(status, ok):
    assert run_succeeded({"status": status}) is ok


@pytest.mark.parametrize(
    ("status", "label"),
    [(1, "Running (1)"), (9, "Completed (9)"), ("10", "Success (10)"), (99, "unknown (99)"), (None, "-")],
)
def test_status_label(status, label):
    assert status_label(status) == label
