"""The tap's settings: their schema, how values typed slightly off are read, and `Settings`, the one typed
object the tap, its streams and the `sequentum` command read them from, built and checked once (the checks a
JSON schema cannot express fail with one line that names the setting, before any request)."""

from __future__ import annotations

import codecs
import datetime as dt
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import singer_sdk.configuration
from singer_sdk import Tap
from singer_sdk import typing as th

from tap_sequentum import errors
from tap_sequentum.client import DEFAULT_BASE_URL, DEFAULT_USER_AGENT
from tap_sequentum.domain import parse_timestamp
from tap_sequentum.incremental import Lateness

#: `on_bad_file`: a file that cannot be read is recorded and skipped, or stops its stream there.
SKIP, STOP = "skip", "stop"
#: `csv_encoding` and `csv_delimiter`: decided per file.
AUTO = "auto"

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
        "runs_full_check_hours",
        th.IntegerType,
        default=24,
        title="Full check of runs every (hours)",
        description="Every agent's runs list and schedules are read at least this often, each agent at "
        "its own time of the period (so not all agents in one sync). In between, an agent whose "
        "entry in the agent list (lastActivity, status, version, updated) is unchanged since its runs "
        "were last read, and that has no run still running or waiting to retry, costs no request. An "
        "agent list without lastActivity never skips a runs list. 0: read every runs list on every sync.",
    ),
    th.Property(
        "late_runs_window_minutes",
        th.IntegerType,
        default=60,
        title="Late runs window (minutes)",
        description="A run that becomes visible after newer runs were synced (Sequentum's servers stamp "
        "runs with their own clocks) is still taken when it was created at most this long before the "
        "newest listed run; an older one never seen counts as synced. The state keeps the ids of the "
        "runs within this window only, at most 50 per agent and stream.",
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
        default=AUTO,
        title="Text encoding",
        description="Encoding of CSV/TSV/JSON/JSON Lines files. auto (default): a byte order mark "
        "decides (UTF-8, UTF-16), else valid UTF-8 is UTF-8, else it is detected (Windows-1252 "
        "preferred among Latin code pages); the encoding used is logged. A codec name (cp1252, "
        "latin-1, utf-16) forces it. XML files name their own encoding.",
    ),
    th.Property(
        "csv_delimiter",
        th.StringType,
        default=AUTO,
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
        default=SKIP,
        allowed_values=[SKIP, STOP],
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
        "discovery_cache",
        th.StringType,
        default="auto",
        title="Discovery cache",
        description="Where discovery keeps what it learnt between runs (each agent's export tables, column "
        "types and stream names; no rows, no key), so that discovering again reads only the agents that "
        "changed and a renamed agent keeps its stream names. auto (default): the user's cache folder "
        "(~/.cache/tap-sequentum on Linux); a folder (e.g. a mounted volume where no disk outlives a run); "
        "off: every discovery samples every agent.",
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


#: The tap's own settings (singer-sdk adds its capabilities' settings to the schema object it is given).
OWN_SETTINGS = frozenset(SETTINGS_SCHEMA["properties"])
#: Settings whose value is never shown, in any message: those the schema marks secret.
SECRET_SETTINGS = tuple(name for name, spec in SETTINGS_SCHEMA["properties"].items() if spec.get("secret"))


def default(name: str) -> Any:
    """A setting's default, as the schema (and so `--about` and docs/settings.md) states it."""
    return SETTINGS_SCHEMA["properties"][name].get("default")


#: The prefix of every setting's environment variable (TAP_SEQUENTUM_API_KEY for api_key).
ENV_PREFIX = "TAP_SEQUENTUM_"
#: Where the search for `.env` starts: singer-sdk's folder that reads it (python-dotenv's find_dotenv starts
#: at its caller's folder), so the tap and the `sequentum` command find the same file.
DOTENV_START = Path(singer_sdk.configuration.__file__).parent


def dotenv_file(start: Path = DOTENV_START) -> Path | None:
    """The `.env` file `tap-sequentum --config ENV` and `sequentum` read: the first from `start` upwards (in a
    checkout whose .venv holds the tap, the checkout's; in a Meltano project, the project's), or None."""
    for folder in (start, *start.parents):
        if (folder / ".env").is_file():
            return folder / ".env"
    return None


def known_settings(plugin: type[Tap] = Tap) -> frozenset[str]:
    """The tap's settings and those singer-sdk accepts for the plugin's capabilities (stream maps, flattening,
    batch, faker...), as the SDK itself adds them to a settings schema."""
    schema: dict[str, Any] = {"properties": {}}
    plugin.append_builtin_config(schema)
    return OWN_SETTINGS | frozenset(schema["properties"])


def unknown_settings(config: Mapping[str, Any], known: Collection[str]) -> list[str]:
    """One warning per setting the tap does not know, naming the nearest known one: a typo (`start_dat`)
    would otherwise be ignored without a word. Keys starting with `_` are a runner's own."""
    lines = []
    for key in sorted(k for k in config if k not in known and not str(k).startswith("_")):
        import difflib  # only when a key is unknown: it costs every run 50 ms to import

        near = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
        hint = f"did you mean {near[0]}?" if near else "tap-sequentum --about lists the settings"
        lines.append(f"Unknown setting {key!r} is ignored ({hint})")
    return lines


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
    "null": (type(None),),
}
_KINDS = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
          "array": "a list", "object": "an object", "null": "null"}  # fmt: skip


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return next((name for name, types in _JSON_TYPES.items() if isinstance(value, types)), "object")


def check_secrets(config: Mapping[str, Any]) -> None:
    """Every secret setting given is of its schema's type: checked before the JSON schema, whose messages
    print the value. The error names the setting and what is wrong with it, never the value."""
    for name in SECRET_SETTINGS:
        value = config.get(name)
        if value is None:
            continue
        declared = SETTINGS_SCHEMA["properties"][name].get("type") or []
        declared = [declared] if isinstance(declared, str) else declared
        given = _json_type(value)
        if given not in declared and not (given == "integer" and "number" in declared):
            wanted = " or ".join(_KINDS[t] for t in declared if t != "null")
            quoted = " (in quotes, in a JSON file)" if "string" in declared else ""
            kind = "a number" if given in ("integer", "number") else _KINDS[given]
            raise errors.ConfigurationError(
                f"{name} must be {wanted}{quoted}, not {kind}; its value is not shown."
            )


def hide_secrets(problems: list[str]) -> list[str]:
    """Schema problems (singer-sdk's `... in config['name']`) with those about a secret setting reduced to its
    name: the JSON schema's messages begin with the value."""
    hidden = []
    for problem in problems:
        name = next((n for n in SECRET_SETTINGS if f"config[{n!r}]" in problem), None)
        hidden.append(f"{name} is not valid (its value is not shown)" if name else problem)
    return hidden


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


#: The settings `Settings.of` reads by their annotation alone (annotations are text: `from __future__`).
_PLAIN_TYPES: dict[str, type] = {"bool": bool, "int": int, "float": float, "str": str}


@dataclass(frozen=True)
class Settings:
    """Every setting, typed: built once per tap run (`of`) and read by the tap, its streams and the
    `sequentum` command instead of the raw config. No field has a default: `of` gives the schema's, the only
    ones."""

    api_key: str
    base_url: str
    start_date: dt.datetime | None
    agent_ids: tuple[int, ...]
    request_timeout: float
    max_retries: int
    runs_max_records: int
    runs_full_check_hours: float
    late_runs_window_minutes: float
    agents_page_size: int
    content_streams: bool
    infer_types: bool
    csv_encoding: str
    #: AUTO or the one character (a name such as "tab" is resolved).
    csv_delimiter: str
    export_table_names: Mapping[str, str]
    merge_export_tables: bool
    on_bad_file: str
    emit_unchanged_agents: bool
    discovery_sample_runs: int
    discovery_sample_bytes: int
    discovery_cache: str
    temp_dir: str | None
    content_fast_path: bool
    trigger: tuple[Mapping[str, Any], ...]
    trigger_fail_on_error: bool
    trigger_poll_interval: float
    user_agent: str
    #: singer-sdk's own setting, read here too so streams need not reach into the config.
    batch_config: Mapping[str, Any] | None

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Settings:
        """The settings of a config already checked against the schema; a value the schema cannot rule out
        but that cannot work is one line naming every such setting."""

        def given(name: str) -> Any:
            value = config.get(name)
            return default(name) if value is None or value == "" else value

        read = {
            "api_key": str(config.get("api_key") or "").strip(),
            "start_date": parse_timestamp(config.get("start_date")) if config.get("start_date") else None,
            "agent_ids": tuple(agent_id_list(config.get("agent_ids"))),
            "csv_delimiter": delimiter(given("csv_delimiter")),
            "export_table_names": MappingProxyType(dict(config.get("export_table_names") or {})),
            "temp_dir": str(config["temp_dir"]) if config.get("temp_dir") else None,
            "trigger": tuple(config.get("trigger") or ()),
            "batch_config": config.get("batch_config") or None,
        }
        # Every other setting is a bool, int, float or str: its annotation's type applied to the value given.
        plain = {f.name: _PLAIN_TYPES[f.type](given(f.name)) for f in fields(cls) if f.name not in read}
        settings = cls(**read, **plain)
        problems = settings.problems(
            start_date=config.get("start_date"), delimiter=config.get("csv_delimiter")
        )
        if problems:
            raise errors.ConfigurationError("Invalid settings: " + "; ".join(problems) + ".")
        return settings

    @property
    def full_check(self) -> dt.timedelta:
        """How long an agent's runs list may go unread while the agent list says nothing changed."""
        return dt.timedelta(hours=self.runs_full_check_hours)

    @property
    def lateness(self) -> Lateness:
        """How late a run may become visible and still be taken."""
        return Lateness(window=dt.timedelta(minutes=self.late_runs_window_minutes))

    def problems(self, *, start_date: Any = None, delimiter: Any = None) -> list[str]:
        """What the JSON schema cannot check (ranges, codecs, folders), as they were given."""
        return [*self._number_problems(), *self._text_problems(start_date, delimiter)]

    def _number_problems(self) -> list[str]:
        problems = []
        if not 1 <= self.runs_max_records <= 1000:
            problems.append(f"runs_max_records must be between 1 and 1000, not {self.runs_max_records}")
        for name in ("agents_page_size", "discovery_sample_runs", "discovery_sample_bytes"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("runs_full_check_hours", "late_runs_window_minutes"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be at least 0, not {getattr(self, name):g}")
        if self.trigger_poll_interval <= 0:
            problems.append("trigger_poll_interval must be a positive number of seconds")
        return problems

    def _text_problems(self, start_date: Any, delimiter: Any) -> list[str]:
        problems = []
        if start_date and self.start_date is None:
            problems.append(f"start_date must be an ISO 8601 date or date-time, not {start_date!r}")
        try:
            if self.csv_encoding != AUTO:
                codecs.lookup(self.csv_encoding)
        except LookupError:
            problems.append(f"csv_encoding {self.csv_encoding!r} is not a known text encoding (or auto)")
        if self.csv_delimiter != AUTO and (len(self.csv_delimiter) != 1 or self.csv_delimiter in '"\r\n'):
            problems.append(f"csv_delimiter must be auto or one character, not {delimiter!r}")
        if self.on_bad_file not in (SKIP, STOP):
            problems.append(f"on_bad_file must be skip or stop, not {self.on_bad_file!r}")
        if self.temp_dir and not os.path.isdir(self.temp_dir):
            problems.append(f"temp_dir {self.temp_dir!r} is not an existing directory")
        return problems


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
