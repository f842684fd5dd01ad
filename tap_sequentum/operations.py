"""Operations on agents and runs (start, wait, classify), shared by the `sequentum` CLI and the tap.

Pure where possible: the start body and the parameter syntax are plain data, and waiting takes its clock
and sleep as arguments so its timeout logic is tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from tap_sequentum import errors
from tap_sequentum.domain import SUCCESS_STATUSES, is_finished, status_code, status_name

#: `parallelExport` values the API knows, by their lower-case spelling.
EXPORT_MODES = {"combined": "Combined", "separated": "Separated"}


def run_timeout(agent_id: int, run_id: int, run: Mapping[str, Any], waited: float) -> errors.RunTimeoutError:
    """The error for a run still going after the wait, naming the command that stops it."""
    status = status_name(run.get("status")) or f"in status {run.get('status')}"
    seconds = f"{waited:.0f}" if waited >= 10 else f"{waited:.1f}"
    return errors.RunTimeoutError(
        f"Run {run_id} of agent {agent_id} is still {status} after {seconds} s of waiting; it goes on "
        f"running on Sequentum: stop it with `sequentum stop {agent_id} {run_id}`.",
        agent_id=agent_id,
        run_id=run_id,
        run=dict(run),
        waited=waited,
    )


class RunReader(Protocol):
    """What waiting needs from a client: one uncached read of a run."""

    def get_run(self, agent_id: int, run_id: int) -> dict: ...


def parse_params(pairs: list[str]) -> dict[str, str]:
    """`["k=v", ...]` -> `{"k": "v"}`; the value may hold further "=", later pairs win."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise errors.ConfigurationError(
                f"Input parameter {pair!r} is not of the form NAME=VALUE (e.g. --param city=Boston)."
            )
        params[key.strip()] = value
    return params


def start_body(
    input_parameters: Mapping[str, Any] | None = None,
    *,
    parallelism: int | None = None,
    max_concurrency: int | None = None,
    export: str | None = None,
    timeout: int | None = None,
    proxy_pool_id: int | None = None,
    exclusive: bool | None = None,
    wait_on_failure: bool | None = None,
    log_level: str | None = None,
    log_mode: str | None = None,
    synchronous: bool = False,
) -> dict[str, Any]:
    """The JSON body of `agent/{id}/start`; options left unset are omitted so Sequentum's defaults apply."""
    body: dict[str, Any] = {}
    if input_parameters is not None:
        body["inputParameters"] = dict(input_parameters)
    for key, value, minimum in (
        ("parallelism", parallelism, 1),
        ("parallelMaxConcurrency", max_concurrency, 1),
        ("timeout", timeout, 0),
        ("proxyPoolId", proxy_pool_id, 0),
    ):
        if value is not None:
            body[key] = _whole_number(key, value, minimum)
    if export is not None:
        body["parallelExport"] = _export_mode(export)
    body["isRunSynchronously"] = bool(synchronous)
    optional = {"isExclusive": exclusive, "isWaitOnFailure": wait_on_failure}
    body.update({key: bool(flag) for key, flag in optional.items() if flag is not None})
    texts = {"logLevel": log_level, "logMode": log_mode}
    body.update({key: str(text) for key, text in texts.items() if text is not None})
    return body


def _whole_number(key: str, value: object, minimum: int) -> int:
    """`value` if it is an int (not a bool) of at least `minimum`; else an error naming `key`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise errors.ConfigurationError(f"{key} must be a whole number of at least {minimum}, not {value!r}.")
    return value


def _export_mode(export: str) -> str:
    """The API's spelling of a `parallelExport` mode given in any case."""
    mode = EXPORT_MODES.get(str(export).strip().lower())
    if mode is None:
        raise errors.ConfigurationError(f"parallelExport must be Combined or Separated, not {export!r}.")
    return mode


def started_run(answer: Any, agent_id: int) -> dict:
    """The run an asynchronous start answered with; anything without a run id is a format error."""
    if isinstance(answer, dict) and isinstance(answer.get("id"), int):
        return answer
    raise errors.ResponseFormatError(
        f"Sequentum accepted the start of agent {agent_id} but its answer names no run id: check with "
        f"`sequentum runs {agent_id}` whether a run was queued before starting it again."
    )


def wait_for_run(
    client: RunReader,
    agent_id: int,
    run_id: int,
    *,
    timeout: float | None,
    poll_interval: float = 5.0,
    on_update: Callable[[dict], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Poll a run until it finishes and return it; `RunTimeoutError` once `timeout` seconds have passed.

    The last poll happens at the deadline itself, so a run finishing just in time is not reported late.
    """
    if poll_interval <= 0:
        raise errors.ConfigurationError(f"The poll interval must be positive, not {poll_interval!r}.")
    started = clock()
    deadline = None if timeout is None else started + max(float(timeout), 0.0)
    while True:
        run = client.get_run(agent_id, run_id)
        if not isinstance(run, dict):
            raise errors.ResponseFormatError(
                f"Sequentum answered the status of run {run_id} of agent {agent_id} with "
                f"{type(run).__name__}, not a run."
            )
        if on_update is not None:
            on_update(run)
        if is_finished(run.get("status")):
            return run
        now = clock()
        if deadline is not None and now >= deadline:
            raise run_timeout(agent_id, run_id, run, now - started)
        sleep(poll_interval if deadline is None else min(poll_interval, deadline - now))


def run_succeeded(run: Mapping[str, Any]) -> bool:
    """True only for Completed (9) and Success (10)."""
    return status_code(run.get("status")) in SUCCESS_STATUSES


def status_label(status: Any) -> str:
    """`Running (1)`; unknown codes keep their raw value and a missing status is `-`."""
    if status is None:
        return "-"
    name = status_name(status)
    code = status_code(status)
    return f"{name} ({code})" if name else f"unknown ({status})"
