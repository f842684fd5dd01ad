"""The tap's settings: their schema, how values typed slightly off are read, and the checks a JSON schema
cannot express, each failing with one line that names the setting (before any request)."""

from __future__ import annotations

import codecs
import os
from collections.abc import Mapping
from typing import Any

from singer_sdk import typing as th

from tap_sequentum import errors
from tap_sequentum.client import DEFAULT_BASE_URL, DEFAULT_USER_AGENT
from tap_sequentum.contents.dialect import AUTO
from tap_sequentum.contents.stream import SKIP, STOP
from tap_sequentum.domain import parse_timestamp

SETTINGS_SCHEMA: dict = th.PropertiesList(
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


def delimiter(value: Any) -> str:
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


# issue 18: being split
def check_settings(config: Mapping[str, Any]) -> None:  # noqa: C901
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
    separator = delimiter(config.get("csv_delimiter"))
    if separator != AUTO and (len(separator) != 1 or separator in '"\r\n'):
        problems.append(f"csv_delimiter must be auto or one character, not {config.get('csv_delimiter')!r}")
    if (config.get("on_bad_file") or SKIP) not in (SKIP, STOP):
        problems.append(f"on_bad_file must be skip or stop, not {config.get('on_bad_file')!r}")
    temp_dir = config.get("temp_dir")
    if temp_dir and not os.path.isdir(temp_dir):
        problems.append(f"temp_dir {temp_dir!r} is not an existing directory")
    if problems:
        raise errors.ConfigurationError("Invalid settings: " + "; ".join(problems) + ".")


def normalize_settings(config: dict[str, Any]) -> None:
    """Read, in place, what a user typed slightly off the schema the way they meant it.

    A bare number or comma-separated text in `agent_ids` is a list of agent ids (environment variables
    and Meltano's UI give text); numbers and booleans given as text are numbers and booleans. Text that
    is no number where a number belongs is one line naming the setting.
    """
    if "agent_ids" in config and config["agent_ids"] is not None:
        config["agent_ids"] = agent_id_list(config["agent_ids"])
    properties = SETTINGS_SCHEMA["properties"]
    for name, value in list(config.items()):
        if not isinstance(value, str) or name not in properties:
            continue
        types = properties[name].get("type") or []
        types = [types] if isinstance(types, str) else types
        text = value.strip()
        if "integer" in types:
            if not text.lstrip("-").isdigit():
                raise errors.ConfigurationError(f"{name} must be a whole number, not {value!r}.")
            config[name] = int(text)
        elif "number" in types:
            try:
                number = float(text)
            except ValueError:
                raise errors.ConfigurationError(f"{name} must be a number, not {value!r}.") from None
            if number != number or number in (float("inf"), float("-inf")):
                raise errors.ConfigurationError(f"{name} must be a finite number, not {value!r}.")
            config[name] = number
        elif "boolean" in types and text.lower() in ("true", "false", "1", "0", "yes", "no"):
            config[name] = text.lower() in ("true", "1", "yes")
