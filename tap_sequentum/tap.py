"""TapSequentum: settings, the stream list, and the entry point that turns errors into one line."""

from __future__ import annotations

import codecs
import os
import sys
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from singer_sdk import Stream
from singer_sdk import typing as th
from singer_sdk.exceptions import MappingError

from tap_sequentum import errors
from tap_sequentum.client import DEFAULT_BASE_URL, DEFAULT_USER_AGENT, SequentumClient
from tap_sequentum.contents.discovery import Sample, sample_agent
from tap_sequentum.contents.formats import ReadOptions
from tap_sequentum.contents.naming import stream_names
from tap_sequentum.contents.schema import columns_of
from tap_sequentum.contents.stream import ContentStream
from tap_sequentum.domain import parse_timestamp
from tap_sequentum.sdk import SeamTap
from tap_sequentum.streams import STREAM_TYPES
from tap_sequentum.trigger import run_triggers


class TapSequentum(SeamTap):
    """Singer tap for Sequentum Cloud: agents, versions, runs, run files, and the scraped data itself."""

    name = "tap-sequentum"

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType,
            required=True,
            secret=True,
            title="API key",
            description="Sequentum Cloud API key (Users > Manage API Keys). Sent only to base_url.",
        ),
        th.Property(
            "base_url",
            th.StringType,
            default=DEFAULT_BASE_URL,
            title="Base URL",
            description="Sequentum Cloud address, without /api/v1. Point it at the sandbox for demos.",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start date",
            description="Runs created before this instant are ignored (first sync only: state wins after).",
        ),
        th.Property(
            "agent_ids",
            th.ArrayType(th.IntegerType),
            title="Agent IDs",
            description="Only these agents. Lets one organisation be split over several parallel jobs.",
        ),
        th.Property(
            "request_timeout",
            th.IntegerType,
            default=60,
            title="Request timeout",
            description="Seconds to wait for each HTTP answer (per read, not per whole download).",
        ),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=5,
            title="Max retries",
            description="Retries of a GET after 429, 5xx, resets and timeouts (Retry-After honoured). "
            "POSTs are never retried.",
        ),
        th.Property(
            "runs_max_records",
            th.IntegerType,
            default=1000,
            title="Runs per agent",
            description="maxRecords for the runs list (1-1000). The API lists only the newest runs; sync "
            "at least once per this many runs of an agent.",
        ),
        th.Property(
            "agents_page_size",
            th.IntegerType,
            default=100,
            title="Agents page size",
            description="recordsPerPage when paging through agent/all.",
        ),
        th.Property(
            "content_streams",
            th.BooleanType,
            default=True,
            title="Content streams",
            description="One stream per agent with the rows of its delivered data files (CSV, TSV, "
            "JSON, JSON Lines, XLSX, Parquet).",
        ),
        th.Property(
            "infer_types",
            th.BooleanType,
            default=True,
            title="Infer types",
            description="Type content columns from the data (integer, number, boolean, date, date-time, "
            "else string), losslessly. Off: every column is a string.",
        ),
        th.Property(
            "csv_encoding",
            th.StringType,
            default="utf-8",
            title="CSV encoding",
            description="Text encoding of CSV/TSV/JSON files that are not UTF-8 (e.g. cp1252, latin-1). "
            "A UTF-8 byte order mark is always accepted.",
        ),
        th.Property(
            "discovery_sample_runs",
            th.IntegerType,
            default=3,
            title="Discovery sample runs",
            description="Newest finished runs with data files read per agent to infer a first schema.",
        ),
        th.Property(
            "discovery_sample_bytes",
            th.IntegerType,
            default=4 * 1024 * 1024,
            title="Discovery sample bytes",
            description="At most this many bytes read per file while discovering (a prefix of CSV, TSV "
            "and JSON Lines; JSON, XLSX and Parquet files larger than this are not sampled).",
        ),
        th.Property(
            "temp_dir",
            th.StringType,
            title="Temporary directory",
            description="Where run files are downloaded before parsing (default: the system's).",
        ),
        th.Property(
            "content_fast_path",
            th.BooleanType,
            default=True,
            title="Content fast path",
            description="Encode content records directly when no stream map applies to the stream. "
            "Off: every record goes through singer-sdk's per-record path (slower, same output).",
        ),
        th.Property(
            "trigger",
            th.ArrayType(
                th.ObjectType(
                    th.Property("agent_id", th.IntegerType, required=True),
                    th.Property("input_parameters", th.ObjectType(additional_properties=True)),
                    th.Property("timeout", th.NumberType),
                )
            ),
            title="Trigger",
            description="Agents to start before extracting: [{agent_id, input_parameters, timeout "
            "(seconds to wait, default 3600)}]. The sync waits for their runs, then extracts them.",
        ),
        th.Property(
            "trigger_fail_on_error",
            th.BooleanType,
            default=True,
            title="Fail on trigger errors",
            description="Stop the sync (exit 1, nothing extracted) when a triggered run fails or times out. "
            "Off: log a warning and extract anyway.",
        ),
        th.Property(
            "trigger_poll_interval",
            th.IntegerType,
            default=10,
            title="Trigger poll interval",
            description="Seconds between status checks of triggered runs.",
        ),
        th.Property(
            "user_agent",
            th.StringType,
            default=DEFAULT_USER_AGENT,
            title="User agent",
            description="User-Agent header sent with every request.",
        ),
    ).to_dict()

    @cached_property
    def client(self) -> SequentumClient:
        """One client per tap run, so every stream shares its answer cache and rate-limit pacing."""
        check_settings(self.config)
        return SequentumClient(
            api_key=self.config["api_key"],
            base_url=self.config.get("base_url") or DEFAULT_BASE_URL,
            timeout=float(self.config.get("request_timeout", 60)),
            max_retries=int(self.config.get("max_retries", 5)),
            user_agent=self.config.get("user_agent") or DEFAULT_USER_AGENT,
        )

    _discovering = False
    #: The signal that asked the sync to stop, if one did.
    stop_signal: int | None = None

    def on_termination(self, signum: int) -> None:
        """Ask the sync to stop at the next message boundary instead of exiting mid-write.

        singer-sdk's handler writes STATE from inside the signal handler, which can land in the middle
        of a RECORD line blocked on a slow target, and then exits 0. Here the sync stops between two
        whole messages, the last STATE written stays the checkpoint, and the exit code says it was
        interrupted. A second signal stops at once.
        """
        if self.stop_signal is not None:
            sys.stderr.write(f"tap-sequentum: stopped by a second signal {signum}\n")
            os._exit(128 + signum)
        self.stop_signal = signum
        self.logger.warning("Signal %s received: stopping after the current batch.", signum)

    def check_stop(self, detail: str = "") -> None:
        """Raise `SyncInterrupted` if a stop was asked for; called between whole messages."""
        if self.stop_signal is not None:
            raise errors.SyncInterrupted(self.stop_signal, detail)

    def sync_all(self) -> None:
        """Run the configured triggers first, so this same sync extracts what they produced."""
        triggers = self.config.get("trigger") or []
        if triggers:
            run_triggers(
                self.client,
                triggers,
                fail_on_error=bool(self.config.get("trigger_fail_on_error", True)),
                poll_interval=float(self.config.get("trigger_poll_interval", 10)),
                logger=self.logger,
                should_stop=self.check_stop,
            )
            self.client.clear_cache()  # run and file lists read before the trigger are stale now
        # With BATCH output the SDK offers STATE right after each BATCH message: write it then. With
        # records, STATE is paced by its size; whatever was not written yet goes out at the end.
        paced = not self.config.get("batch_config")
        self.paced_state.paced = paced
        completed = False
        try:
            super().sync_all()
            completed = True
        finally:
            if completed or paced:
                self.flush_state()

    def run_discovery(self) -> str:
        """Discovery proper samples data files for column types; a sync without a catalog does not."""
        self._discovering = True
        self.forget_streams()
        return super().run_discovery()

    def discover_streams(self) -> list[Stream]:
        streams: list[Stream] = [stream_type(tap=self) for stream_type in STREAM_TYPES]
        if self.config.get("content_streams", True):
            streams += self._content_streams({stream.name for stream in streams})
        return streams

    def _content_streams(self, reserved: set[str]) -> list[Stream]:
        """Content streams from the given catalog (no downloads) or from a sample of each agent."""
        names = self._content_names(reserved)
        if self.input_catalog is not None:
            by_name = {name: agent_id for agent_id, name in names.items()}
            streams: list[Stream] = []
            for entry in self.input_catalog.streams:
                if entry.tap_stream_id in reserved:
                    continue
                agent_id = by_name.get(entry.tap_stream_id)
                if agent_id is not None and not self._wanted(agent_id):
                    continue  # another shard's agent (agent_ids)
                if agent_id is None:
                    if entry.metadata.resolve_selection()[()]:
                        raise errors.ConfigurationError(
                            f"Catalog stream '{entry.tap_stream_id}' is selected but matches no agent this "
                            "key can see (renamed or deleted?): refresh the catalog (run --discover "
                            "again, or meltano's --refresh-catalog) or deselect it."
                        )
                    continue
                columns = columns_of(entry.schema.to_dict())
                streams.append(
                    ContentStream(self, name=entry.tap_stream_id, agent_id=agent_id, columns=columns)
                )
            return streams
        return [
            ContentStream(self, name=name, agent_id=agent_id, columns=sample.columns)
            for agent_id, name in names.items()
            if self._wanted(agent_id) and (sample := self._sample(agent_id)) is not None
        ]

    def _content_names(self, reserved: set[str]) -> dict[int, str]:
        """Stream names over every visible agent, so a name does not depend on the agent_ids shard."""
        agents = [
            (int(agent["id"]), agent.get("name"))
            for agent in self.client.list_agents(page_size=self.config.get("agents_page_size", 100))
        ]
        return stream_names(agents, reserved)

    def _wanted(self, agent_id: int) -> bool:
        wanted = self.config.get("agent_ids") or []
        return not wanted or agent_id in {int(a) for a in wanted}

    def _sample(self, agent_id: int) -> Sample | None:
        sample = sample_agent(
            self.client,
            agent_id,
            runs_max_records=int(self.config.get("runs_max_records", 1000)),
            sample_runs=int(self.config.get("discovery_sample_runs", 3)),
            sample_bytes=int(self.config.get("discovery_sample_bytes", 4 * 1024 * 1024)),
            options=ReadOptions(encoding=self.config.get("csv_encoding") or "utf-8"),
            infer_types=bool(self.config.get("infer_types", True)),
            temp_dir=self.config.get("temp_dir") or None,
            read=self._discovering,
        )
        if sample is None:
            self.logger.info("Agent %s has no data files in its newest runs: no content stream.", agent_id)
        return sample


def check_settings(config: Mapping[str, Any]) -> None:
    """Settings the JSON schema cannot check, as one actionable line each (before any request)."""
    problems = []
    if not isinstance(config.get("api_key"), str) or not config["api_key"].strip():
        raise errors.ConfigurationError(errors.MISSING_API_KEY)
    runs_max = int(config.get("runs_max_records", 1000))
    if not 1 <= runs_max <= 1000:
        problems.append(f"runs_max_records must be between 1 and 1000, not {runs_max}")
    for name in ("agents_page_size", "discovery_sample_runs", "discovery_sample_bytes"):
        if name in config and int(config[name]) < 1:
            problems.append(f"{name} must be at least 1, not {config[name]}")
    if float(config.get("trigger_poll_interval", 10)) <= 0:
        problems.append("trigger_poll_interval must be a positive number of seconds")
    if config.get("start_date") and parse_timestamp(config["start_date"]) is None:
        problems.append(f"start_date must be an ISO 8601 date or date-time, not {config['start_date']!r}")
    try:
        codecs.lookup(config.get("csv_encoding") or "utf-8")
    except LookupError:
        problems.append(f"csv_encoding {config.get('csv_encoding')!r} is not a known text encoding")
    temp_dir = config.get("temp_dir")
    if temp_dir and not os.path.isdir(temp_dir):
        problems.append(f"temp_dir {temp_dir!r} is not an existing directory")
    if problems:
        raise errors.ConfigurationError("Invalid settings: " + "; ".join(problems) + ".")


def main() -> None:
    """Console entry point: the SDK's CLI, with our errors shown as one actionable line."""
    try:
        TapSequentum.cli()
    except errors.SequentumError as exc:
        sys.stderr.write(f"tap-sequentum: error: {exc}\n")
        sys.exit(exc.exit_code)
    except MappingError as exc:
        sys.stderr.write(f"tap-sequentum: error: stream_maps: {exc}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
