"""TapSequentum: settings, the stream list, and the entry point that turns errors into one line."""

from __future__ import annotations

import codecs
import datetime as dt
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
from tap_sequentum.contents.dialect import AUTO, ReadOptions
from tap_sequentum.contents.discovery import Sample, SampleSettings, discover_agent
from tap_sequentum.contents.infer import Kind, widen
from tap_sequentum.contents.naming import Router
from tap_sequentum.contents.schema import columns_of
from tap_sequentum.contents.stream import SKIP, STOP, ContentSettings, ContentStream, FileProblem
from tap_sequentum.domain import format_timestamp, parse_timestamp
from tap_sequentum.sdk import SeamTap
from tap_sequentum.streams import STREAM_TYPES, FileErrorsStream
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
            default="auto",
            title="Text encoding",
            description="Encoding of CSV/TSV/JSON/JSON Lines files. auto (default): a byte order mark "
            "decides (UTF-8, UTF-16), else valid UTF-8 is UTF-8, else it is detected (Windows-1252 "
            "preferred among Latin code pages); the encoding used is logged. A codec name (cp1252, "
            "latin-1, utf-16) forces it. XML files name their own encoding.",
        ),
        th.Property(
            "csv_delimiter",
            th.StringType,
            default="auto",
            title="CSV delimiter",
            description="Delimiter of .csv files. auto (default): sniffed per file among , ; tab | "
            "(outside quotes). One character (or tab, semicolon, comma, pipe) forces it. TSV files "
            "always use tab.",
        ),
        th.Property(
            "export_table_names",
            th.ObjectType(additional_properties=th.StringType),
            title="Export table names",
            description="File-name patterns (* and ?, any case) -> export table, for names the rule "
            'gets wrong, e.g. {"*_reviews_*.csv": "reviews"}. The rule: the file name\'s stem with '
            "trailing run decoration (numbers, dates, date-times, UUIDs) removed.",
        ),
        th.Property(
            "merge_export_tables",
            th.BooleanType,
            default=False,
            title="Merge export tables across agents",
            description="One stream per export table across agents (Sequentum's Export Name "
            "convention: agents that export to the same table use the same name), named after the "
            "table; _sdc_agent_id tells the agents' rows apart. Off: one stream per agent and table.",
        ),
        th.Property(
            "on_bad_file",
            th.StringType,
            default="skip",
            allowed_values=["skip", "stop"],
            title="On a bad file",
            description="What a content stream does with a file it cannot read: skip (default: it is "
            "recorded in file_errors and the stream goes on) or stop (the stream stops at that file, "
            "its state stays before it, every other stream syncs, and the tap exits 1 at the end). A "
            "file that is gone (404) is always skipped.",
        ),
        th.Property(
            "emit_unchanged_agents",
            th.BooleanType,
            default=False,
            title="Emit unchanged agents",
            description="Emit every agent (and read its detail) on every sync. Off (default): only "
            "agents whose list entry changed since the last sync, which saves two requests per "
            "unchanged agent.",
        ),
        th.Property(
            "discovery_sample_runs",
            th.IntegerType,
            default=1,
            title="Discovery sample runs",
            description="Newest finished runs with data files whose export tables discovery reads per "
            "agent (one file list and one ranged download per table each). Raise it when an agent's "
            "older runs hold tables its newest run does not.",
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
        self._assign_reporters()
        completed = False
        try:
            super().sync_all()
            completed = True
        finally:
            if completed or paced:
                self.flush_state()
        stopped = self.content_settings.stopped
        if stopped:
            raise errors.ContentError(
                f"{len(stopped)} stream(s) stopped at a file they could not read, after every other stream "
                f"synced: {'; '.join(stopped)}. Their state stays before that file, so the next sync starts "
                "there (see the file_errors stream; on_bad_file: skip would skip such files)."
            )

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

    # -- the organisation ---------------------------------------------------------------------------

    @cached_property
    def organisation(self) -> list[dict]:
        """Every agent this key can see, listed once per run (names never depend on the shard)."""
        return list(self.client.list_agents(page_size=self.config.get("agents_page_size", 100)))

    def agent_summaries(self) -> list[dict]:
        """The agents this run syncs: all of them, or those of `agent_ids`, in that order."""
        wanted = agent_id_list(self.config.get("agent_ids"))
        if not wanted:
            return self.organisation
        by_id = {int(agent["id"]): agent for agent in self.organisation}
        missing = [agent_id for agent_id in wanted if agent_id not in by_id]
        if missing:
            raise errors.NotFoundError(
                f"Agent {missing[0]} from agent_ids does not exist or this API key cannot see it: fix "
                "agent_ids / TAP_SEQUENTUM_AGENT_IDS."
            )
        return [by_id[agent_id] for agent_id in wanted]

    @cached_property
    def router(self) -> Router:
        return Router(
            {int(agent["id"]): agent.get("name") for agent in self.organisation},
            frozenset(stream_type.name for stream_type in STREAM_TYPES),
            merge=bool(self.config.get("merge_export_tables", False)),
            mapping=dict(self.config.get("export_table_names") or {}),
        )

    # -- content streams ----------------------------------------------------------------------------

    @cached_property
    def content_settings(self) -> ContentSettings:
        config = self.config
        return ContentSettings(
            router=self.router,
            options=ReadOptions(
                encoding=config.get("csv_encoding") or AUTO, delimiter=_delimiter(config.get("csv_delimiter"))
            ),
            on_bad_file=config.get("on_bad_file") or SKIP,
            infer_types=bool(config.get("infer_types", True)),
            fast_path=bool(config.get("content_fast_path", True)),
            temp_dir=config.get("temp_dir") or None,
            report=self._report_file_problem,
        )

    def _content_streams(self, reserved: set[str]) -> list[Stream]:
        """Content streams from the given catalog (no downloads) or from a sample of each agent."""
        settings = self.content_settings
        wanted = {int(agent["id"]) for agent in self.agent_summaries()}
        streams: list[ContentStream] = []
        if self.input_catalog is not None:
            for entry in self.input_catalog.streams:
                if entry.tap_stream_id in reserved:
                    continue
                owners = self.router.agents_of(entry.tap_stream_id)
                if not owners and entry.metadata.resolve_selection()[()]:
                    raise errors.ConfigurationError(
                        f"Catalog stream '{entry.tap_stream_id}' is selected but matches no agent this "
                        "key can see (renamed or deleted?): refresh the catalog (run --discover "
                        "again, or meltano's --refresh-catalog) or deselect it."
                    )
                agents = [agent_id for agent_id in owners if agent_id in wanted]
                if agents:  # else: another shard's agent (agent_ids)
                    columns = columns_of(entry.schema.to_dict())
                    streams.append(self._content_stream(entry.tap_stream_id, agents, columns))
        else:
            found: dict[str, tuple[list[int], Sample]] = {}
            for agent_id in sorted(wanted):
                for name, sample in self._discover_agent(agent_id).items():
                    agents, merged = found.setdefault(name, ([], Sample()))
                    agents.append(agent_id)
                    for column, kind in sample.columns.items():
                        merged.columns[column] = widen(merged.columns.get(column, Kind.NULL), kind)
            streams = [
                self._content_stream(name, agents, sample.columns) for name, (agents, sample) in found.items()
            ]
        settings.stream_names = {stream.name for stream in streams}
        return list(streams)

    def _content_stream(self, name: str, agents: list[int], columns: dict[str, Kind]) -> ContentStream:
        return ContentStream(
            self, name=name, agent_ids=agents, columns=columns, settings=self.content_settings
        )

    def _discover_agent(self, agent_id: int) -> dict[str, Sample]:
        config = self.config
        settings = SampleSettings(
            runs_max_records=int(config.get("runs_max_records", 1000)),
            sample_runs=int(config.get("discovery_sample_runs", 1)),
            sample_bytes=int(config.get("discovery_sample_bytes", 4 * 1024 * 1024)),
            options=self.content_settings.options,
            infer_types=bool(config.get("infer_types", True)),
            temp_dir=config.get("temp_dir") or None,
        )
        samples = discover_agent(self.client, agent_id, self.router, settings, read=self._discovering)
        if not samples:
            self.logger.info("Agent %s has no data files in its newest runs: no content stream.", agent_id)
        return samples

    def _assign_reporters(self) -> None:
        """Per agent, the one selected content stream that reports the files no stream takes."""
        reporters: dict[int, str] = {}
        for stream in sorted(self.streams.values(), key=lambda s: s.name):
            if isinstance(stream, ContentStream) and stream.selected:
                for agent_id in stream.agent_ids:
                    reporters.setdefault(agent_id, stream.name)
        self.content_settings.reporters = reporters

    def _report_file_problem(self, problem: FileProblem) -> None:
        """One line on stderr, and a `file_errors` row, the moment a file is not extracted."""
        item = problem.item
        where = f" for stream {problem.stream}" if problem.stream else ""
        self.logger.warning("%s %s%s: %s.", _ACTIONS[problem.action], item.describe(), where, problem.reason)
        stream = self.streams.get(FileErrorsStream.name)
        if isinstance(stream, FileErrorsStream):
            stream.report(
                {
                    "file_id": item.file_id,
                    "stream": problem.stream,
                    "agent_id": item.agent_id,
                    "run_id": item.run_id,
                    "file_name": item.name,
                    "action": problem.action,
                    "reason": problem.reason,
                    "detected_at": format_timestamp(dt.datetime.now(dt.UTC)),
                }
            )


_ACTIONS = {
    "skipped": "Skipped",
    "stopped": "Stopped at",
    "no_stream": "No stream takes",
    "unsupported": "Not extracted:",
}


def _delimiter(value: Any) -> str:
    """The csv_delimiter setting: "auto", one character, or a name (tab, semicolon, comma, pipe)."""
    names = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}
    text = str(value) if value not in (None, "") else AUTO
    return names.get(text.lower(), text)


def agent_id_list(value: Any) -> list[int]:
    """The agent_ids setting as a list of ids: a list, one number, or text like "1001, 1002"."""
    if value is None or value == "" or value == []:
        return []
    items = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
    ids: list[int] = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        if isinstance(item, bool) or not text.lstrip("-").isdigit():
            raise errors.ConfigurationError(
                f"agent_ids must be agent ids (numbers), e.g. [1001, 1002] or 1001,1002; not {value!r}."
            )
        ids.append(int(text))
    return list(dict.fromkeys(ids))


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
    encoding = config.get("csv_encoding") or AUTO
    try:
        if encoding != AUTO:
            codecs.lookup(encoding)
    except LookupError:
        problems.append(f"csv_encoding {encoding!r} is not a known text encoding (or auto)")
    delimiter = _delimiter(config.get("csv_delimiter"))
    if delimiter != AUTO and (len(delimiter) != 1 or delimiter in '"\r\n'):
        problems.append(f"csv_delimiter must be auto or one character, not {config.get('csv_delimiter')!r}")
    if (config.get("on_bad_file") or SKIP) not in (SKIP, STOP):
        problems.append(f"on_bad_file must be skip or stop, not {config.get('on_bad_file')!r}")
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
