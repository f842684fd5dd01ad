"""Metadata streams: agents, agent_versions, runs, run_files; and what every stream shares (the base stream,
one partition per agent, a scope a key may lack).

Streams are declarations over `SequentumClient`; the HTTP quirks live in the client, the run bookkeeping
in `incremental.py`, the enumerations in `domain.py`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar, Protocol, cast

from singer_sdk import typing as th

from tap_sequentum import errors
from tap_sequentum.domain import (
    file_extension,
    file_type_name,
    free_form,
    is_finished,
    list_hint,
    normalize_timestamp,
    status_name,
)
from tap_sequentum.incremental import WATCHED, Listing, RunPlan, check_due, plan_runs, why_list
from tap_sequentum.listings import by_key, newest_first
from tap_sequentum.sdk import SeamStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

    from tap_sequentum.client import SequentumClient
    from tap_sequentum.settings import Settings

# Shared schema fragments.
ENUM = th.CustomType({"type": ["integer", "string", "null"]})  # ints live, strings in older clients
JSON_OBJECT = th.CustomType({"type": ["object", "string", "null"]})  # an object, or its JSON text
JSON_ANY = th.CustomType({"type": ["array", "object", "string", "null"]})
#: What a run did, as Sequentum counts it.
RUN_COUNTERS = (
    "actionCount",
    "pageCount",
    "dynamicPageCount",
    "requestCount",
    "dataCount",
    "inputCount",
    "errorCount",
    "exportCount",
    "traffic",
)
TIMESTAMP = th.DateTimeType


def properties(
    kind: type[th.JSONTypeHelper] | th.JSONTypeHelper, *names: str, required: bool = False
) -> list[th.Property]:
    """Properties of one type, in this order; optional unless `required`."""
    return [th.Property(name, kind, required=required) for name in names]


def coded(code: str, name: str) -> list[th.Property]:
    """A code Sequentum sends as a number and its name as the tap decodes it (`domain.py`)."""
    return [th.Property(code, th.IntegerType), th.Property(name, th.StringType)]


#: How a run is split into parallel sessions: a run's own, and a schedule's for the runs it starts.
PARALLELISM = (
    *properties(th.IntegerType, "parallelism", "parallelMaxConcurrency"),
    th.Property("parallelExport", th.StringType),
)


class TapServices(Protocol):
    """What streams need from the tap: its one client (shared cache and pacing), its settings, the
    organisation's agents (listed once per sync) and what that list says of each one's runs, and the stop
    check."""

    client: SequentumClient
    settings: Settings
    stop_signal: int | None

    def check_stop(self, detail: str = "") -> None: ...

    def agent_summaries(self) -> list[dict]: ...

    def files_listed(self, agent_id: int, run_id: int, files: list[dict]) -> None: ...
    def list_hint(self, agent_id: int) -> str | None: ...


class SequentumStream(SeamStream):
    """Base stream: access to the tap's one client, run planning, timestamp and free-form JSON
    normalisation."""

    #: Fields holding API timestamps: normalised to RFC 3339 UTC, the .NET sentinel to null.
    timestamp_fields: ClassVar[tuple[str, ...]] = ("created",)
    #: Free-form JSON fields: a JSON object sent as its text is emitted as the object (`domain.free_form`);
    #: with Parquet batches every one goes as its JSON text (the schema allows both).
    free_form_fields: ClassVar[tuple[str, ...]] = ()
    #: Keys of this stream's per-agent state that hold work in progress: while one holds anything, the
    #: agent's runs list is read on every sync (`incremental.why_list`).
    pending_keys: ClassVar[tuple[str, ...]] = (WATCHED,)

    @property
    def services(self) -> TapServices:
        return cast("TapServices", self.tap)

    @property
    def client(self) -> SequentumClient:
        return self.services.client

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Stop cleanly between records when the tap was asked to (SIGINT/SIGTERM); free-form fields in one
        form."""
        self.services.check_stop()
        for name in self.free_form_fields:
            if name in row:
                row[name] = free_form(row[name], as_text=self._parquet_batches)
        return row

    @cached_property
    def _parquet_batches(self) -> bool:
        batch = self.services.settings.batch_config or {}
        return str((batch.get("encoding") or {}).get("format", "")).lower() == "parquet"

    def normalize(self, record: dict) -> dict:
        for name in self.timestamp_fields:
            if name in record:
                record[name] = normalize_timestamp(record[name])
        return record

    def activity(self, agent_id: int) -> str:
        """What tells whether an agent ran or changed: the agent list's hint (`domain.list_hint`), or where
        the list gives none (or the tap just triggered the agent), its newest run in its runs list: the one
        answer a sync shares, which the run streams read anyway for such an agent."""
        hint = self.services.list_hint(agent_id)
        if hint is not None:
            return hint
        runs = self.client.list_runs(agent_id, self.services.settings.runs_max_records)
        fields = ("id", "status", "tableType", "endTime")
        return ";".join("|".join(str(run.get(name)) for name in fields) for run in newest_first(runs)[:1])

    def runs_listing(self, agent_id: int, state: dict) -> Listing | None:
        """An agent's runs list (one answer shared by every stream of the sync), or None when the agent list
        says nothing changed since this stream last read it and nothing is pending (`why_list`)."""
        settings = self.services.settings
        # The agent list was read before any runs list of this sync: a hint kept with runs newer than it
        # can only cause one listing too many, never a skipped run.
        hint = self.services.list_hint(agent_id)
        now = dt.datetime.now(dt.UTC)
        every = settings.full_check
        reason = why_list(hint, state, now=now, every=every, pending=self.pending_keys, key=agent_id)
        if reason is None:
            return None
        self.logger.debug("Agent %s: runs listed for stream %s: %s.", agent_id, self.name, reason)
        runs = self.client.list_runs(agent_id, settings.runs_max_records)
        return Listing(runs, hint, now, due=check_due(state, now=now, every=every, key=agent_id))

    def plan_runs(self, agent_id: int, state: dict) -> RunPlan | None:
        """List an agent's runs and plan them; None when its runs list is not read this sync."""
        listing = self.runs_listing(agent_id, state)
        if listing is None:
            return None
        settings = self.services.settings
        max_records = settings.runs_max_records
        runs = listing.runs
        try:
            plan = plan_runs(
                runs,
                state,
                start_date=settings.start_date,
                max_records=max_records,
                lateness=settings.lateness,
            )
        except (TypeError, ValueError, AttributeError) as exc:  # a state this tap did not write
            raise errors.ConfigurationError(
                f"The state of stream {self.name} for agent {agent_id} is not what tap-sequentum writes "
                f"({type(exc).__name__}: {exc}): give the state a sync wrote, or sync without it "
                "(meltano: --full-refresh)."
            ) from None
        if plan.gap:
            self.logger.warning(
                "Agent %s: all %d listed runs are newer than the bookmark %s of stream %s, so older "
                "runs may have been missed (the API lists only the newest runs_max_records runs). Sync "
                "more often.",
                agent_id,
                len(runs),
                state.get("replication_key_value"),
                self.name,
            )
        if plan.late:
            self.logger.info(
                "Agent %s: runs %s became visible after the bookmark passed them; stream %s takes them now.",
                agent_id,
                ", ".join(map(str, plan.late)),
                self.name,
            )
        if plan.skipped_no_date:
            self.logger.warning(
                "Agent %s: %d runs without a created date skipped.", agent_id, plan.skipped_no_date
            )
        plan.listing = listing
        return plan


class PerAgentStream(SequentumStream):
    """A stream with one partition per agent of the organisation, named `agent_key` in the context (not a
    child of `agents`, which emits only the agents that changed)."""

    agent_key: ClassVar[str] = "agent_id"

    @property
    def partitions(self) -> list[dict]:
        return [{self.agent_key: int(agent["id"])} for agent in self.services.agent_summaries()]

    def agent_of(self, context: Context | None) -> int:
        """The agent of a partition."""
        return int(context[self.agent_key]) if context else 0


class ScopedStream(SequentumStream):
    """A stream over an endpoint that not every key may read: a 403 skips this stream with one warning,
    and every other stream syncs."""

    #: The scope the endpoint needs, named in the warning when Sequentum's answer does not name one.
    required_scope: ClassVar[str | None] = None
    _denied = False

    def get_records(self, context: Context | None) -> Iterable[dict]:
        if self._denied:
            return
        try:
            yield from self.scoped_records(context)
        except errors.PermissionDeniedError as exc:
            self._denied = True
            scope = exc.scope or self.required_scope
            answer = " ".join(filter(None, ["HTTP 403", exc.error_code]))
            answer += f": {exc.detail}" if exc.detail else ""
            self.logger.warning(
                "Stream %s skipped: the API key lacks %s (%s); the other streams sync. Grant it to the key "
                "in Sequentum, or deselect the stream.",
                self.name,
                f"the {scope} scope" if scope else "permission",
                answer,
            )

    def scoped_records(self, context: Context | None) -> Iterator[dict]:
        raise NotImplementedError


class AgentsStream(SequentumStream):
    """Every agent whose list entry changed since the last sync, merged with its detail.

    The agent list is the change signal: an agent is emitted (and its detail fetched) when its list
    entry differs from the one kept in state, or when its newest run changed and the list carries no
    `lastActivity` to say so. Unchanged agents cost nothing (`emit_unchanged_agents` re-emits them all).
    Incremental on `updated`, so targets keep the unchanged rows.
    """

    name = "agents"
    primary_keys = ("id",)
    replication_key = "updated"
    is_sorted = False
    timestamp_fields = ("created", "updated", "lastActivity")
    free_form_fields = ("inputParameters", "agentTemplates")
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        *properties(th.StringType, "name", "description", "documentation", "icon", "image"),
        *properties(ENUM, "configType", "validationStatus", "status"),
        th.Property("isActive", th.BooleanType),
        *properties(th.IntegerType, "version", "userId", "spaceId", "proxyPoolId"),
        th.Property("startUrl", th.StringType),
        th.Property("inputParameters", JSON_OBJECT),
        th.Property("agentTemplates", JSON_ANY),
        *properties(TIMESTAMP, "lastActivity", "created", "updated"),
    ).to_dict()

    def record_written(self, record: Record, context: Context | None) -> None:
        """No SDK bookmark: `get_records` keeps what it saw of each agent once the agent is out."""

    def get_records(self, context: Context | None) -> Iterable[dict]:
        state = self.stream_state
        known: dict[str, list] = state.get("agents") or {}
        everything = self.services.settings.emit_unchanged_agents
        seen: dict[str, list] = {}
        for summary in self.services.agent_summaries():
            agent_id = int(summary["id"])
            signature = [self._signature(summary), summary.get("version")]
            before = known.get(str(agent_id))
            if before == signature and not everything:
                seen[str(agent_id)] = before
                continue
            record = self.normalize(merge_agent(summary, self.client.get_agent(agent_id)))
            self._versions_changed = before is None or before[1] != summary.get("version") or everything
            yield record
            seen[str(agent_id)] = signature  # once the agent (and its versions) are out
            if record.get("updated") and str(record["updated"]) > str(
                state.get("replication_key_value") or ""
            ):
                state["replication_key"] = self.replication_key
                state["replication_key_value"] = record["updated"]
        state["agents"] = seen

    def _signature(self, summary: dict) -> str:
        """A short hash of what the list says about an agent, plus its newest run when the list is silent."""
        basis = {k: v for k, v in summary.items() if not (isinstance(v, str) and v.startswith("0001-01-01"))}
        if list_hint(summary) is None:
            # No hint in the list (the reference page's shape): the runs list, read anyway, tells.
            basis["_newest_run"] = self.activity(int(summary["id"]))
        text = json.dumps(basis, sort_keys=True, default=str)
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]

    def generate_child_contexts(self, record: Record, context: Context | None) -> Iterable[dict | None]:
        """Versions are read again only when the agent's version changed."""
        if getattr(self, "_versions_changed", True):
            yield {"agent_id": record["id"]}


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
        *properties(th.IntegerType, "agent_id", "version", required=True),
        *properties(th.StringType, "userName", "comments"),
        th.Property("fileSize", th.IntegerType),
        th.Property("created", TIMESTAMP),
    ).to_dict()

    def get_records(self, context: Context | None) -> Iterable[dict]:
        agent_id = context["agent_id"] if context else None
        for version in by_key(self.client.list_versions(agent_id), "version", reverse=True):
            yield self.normalize({**version, "agent_id": agent_id})


class RunsStream(PerAgentStream):
    """Runs per agent, incremental on `created`: new runs once, active runs until they finish, a Failure
    that Sequentum may restart again whenever it changes (`incremental.py` decides)."""

    name = "runs"
    primary_keys = ("id",)
    replication_key = "created"
    is_sorted = False
    state_partitioning_keys: ClassVar[list[str]] = ["agent_id"]
    timestamp_fields = ("created", "startTime", "endTime")
    schema = th.PropertiesList(
        *properties(th.IntegerType, "id", "agent_id", required=True),
        th.Property("configId", th.IntegerType),
        th.Property("configName", th.StringType),
        *coded("status", "status_name"),
        th.Property("is_finished", th.BooleanType),
        *properties(th.StringType, "tableType", "message"),
        *properties(th.IntegerType, "spaceId", "organizationId"),
        th.Property("organizationName", th.StringType),
        th.Property("sequence", th.IntegerType),
        *PARALLELISM,
        *properties(th.IntegerType, "parallelSet", "configVersion", *RUN_COUNTERS),
        th.Property("runTimeSec", th.NumberType),
        th.Property("serverName", th.StringType),
        *properties(TIMESTAMP, "startTime", "endTime"),
        th.Property("created", TIMESTAMP, required=True),
    ).to_dict()

    def record_written(self, record: Record, context: Context | None) -> None:
        """No per-record bookmarking: `get_records` keeps each handled run once it is out."""

    def get_records(self, context: Context | None) -> Iterable[dict]:
        agent_id = self.agent_of(context)
        state = self.get_context_state(context)
        plan = self.plan_runs(agent_id, state)
        if plan is None:
            return
        for run in plan.handle:
            yield self.normalize(
                {
                    **run,
                    "agent_id": agent_id,
                    "status_name": status_name(run.get("status")),
                    "is_finished": is_finished(run.get("status")),
                }
            )
            plan.mark_handled(state, run)  # the run and its files are out
        plan.save(state, self.replication_key)

    def get_child_context(self, record: Record, context: Context | None) -> dict:
        return {"agent_id": record["agent_id"], "run_id": record["id"]}


class RunFilesStream(SequentumStream):
    """Files of each emitted run: delivered data, logs and internal files, with their type names.

    It lists every handled run's files anyway, so the tap looks there for the data files of agents no content
    stream of the catalog reads (`files_listed`): a new agent's files are reported, not silently left.
    """

    name = "run_files"
    primary_keys = ("id",)
    parent_stream_type = RunsStream
    state_partitioning_keys: ClassVar[list[str]] = []
    schema = th.PropertiesList(
        *properties(th.IntegerType, "id", "agent_id", "run_id", required=True),
        *properties(th.StringType, "name", "extension"),
        *coded("fileType", "file_type_name"),
        th.Property("fileSize", th.IntegerType),
        th.Property("regionId", ENUM),
        th.Property("created", TIMESTAMP),
    ).to_dict()

    def get_records(self, context: Context | None) -> Iterable[dict]:
        assert context is not None
        agent_id, run_id = int(context["agent_id"]), int(context["run_id"])
        items = by_key(self.client.list_files(agent_id, run_id, gone_ok=True))
        self.services.files_listed(agent_id, run_id, items)
        for item in items:
            yield self.normalize(
                {
                    **item,
                    "agent_id": agent_id,
                    "run_id": run_id,
                    "extension": file_extension(item.get("name")),
                    "file_type_name": file_type_name(item.get("fileType")),
                }
            )


class FileErrorsStream(SequentumStream):
    """Delivered files that were not extracted, and why: unreadable, gone, or without a stream.

    Content streams report here the moment they skip (or stop at) a file, so nothing is lost silently:
    the row says which file, of which run and agent, for which stream, what was wrong and what was done
    (`skipped`, `stopped`, `no_stream`, `unsupported`). A stopped file is reported on every sync until it
    reads; the key (`file_id`, `stream`) keeps one row per file and stream.
    """

    name = "file_errors"
    primary_keys = ("file_id", "stream")
    replication_key = "detected_at"
    is_sorted = False
    schema = th.PropertiesList(
        th.Property("file_id", th.IntegerType, required=True),
        th.Property("stream", th.StringType, required=True),
        *properties(th.IntegerType, "agent_id", "run_id"),
        *properties(th.StringType, "file_name", "action", "reason"),
        th.Property("detected_at", TIMESTAMP, required=True),
    ).to_dict()

    def get_records(self, context: Context | None) -> Iterable[dict]:
        return ()  # records are reported by content streams as they happen (`report`)

    def record_written(self, record: Record, context: Context | None) -> None:
        """The bookmark is kept by `report`."""

    def report(self, record: dict) -> None:
        """Write one file error now (after this stream's SCHEMA), if the stream is selected."""
        if not self.selected:
            return
        self.emit_record(record)
        state = self.stream_state
        if str(record["detected_at"]) > str(state.get("replication_key_value") or ""):
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = record["detected_at"]


STREAM_TYPES = [AgentsStream, AgentVersionsStream, RunsStream, RunFilesStream, FileErrorsStream]
