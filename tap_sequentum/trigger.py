"""Trigger-then-extract: start agents, wait for their runs, so the same sync extracts what they made.

This replaces a separate orchestration step before a scheduled `meltano run`: the tap starts the agents,
waits (bounded by each trigger's timeout, progress in the log) and only then extracts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tap_sequentum import errors
from tap_sequentum.client import SequentumClient
from tap_sequentum.operations import (
    run_succeeded,
    start_body,
    started_run,
    status_label,
    wait_for_run,
)

DEFAULT_TIMEOUT = 3600.0


def run_triggers(
    client: SequentumClient,
    triggers: Sequence[Mapping[str, Any]],
    *,
    fail_on_error: bool = True,
    poll_interval: float = 10.0,
    logger: logging.Logger,
    should_stop: Callable[[str], None] | None = None,
) -> list[dict]:
    """Start every trigger's agent (all first, so they run in parallel), then wait for each run.

    Returns the final runs. A failed or timed-out run raises `TriggerError` unless `fail_on_error` is off,
    in which case it is logged and the sync goes on to extract whatever exists. `should_stop` is called
    on every poll and may raise to abandon the wait (a signal); its argument describes the run waited on.
    """
    started = _start_all(client, triggers, logger)
    finished: list[dict] = []
    problems: list[str] = []
    for spec, run, begun in started:
        agent_id, run_id = int(spec["agent_id"]), int(run["id"])
        # Each run's timeout counts from its own start, not from when this loop reaches it.
        remaining = max(_timeout(spec) - (time.monotonic() - begun), 0.0)
        progress = _progress_reporter(agent_id, run_id, begun, logger, should_stop)
        try:
            final = wait_for_run(
                client, agent_id, run_id, timeout=remaining, poll_interval=poll_interval, on_update=progress
            )
        except errors.RunTimeoutError as exc:
            problems.append(str(exc))
            continue
        finished.append(final)
        problem = ended_badly(agent_id, run_id, final)
        if problem:
            problems.append(problem)
    if problems and fail_on_error:
        raise errors.TriggerError(
            " ".join(problems)
            + " Nothing was extracted; set trigger_fail_on_error to false to extract anyway."
        )
    for problem in problems:
        logger.warning("Trigger: %s Extracting anyway (trigger_fail_on_error is off).", problem)
    return finished


Started = tuple[Mapping[str, Any], dict, float]


def _start_all(
    client: SequentumClient, triggers: Sequence[Mapping[str, Any]], logger: logging.Logger
) -> list[Started]:
    """Start each trigger's agent: (spec, run, when); a failed start names the runs already going."""
    started: list[Started] = []
    for spec in triggers:
        agent_id = int(spec["agent_id"])
        body = start_body(spec.get("input_parameters") or None)
        try:
            run = started_run(client.start_agent(agent_id, body), agent_id)
        except errors.SequentumError as exc:
            if not started:
                raise
            running = ", ".join(f"run {r['id']} of agent {s['agent_id']}" for s, r, _ in started)
            raise errors.TriggerError(
                f"{exc} Already started and still running on Sequentum: {running}."
            ) from None
        logger.info(
            "Trigger: started agent %s, run %s (%s).", agent_id, run["id"], status_label(run.get("status"))
        )
        started.append((spec, run, time.monotonic()))
    return started


def _timeout(spec: Mapping[str, Any]) -> float:
    return DEFAULT_TIMEOUT if spec.get("timeout") is None else float(spec["timeout"])


def _progress_reporter(
    agent_id: int,
    run_id: int,
    begun: float,
    logger: logging.Logger,
    should_stop: Callable[[str], None] | None,
) -> Callable[[dict], None]:
    """What each poll of a run does: log its status, then let a pending signal stop the wait."""

    def progress(current: dict) -> None:
        logger.info(
            "Trigger: agent %s run %s is %s after %.0f s.",
            agent_id,
            run_id,
            status_label(current.get("status")),
            time.monotonic() - begun,
        )
        if should_stop is not None:
            should_stop(
                f" while waiting for triggered run {run_id} of agent {agent_id}, which goes on running "
                f"on Sequentum (stop it with `sequentum stop {agent_id} {run_id}`)"
            )

    return progress


def ended_badly(agent_id: int, run_id: int, final: Mapping[str, Any]) -> str | None:
    """The problem to report for a triggered run that finished without succeeding, else None."""
    if run_succeeded(final):
        return None
    message = f": {final['message']}" if final.get("message") else ""
    return f"Triggered run {run_id} of agent {agent_id} ended {status_label(final.get('status'))}{message}."
