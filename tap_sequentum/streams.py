"""Metadata streams: agents, agent_versions, runs, run_files.

Streams are declarations over `SequentumClient`; the HTTP quirks live in the client, the run bookkeeping
in `incremental.py`, the enumerations in `domain.py`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar, Protocol, cast

from singer_sdk import typing as th

from tap_sequentum import errors
from tap_sequentum.domain import (
    file_extension,
    file_type_name,
    is_finished,
    normalize_timestamp,
    status_name,
)
from tap_sequentum.incremental import RunPlan, plan_runs
from tap_sequentum.sdk import SeamStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

    from tap_sequentum.client import SequentumClient

# Shared schema fragments.
ENUM = th.CustomType({"type": ["integer", "string", "null"]})  # ints live, strings in older clients
JSON_OBJECT = th.CustomType({"type": ["object", "string", "null"]})  # an object, or its JSON text
JSON_ANY = th.CustomType({"type": ["array", "object", "string", "null"]})
TIMESTAMP = th.DateTimeType


class TapServices(Protocol):
    """What streams need from the tap: its one client (shared cache and pacing) and the stop check."""

    client: SequentumClient
    stop_signal: int | None

    def check_stop(self, detail: str = "") -> None: ...


class SequentumStream(SeamStream):
    """Base stream: access to the tap's one client and timestamp normalisation."""

    #: Fields holding API timestamps: normalised to RFC 3339 UTC, the .NET sentinel to null.
    timestamp_fields: ClassVar[tuple[str, ...]] = ("created",)

    @property
    def services(self) -> TapServices:
        return cast("TapServices", self.tap)

    @property
    def client(self) -> SequentumClient:
        return self.services.client

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Stop cleanly between records when the tap was asked to (SIGINT/SIGTERM)."""
        self.services.check_stop()
        return row

    def normalize(self, record: dict) -> dict:
        for name in self.timestamp_fields:
            if name in record:
                record[name] = normalize_timestamp(record[name])
        return record


def plan_agent_runs(stream: SequentumStream, agent_id: int, state: dict, ids_key: str) -> RunPlan:
    """List an agent's runs (answer shared by all streams of the sync) and plan them against `state`."""
    max_records = int(stream.config.get("runs_max_records", 1000))
    runs = stream.client.list_runs(agent_id, max_records)
    plan = plan_runs(
        runs,
        bookmark=state.get("replication_key_value"),
        finished_ids=state.get(ids_key, ()),
        start_date=stream.config.get("start_date"),
        max_records=max_records,
    )
    if plan.gap:
        stream.logger.warning(
            "Agent %s: all %d listed runs are newer than the bookmark %s of stream %s, so older runs may "
            "have been missed (the API lists only the newest runs_max_records runs). Sync more often.",
            agent_id,
            len(runs),
            state.get("replication_key_value"),
            stream.name,
        )
    if plan.skipped_no_date:
        stream.logger.warning(
            "Agent %s: %d runs without a created date skipped.", agent_id, plan.skipped_no_date
        )
    return plan


def save_plan(state: dict, plan: RunPlan, replication_key: str, ids_key: str) -> None:
    """Move the bookmark as planned; called only once everything the plan emits is out."""
    if plan.bookmark is not None:
        state["replication_key"] = replication_key
        state["replication_key_value"] = plan.bookmark
        state[ids_key] = plan.finished_ids


class AgentsStream(SequentumStream):
    """Every agent, the list entry merged with its detail (real dates, start URL, proxy pool)."""

    name = "agents"
    primary_keys = ("id",)
    timestamp_fields = ("created", "updated", "lastActivity")
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("description", th.StringType),
        th.Property("documentation", th.StringType),
        th.Property("icon", th.StringType),
        th.Property("image", th.StringType),
        th.Property("configType", ENUM),
        th.Property("validationStatus", ENUM),
        th.Property("status", ENUM),
        th.Property("isActive", th.BooleanType),
        th.Property("version", th.IntegerType),
        th.Property("userId", th.IntegerType),
        th.Property("spaceId", th.IntegerType),
        th.Property("proxyPoolId", th.IntegerType),
        th.Property("startUrl", th.StringType),
        th.Property("inputParameters", JSON_OBJECT),
        th.Property("agentTemplates", JSON_ANY),
        th.Property("lastActivity", TIMESTAMP),
        th.Property("created", TIMESTAMP),
        th.Property("updated", TIMESTAMP),
    ).to_dict()

    def get_records(self, context: Context | None) -> Iterable[dict]:
        agent_ids = self.config.get("agent_ids") or []
        if agent_ids:
            for agent_id in dict.fromkeys(int(a) for a in agent_ids):
                yield self.normalize(self._detail(agent_id, from_setting=True))
            return
        for summary in self.client.list_agents(page_size=self.config.get("agents_page_size", 100)):
            detail = self._detail(int(summary["id"]), from_setting=False)
            yield self.normalize(merge_agent(summary, detail))

    def _detail(self, agent_id: int, *, from_setting: bool) -> dict:
        try:
            return self.client.get_agent(agent_id)
        except errors.NotFoundError:
            if not from_setting:
                raise
            raise errors.NotFoundError(
                f"Agent {agent_id} from agent_ids does not exist or this API key cannot see it "
                "(HTTP 404): fix agent_ids / TAP_SEQUENTUM_AGENT_IDS."
            ) from None

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        row = super().post_process(row, context) or row
        params = row.get("inputParameters")
        if isinstance(params, str) and params.strip().startswith("{"):
            with contextlib.suppress(ValueError):
                row["inputParameters"] = json.loads(params)
        return row

    def get_child_context(self, record: Record, context: Context | None) -> dict:
        return {"agent_id": record["id"]}


def merge_agent(summary: dict, detail: dict) -> dict:
    """The list entry overlaid with the detail; a null or sentinel detail field keeps the list's value."""
    merged = dict(summary)
    for key, value in detail.items():
        if value is None or (isinstance(value, str) and value.startswith("0001-01-01")):
            merged.setdefault(key, value)
        else:
            merged[key] = value
    return merged


class AgentVersionsStream(SequentumStream):
    """The saved versions of each agent; the highest version is the active one."""

    name = "agent_versions"
    primary_keys = ("agent_id", "version")
    parent_stream_type = AgentsStream
    state_partitioning_keys: ClassVar[list[str]] = []
    schema = th.PropertiesList(
        th.Property("agent_id", th.IntegerType, required=True),
        th.Property("version", th.IntegerType, required=True),
        th.Property("userName", th.StringType),
        th.Property("comments", th.StringType),
        th.Property("fileSize", th.IntegerType),
        th.Property("created", TIMESTAMP),
    ).to_dict()

    def get_records(self, context: Context | None) -> Iterable[dict]:
        agent_id = context["agent_id"] if context else None
        for version in self.client.list_versions(agent_id):
            yield self.normalize({**version, "agent_id": agent_id})


class RunsStream(SequentumStream):
    """Runs per agent, incremental on `created`; unfinished runs are re-read until they finish."""

    name = "runs"
    primary_keys = ("id",)
    replication_key = "created"
    is_sorted = False
    parent_stream_type = AgentsStream
    state_partitioning_keys: ClassVar[list[str]] = ["agent_id"]
    timestamp_fields = ("created", "startTime", "endTime")
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("agent_id", th.IntegerType, required=True),
        th.Property("configId", th.IntegerType),
        th.Property("configName", th.StringType),
        th.Property("status", th.IntegerType),
        th.Property("status_name", th.StringType),
        th.Property("is_finished", th.BooleanType),
        th.Property("tableType", th.StringType),
        th.Property("message", th.StringType),
        th.Property("spaceId", th.IntegerType),
        th.Property("organizationId", th.IntegerType),
        th.Property("organizationName", th.StringType),
        th.Property("sequence", th.IntegerType),
        th.Property("parallelism", th.IntegerType),
        th.Property("parallelMaxConcurrency", th.IntegerType),
        th.Property("parallelExport", th.StringType),
        th.Property("parallelSet", th.IntegerType),
        th.Property("configVersion", th.IntegerType),
        th.Property("actionCount", th.IntegerType),
        th.Property("pageCount", th.IntegerType),
        th.Property("dynamicPageCount", th.IntegerType),
        th.Property("requestCount", th.IntegerType),
        th.Property("dataCount", th.IntegerType),
        th.Property("inputCount", th.IntegerType),
        th.Property("errorCount", th.IntegerType),
        th.Property("exportCount", th.IntegerType),
        th.Property("traffic", th.IntegerType),
        th.Property("runTimeSec", th.NumberType),
        th.Property("serverName", th.StringType),
        th.Property("startTime", TIMESTAMP),
        th.Property("endTime", TIMESTAMP),
        th.Property("created", TIMESTAMP, required=True),
    ).to_dict()

    def record_written(self, record: Record, context: Context | None) -> None:
        """No per-record bookmarking: `get_records` writes the agent's state once all its runs are out."""

    def get_records(self, context: Context | None) -> Iterable[dict]:
        agent_id = int(context["agent_id"]) if context else 0
        state = self.get_context_state(context)
        plan = plan_agent_runs(self, agent_id, state, "finished_run_ids")
        for run in plan.emit:
            yield self.normalize(
                {
                    **run,
                    "agent_id": agent_id,
                    "status_name": status_name(run.get("status")),
                    "is_finished": is_finished(run.get("status")),
                }
            )
        # Reached only after every run (and its child records) was emitted.
        save_plan(state, plan, self.replication_key, "finished_run_ids")

    def get_child_context(self, record: Record, context: Context | None) -> dict:
        return {"agent_id": record["agent_id"], "run_id": record["id"]}


class RunFilesStream(SequentumStream):
    """Files of each emitted run: delivered data, logs and internal files, with their type names."""

    name = "run_files"
    primary_keys = ("id",)
    parent_stream_type = RunsStream
    state_partitioning_keys: ClassVar[list[str]] = []
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("agent_id", th.IntegerType, required=True),
        th.Property("run_id", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("extension", th.StringType),
        th.Property("fileType", th.IntegerType),
        th.Property("file_type_name", th.StringType),
        th.Property("fileSize", th.IntegerType),
        th.Property("regionId", ENUM),
        th.Property("created", TIMESTAMP),
    ).to_dict()

    def get_records(self, context: Context | None) -> Iterable[dict]:
        assert context is not None
        agent_id, run_id = int(context["agent_id"]), int(context["run_id"])
        for item in self.client.list_files(agent_id, run_id):
            yield self.normalize(
                {
                    **item,
                    "agent_id": agent_id,
                    "run_id": run_id,
                    "extension": file_extension(item.get("name")),
                    "file_type_name": file_type_name(item.get("fileType")),
                }
            )


STREAM_TYPES = [AgentsStream, AgentVersionsStream, RunsStream, RunFilesStream]
