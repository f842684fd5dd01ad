"""In-memory Sequentum model (agents, runs, files, versions, schedules, spaces, credits), the run lifecycle.

The JSON shapes the API returns are built here too, so the Python API and the HTTP API can never
disagree about what a run or an agent looks like.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sequentum_emulator import tables

RUNNING, QUEUING, FAILURE, FAILED, STOPPED, COMPLETED, SUCCESS = 1, 4, 6, 7, 8, 9, 10
ACTIVE = frozenset({1, 2, 3, 4, 5, 12, 13})
FINISHED = frozenset({6, 7, 8, 9, 10, 11})
REMOVE_METHODS = ("RemoveEntireRun", "RemoveAllFiles", "RemoveAllFilesAndAgentInput")
DATA_FILE, INTERNAL_EXPORT_FILE, INTERNAL_RUNTIME_FILE, LOG_FILE = 1, 3, 4, 6
SENTINEL = "0001-01-01T00:00:00"
ORGANIZATION_ID = 78
SERVER_NAME = "172.31.28.159:80"
API_USER = "API User"

# Agent JSON fields a caller may set; the rest (id, name, version, dates, status) are managed.
AGENT_FIELDS: dict[str, Any] = {
    "agentTemplates": None,
    "configType": 1,
    "description": None,
    "documentation": None,
    "icon": None,
    "image": None,
    "inputParameters": {},
    "proxyPoolId": None,
    "spaceId": None,
    "startUrl": None,
    "userId": 289,
    "validationStatus": 3,
}
RUN_COUNTS = (
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
# camelCase run fields a caller may override -> Run attribute.
RUN_ATTRIBUTES = {
    "message": "message",
    "sequence": "sequence",
    "parallelism": "parallelism",
    "parallelMaxConcurrency": "parallel_max_concurrency",
    "parallelExport": "parallel_export",
    "parallelSet": "parallel_set",
    "configVersion": "config_version",
    "serverName": "server_name",
}

#: Schedule types and RunEvery periods (API facts: Sequentum's client, 2026-12): the numbers live responses
#: send, the names older versions send instead (for the type) and the request documentation uses (periods).
SCHEDULE_TYPES = {1: "RunOnce", 2: "RunEvery", 3: "CRON"}
RUN_ONCE, RUN_EVERY, CRON = 1, 2, 3
PERIODS = {1: "Minutes", 2: "Hours", 3: "Days", 4: "Weeks", 5: "Months"}
# camelCase schedule fields a caller may set -> Schedule attribute; id, configId and the dates are managed.
SCHEDULE_ATTRIBUTES = {
    "name": "name",
    "scheduleType": "schedule_type",
    "schedule": "schedule",
    "localSchedule": "local_schedule",
    "timezone": "timezone",
    "nextRunTime": "next_run_time",
    "startTime": "start_time",
    "isEnabled": "is_enabled",
    "runEveryCount": "run_every_count",
    "runEveryPeriod": "run_every_period",
    "inputParameters": "input_parameters",
    "parallelism": "parallelism",
    "parallelMaxConcurrency": "parallel_max_concurrency",
    "parallelExport": "parallel_export",
    "proxyPoolId": "proxy_pool_id",
    "logLevel": "log_level",
    "logMode": "log_mode",
}

Content = bytes | str | Path
FileSpec = tuple[str, Content] | tuple[str, Content, int]


class NotFound(LookupError):
    """An id the dataset does not know; the API answers 404."""


class Gone(NotFound):
    """A file that is still listed but whose content was removed (the API answers 404)."""


class NotRunning(ValueError):
    """A stop for a run (or agent) with nothing active; the API answers 400."""


def utcnow() -> datetime:
    return datetime.now(UTC)


# How run and file timestamps are written: Sequentum's usual form, and the others it also sends.
DATE_FORMS = ("z", "naive", "7digit")


def iso(value: datetime | None, form: str = "z") -> str | None:
    """ISO 8601 in UTC, by default with microseconds and a Z as Sequentum usually writes it.

    "naive" is .NET's zone-less form without trailing zeros (2026-09-01T00:00:00); "7digit" has
    a 7-digit fraction and a Z (2026-09-01T23:59:59.9999990Z).
    """
    if value is None:
        return None
    utc = value.astimezone(UTC)
    if form == "naive":
        fraction = f"{utc.microsecond:06d}0".rstrip("0")
        return utc.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "")
    if form == "7digit":
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: datetime | str | None, default: datetime | None = None) -> datetime:
    """A datetime from a datetime or ISO string; naive values are taken as UTC."""
    if value is None:
        return default if default is not None else utcnow()
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class RunFile:
    """One file of a run: bytes in memory, or a path streamed from disk."""

    id: int
    run_id: int
    name: str
    file_type: int
    created: datetime
    data: bytes | None = None
    path: Path | None = None
    # Removed from storage but still listed: a download answers 404 (listed, then deleted).
    gone: bool = False

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        return self.path.stat().st_size

    def to_json(self, date_form: str = "z") -> dict[str, Any]:
        return {
            "id": self.id,
            "regionId": None,
            "fileType": self.file_type,
            "name": self.name,
            "fileSize": self.size,
            "created": iso(self.created, date_form),
        }


@dataclass
class Lifecycle:
    """How a run started through the API advances with wall time: queued, running, completed."""

    started: float
    duration: float
    sessions: int


@dataclass
class Run:
    id: int
    agent_id: int
    sequence: int
    status: int
    created: datetime
    start_time: datetime | None = None
    end_time: datetime | None = None
    message: str | None = None
    parallelism: int = 1
    parallel_max_concurrency: int = 1
    parallel_export: str = "Combined"
    parallel_set: int = 0
    config_version: int | None = None
    server_name: str | None = None
    counts: dict[str, int | None] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    files: list[RunFile] = field(default_factory=list)
    lifecycle: Lifecycle | None = None
    # A Failure (6) with "wait before retrying": Sequentum still lists it as an active run.
    waiting_retry: bool = False

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def active(self) -> bool:
        """Still in Sequentum's runs table: it may change status or gain files."""
        return self.status in ACTIVE or self.waiting_retry

    @property
    def table_type(self) -> str:
        return "run" if self.active else "history"


@dataclass
class Version:
    version: int
    user_name: str
    created: datetime
    comments: str
    file_size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "userName": self.user_name,
            "version": self.version,
            "created": iso(self.created),
            "comments": self.comments,
            "fileSize": self.file_size,
        }


@dataclass
class Schedule:
    """When Sequentum runs an agent by itself. The sandbox runs no scheduler: `next_run_time` is what it was
    given (one already past is a run the scheduler missed), served as null while the schedule is disabled."""

    id: int
    agent_id: int
    name: str
    schedule_type: int
    created: datetime
    updated: datetime
    schedule: str = ""
    local_schedule: str | None = None
    timezone: str = "UTC"
    next_run_time: datetime | None = None
    start_time: datetime | None = None
    is_enabled: bool = True
    run_every_count: int | None = None
    run_every_period: int | None = None
    input_parameters: str | None = None  # JSON text, as Sequentum sends it
    parallelism: int = 1
    parallel_max_concurrency: int = 1
    parallel_export: str = "Combined"
    proxy_pool_id: int | None = None
    log_level: str = "Info"
    log_mode: str = "Text"

    def to_json(self, date_form: str = "z", *, type_as_text: bool = False) -> dict[str, Any]:
        """AgentScheduleApiModel; `type_as_text` sends the type's name, as older Sequentum versions do."""
        kind: int | str = SCHEDULE_TYPES[self.schedule_type] if type_as_text else self.schedule_type
        return {
            "id": self.id,
            "configId": self.agent_id,
            "name": self.name,
            "schedule": self.schedule,
            "localSchedule": self.local_schedule if self.local_schedule is not None else self.schedule,
            "timezone": self.timezone,
            "nextRunTime": iso(self.next_run_time, date_form) if self.is_enabled else None,
            "startTime": iso(self.start_time, date_form),
            "scheduleType": kind,
            "isEnabled": self.is_enabled,
            "runEveryCount": self.run_every_count,
            "runEveryPeriod": self.run_every_period,
            "inputParameters": self.input_parameters,
            "parallelism": self.parallelism,
            "parallelMaxConcurrency": self.parallel_max_concurrency,
            "parallelExport": self.parallel_export,
            "proxyPoolId": self.proxy_pool_id,
            "logLevel": self.log_level,
            "logMode": self.log_mode,
            "created": iso(self.created, date_form),
            "updated": iso(self.updated, date_form),
        }

    def upcoming_json(self, agent_name: str, date_form: str = "z") -> dict[str, Any]:
        """UpcomingScheduleApiModel: one line of analytics/schedules/upcoming."""
        return {
            "scheduleId": self.id,
            "agentId": self.agent_id,
            "agentName": agent_name,
            "scheduleName": self.name,
            "nextRunTime": iso(self.next_run_time, date_form) if self.is_enabled else None,
            "timezone": self.timezone,
            "isEnabled": self.is_enabled,
        }


def _code(value: Any, table: Mapping[int, str], what: str) -> int:
    """A schedule type or period given as its number or its name (any case, a period also singular)."""
    if isinstance(value, int) and not isinstance(value, bool) and value in table:
        return value
    text = str(value).strip().lower()
    for code, name in table.items():
        if text in (name.lower(), name.lower().rstrip("s")):
            return code
    raise ValueError(
        f"{what} must be one of {', '.join(f'{k} {v}' for k, v in table.items())}, not {value!r}"
    )


def _schedule_value(key: str, value: Any) -> Any:
    """A camelCase schedule field as the Schedule keeps it."""
    if key == "scheduleType":
        return _code(value, SCHEDULE_TYPES, "scheduleType")
    if key == "runEveryPeriod":
        return None if value is None else _code(value, PERIODS, "runEveryPeriod")
    if key in ("nextRunTime", "startTime"):
        return None if value is None else parse_time(value)
    if key == "inputParameters" and isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


@dataclass
class Agent:
    id: int
    name: str
    created: datetime
    updated: datetime
    version: int
    kind: str
    fields: dict[str, Any]
    runs: dict[int, Run] = field(default_factory=dict)
    versions: list[Version] = field(default_factory=list)
    schedules: dict[int, Schedule] = field(default_factory=dict)
    #: The export name its runs' files are named after: the agent's name when it was created. Sequentum keeps
    #: an agent's Export Name when the agent is renamed, so its files keep their names.
    export_name: str = ""
    #: False: agent/all gives this agent without lastActivity and status, as the reference page does.
    list_hints: bool = True

    def __post_init__(self) -> None:
        self.export_name = self.export_name or self.name

    def newest_run(self) -> Run | None:
        return max(self.runs.values(), key=lambda r: (r.created, r.id), default=None)

    def runs_newest_first(self) -> list[Run]:
        return sorted(self.runs.values(), key=lambda r: (r.created, r.id), reverse=True)


@dataclass
class Space:
    id: int
    name: str
    description: str | None
    created: datetime
    initiated_by: str = "Sandbox User"
    run_retention_hours: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "organizationId": ORGANIZATION_ID,
            "created": iso(self.created),
            "updated": iso(self.created),
            "isDefaultAccess": False,
            "scope": "Private",
            "runRetentionHours": self.run_retention_hours,
            "initiatedBy": self.initiated_by,
            "access": [],
        }


@dataclass(frozen=True)
class Credit:
    """A credit transaction that is not a run's usage (those are derived from the runs)."""

    id: int
    transaction_type: str
    amount: Decimal
    created: datetime
    expires_at: datetime | None = None
    message: str | None = None


@dataclass(frozen=True)
class StartOptions:
    """A validated start request body."""

    inputs: dict[str, Any] = field(default_factory=dict)
    parallelism: int = 1
    parallel_max_concurrency: int = 1
    parallel_export: str = "Combined"
    synchronous: bool = False


def summarize(detail: dict[str, Any], hints: bool = True) -> dict[str, Any]:
    """The agent/all shape of an agent: no dates (the .NET sentinel), no start URL or proxy pool.

    Live lists carry lastActivity and status (the newest run's) as change hints; without hints the
    shape is the reference page's sample, where both are null.
    """
    summary = {
        **detail,
        "proxyPoolId": None,
        "startUrl": None,
        "created": SENTINEL,
        "updated": SENTINEL,
    }
    if not hints:
        summary.update(lastActivity=None, status=None)
    return summary


T = TypeVar("T")


def _found(table: Mapping[int, T], key: int, what: str, owner: str = "") -> T:
    """`table[key]`, or the API's 404 naming what is missing ("Run 7") and where it was looked for."""
    try:
        return table[key]
    except KeyError:
        where = f" for {owner}" if owner else ""
        raise NotFound(f"{what} {key} was not found{where}.") from None


def _check_waiting(status: int, waiting_retry: bool) -> None:
    if waiting_retry and status != FAILURE:
        raise ValueError(f"Only a run in Failure ({FAILURE}) can wait to retry, not status {status}.")


def runtime(run: Run) -> int | None:
    """runTimeSec: whole seconds from start to end, once both are known."""
    if run.start_time is None or run.end_time is None:
        return None
    return math.ceil(max(0.0, (run.end_time - run.start_time).total_seconds()))


class Dataset:
    """All agents with their runs, files and versions; every access goes through ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.agents: dict[int, Agent] = {}
        self.runs: dict[int, Run] = {}
        self.files: dict[int, RunFile] = {}
        self.spaces: dict[int, Space] = {}
        self.credits: list[Credit] = []
        self.date_form = "z"
        self._next_id = {"agent": 1001, "run": 50001, "file": 90001, "schedule": 3001}
        self._used_ids: set[int] = set()
        self._pending: set[int] = set()

    def _new_id(self, kind: str) -> int:
        # Separate ranges keep ids recognisable; the used-set keeps them unique if ranges meet.
        candidate = self._next_id[kind]
        while candidate in self._used_ids:
            candidate += 1
        self._next_id[kind] = candidate + 1
        self._used_ids.add(candidate)
        return candidate

    # --- lookups -------------------------------------------------------------------------------

    def agent(self, agent_id: int) -> Agent:
        with self.lock:
            return _found(self.agents, agent_id, "Agent")

    def run(self, agent_id: int, run_id: int) -> Run:
        with self.lock:
            return _found(self.agent(agent_id).runs, run_id, "Run", f"agent {agent_id}")

    def listed_file(self, agent_id: int, run_id: int, file_id: int) -> RunFile:
        """A file as the run's file list shows it, whether or not its content is still there."""
        with self.lock:
            files = {run_file.id: run_file for run_file in self.run(agent_id, run_id).files}
            return _found(files, file_id, "File", f"run {run_id}")

    def file(self, agent_id: int, run_id: int, file_id: int) -> RunFile:
        """A file whose content can be downloaded."""
        with self.lock:
            run_file = self.listed_file(agent_id, run_id, file_id)
            if run_file.gone:
                raise Gone(f"File {file_id} of run {run_id} no longer exists.")
            return run_file

    def space(self, space_id: int) -> Space:
        with self.lock:
            return _found(self.spaces, space_id, "Space")

    def schedule(self, agent_id: int, schedule_id: int) -> Schedule:
        with self.lock:
            return _found(self.agent(agent_id).schedules, schedule_id, "Schedule", f"agent {agent_id}")

    # --- JSON shapes ----------------------------------------------------------------------------

    def agent_detail(self, agent: Agent) -> dict[str, Any]:
        with self.lock:
            newest = agent.newest_run()
            f = agent.fields
            return {
                "agentTemplates": f["agentTemplates"],
                "configType": f["configType"],
                "description": f["description"],
                "documentation": f["documentation"],
                "icon": f["icon"],
                "image": f["image"],
                "inputParameters": f["inputParameters"],
                "id": agent.id,
                "isActive": any(r.active for r in agent.runs.values()),
                "lastActivity": iso(newest.created) if newest else None,
                "name": agent.name,
                "proxyPoolId": f["proxyPoolId"],
                "spaceId": f["spaceId"],
                "startUrl": f["startUrl"],
                "status": newest.status if newest else None,
                "userId": f["userId"],
                "validationStatus": f["validationStatus"],
                "version": agent.version,
                "created": iso(agent.created),
                "updated": iso(agent.updated),
            }

    def run_json(self, run: Run) -> dict[str, Any]:
        with self.lock:
            agent = self.agents[run.agent_id]
            counts = run.counts
            form = self.date_form
            return {
                "id": run.id,
                "configId": agent.id,
                "configName": agent.name,
                "spaceId": agent.fields["spaceId"] or 0,
                "organizationId": ORGANIZATION_ID,
                "organizationName": None,
                "sequence": run.sequence,
                "parallelism": run.parallelism,
                "parallelMaxConcurrency": run.parallel_max_concurrency,
                "parallelExport": run.parallel_export,
                "parallelSet": run.parallel_set,
                "startTime": iso(run.start_time, form),
                "endTime": iso(run.end_time, form),
                "created": iso(run.created, form),
                "status": run.status,
                "message": run.message,
                "configVersion": run.config_version,
                **{key: counts.get(key) for key in RUN_COUNTS},
                "runTimeSec": runtime(run),
                "serverName": run.server_name,
                "tableType": run.table_type,
            }

    def file_json(self, run_file: RunFile) -> dict[str, Any]:
        return run_file.to_json(self.date_form)

    # --- spaces and credits --------------------------------------------------------------------

    def add_space(
        self,
        name: str,
        *,
        space_id: int | None = None,
        description: str | None = None,
        created: datetime | str | None = None,
        initiated_by: str = "Sandbox User",
        run_retention_hours: int | None = None,
    ) -> Space:
        """A space; without an id it takes the next one after the highest (from 1)."""
        with self.lock:
            if space_id is None:
                space_id = max(self.spaces, default=0) + 1
            if space_id in self.spaces:
                raise ValueError(f"Space {space_id} already exists.")
            space = Space(space_id, name, description, parse_time(created), initiated_by, run_retention_hours)
            self.spaces[space_id] = space
            return space

    def add_credit(
        self,
        transaction_type: str,
        amount: Decimal | str | float,
        created: datetime | str,
        *,
        expires_at: datetime | str | None = None,
        message: str | None = None,
    ) -> Credit:
        """A credit transaction other than a run's usage; ids count from 1 in creation order."""
        with self.lock:
            credit = Credit(
                id=len(self.credits) + 1,
                transaction_type=transaction_type,
                amount=Decimal(str(amount)),
                created=parse_time(created),
                expires_at=None if expires_at is None else parse_time(expires_at),
                message=message,
            )
            self.credits.append(credit)
            return credit

    # --- agents and versions ------------------------------------------------------------------

    def add_agent(self, name: str, *, kind: str = "generic", **fields: Any) -> Agent:
        """A new agent with version rows 1..version; unknown fields are a TypeError."""
        created = parse_time(fields.pop("created", None))
        updated = parse_time(fields.pop("updated", None), default=created)
        version = int(fields.pop("version", 1))
        unknown = set(fields) - set(AGENT_FIELDS)
        if unknown:
            allowed = ", ".join(sorted([*AGENT_FIELDS, "created", "updated", "version", "kind"]))
            raise TypeError(f"Unknown agent field(s) {sorted(unknown)}; allowed: {allowed}")
        with self.lock:
            space_id = fields.get("spaceId")
            if space_id is not None and space_id not in self.spaces:
                # Every agent's space is listed by /spaces, whoever created the agent.
                self.add_space(f"Space {space_id}", space_id=space_id, created=created)
            agent = Agent(
                id=self._new_id("agent"),
                name=name,
                created=created,
                updated=updated,
                version=0,
                kind=kind,
                fields={**AGENT_FIELDS, "inputParameters": {}, **fields},
            )
            self.agents[agent.id] = agent
            for number in range(1, version + 1):
                comment = "Initial version" if number == 1 else f"Version {number}"
                self.add_version(agent.id, comment, "Sandbox User", created=created)
            agent.updated = updated
            return agent

    def add_version(
        self,
        agent_id: int,
        comments: str = "",
        user_name: str = "Sandbox User",
        *,
        created: datetime | str | None = None,
        file_size: int | None = None,
    ) -> Version:
        """The next version of an agent, which becomes its active version."""
        with self.lock:
            agent = self.agent(agent_id)
            number = max((v.version for v in agent.versions), default=0) + 1
            when = parse_time(created)
            size = file_size if file_size is not None else (0 if number == 1 else 3000 + 211 * number)
            version = Version(number, user_name, when, comments, size)
            agent.versions.append(version)
            agent.version = number
            agent.updated = max(agent.updated, when)
            return version

    def rename_agent(self, agent_id: int, name: str) -> Agent:
        """Rename an agent as Sequentum's designer does: its `updated` moves, its Export Name (and so its
        files' names) and its version stay."""
        with self.lock:
            agent = self.agent(agent_id)
            agent.name = name
            agent.updated = max(utcnow(), agent.updated)
            return agent

    def versions(self, agent_id: int) -> list[Version]:
        with self.lock:
            return sorted(self.agent(agent_id).versions, key=lambda v: v.version, reverse=True)

    def restore_version(self, agent_id: int, number: int, comments: str) -> Version:
        """A new version copying an older one: restores never rewrite history."""
        with self.lock:
            versions = {version.version: version for version in self.agent(agent_id).versions}
            source = _found(versions, number, "Version", f"agent {agent_id}")
            return self.add_version(agent_id, comments, API_USER, file_size=source.file_size)

    # --- schedules ----------------------------------------------------------------------------

    def add_schedule(self, agent_id: int, **fields: Any) -> Schedule:
        """A schedule of an agent from camelCase API fields (`scheduleType` and `runEveryPeriod` as numbers or
        names, `inputParameters` as an object or its JSON text, `created`); unknown fields are a TypeError.
        Editing schedules leaves the agent's own list entry as it is."""
        created = parse_time(fields.pop("created", None))
        updated = parse_time(fields.pop("updated", None), default=created)
        unknown = set(fields) - set(SCHEDULE_ATTRIBUTES)
        if unknown:
            allowed = ", ".join(sorted([*SCHEDULE_ATTRIBUTES, "created", "updated"]))
            raise TypeError(f"Unknown schedule field(s) {sorted(unknown)}; allowed: {allowed}")
        values = {SCHEDULE_ATTRIBUTES[key]: _schedule_value(key, value) for key, value in fields.items()}
        values.setdefault("name", "Schedule")
        kind = values.setdefault("schedule_type", CRON)
        if kind == RUN_EVERY and "schedule" not in values:
            count, period = values.get("run_every_count"), values.get("run_every_period")
            values["schedule"] = f"Every {count} {PERIODS.get(period or 0, '').lower()}".strip()
        if kind == RUN_ONCE:
            values.setdefault("next_run_time", values.get("start_time"))
        with self.lock:
            agent = self.agent(agent_id)
            schedule = Schedule(
                self._new_id("schedule"), agent.id, created=created, updated=updated, **values
            )
            agent.schedules[schedule.id] = schedule
            return schedule

    def update_schedule(self, agent_id: int, schedule_id: int, **fields: Any) -> Schedule:
        """Change a schedule's camelCase fields (as `add_schedule` takes them); `updated` becomes now unless
        given."""
        updated = parse_time(fields.pop("updated", None))
        unknown = set(fields) - set(SCHEDULE_ATTRIBUTES)
        if unknown:
            raise TypeError(f"Unknown schedule field(s) {sorted(unknown)}")
        with self.lock:
            schedule = self.schedule(agent_id, schedule_id)
            for key, value in fields.items():
                setattr(schedule, SCHEDULE_ATTRIBUTES[key], _schedule_value(key, value))
            schedule.updated = updated
            return schedule

    def delete_schedule(self, agent_id: int, schedule_id: int) -> None:
        with self.lock:
            self.schedule(agent_id, schedule_id)
            del self.agents[agent_id].schedules[schedule_id]

    def schedule_json(self, schedule: Schedule, *, type_as_text: bool = False) -> dict[str, Any]:
        return schedule.to_json(self.date_form, type_as_text=type_as_text)

    def upcoming(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """analytics/schedules/upcoming: every enabled schedule whose next run falls in [start, end], by next
        run (then id)."""
        with self.lock:
            due = [
                (schedule, agent.name)
                for agent in self.agents.values()
                for schedule in agent.schedules.values()
                if schedule.is_enabled and schedule.next_run_time and start <= schedule.next_run_time <= end
            ]
            due.sort(key=lambda item: (item[0].next_run_time, item[0].id))
            return [schedule.upcoming_json(name, self.date_form) for schedule, name in due]

    # --- runs and files -----------------------------------------------------------------------

    def add_run(
        self,
        agent_id: int,
        status: int = COMPLETED,
        created: datetime | str | None = None,
        files: Iterable[FileSpec] | None = None,
        *,
        waiting_retry: bool = False,
        **fields: Any,
    ) -> Run:
        """A run with plausible times and counts for its status; camelCase fields override them.

        waiting_retry (status 6 only) makes a failed run that Sequentum will retry: still active.
        """
        _check_waiting(status, waiting_retry)
        with self.lock:
            agent = self.agent(agent_id)
            when = parse_time(created)
            run = Run(
                id=self._new_id("run"),
                agent_id=agent.id,
                sequence=max((r.sequence for r in agent.runs.values()), default=0) + 1,
                status=status,
                created=when,
                config_version=max(
                    (v.version for v in agent.versions if v.created <= when), default=agent.version
                ),
                waiting_retry=waiting_retry,
            )
            rng = random.Random(f"run:{agent.id}:{iso(when)}")
            # A run created just now cannot have started or ended in the future.
            latest = max(utcnow(), when)
            if status not in (QUEUING, 12):  # queuing and waiting runs have not started
                run.start_time = min(when + timedelta(seconds=rng.uniform(0.005, 0.9)), latest)
                run.server_name = SERVER_NAME
            if status in FINISHED:
                assert run.start_time is not None
                end = run.start_time + timedelta(seconds=rng.uniform(20, 600))
                run.end_time = min(end, latest)
            run.counts = self._plausible_counts(rng, status)
            agent.runs[run.id] = run
            self.runs[run.id] = run
            for spec in files or ():
                self.add_file(run.agent_id, run.id, *spec)
            self._apply_run_fields(run, fields)
            return run

    def _plausible_counts(self, rng: random.Random, status: int) -> dict[str, int | None]:
        if status == QUEUING:
            counts: dict[str, int | None] = dict.fromkeys(RUN_COUNTS, 0)
            counts.update(inputCount=None, exportCount=None, traffic=None)
            return counts
        pages = rng.randint(3, 80)
        return {
            "actionCount": pages * rng.randint(2, 6),
            "pageCount": pages,
            "dynamicPageCount": rng.randint(0, pages),
            "requestCount": pages + rng.randint(0, 40),
            "dataCount": 0,
            "inputCount": 0,
            "errorCount": rng.randint(1, 5) if status in (FAILURE, FAILED) else 0,
            "exportCount": 0 if status in FINISHED else None,
            "traffic": pages * rng.randint(20_000, 400_000),
        }

    def _apply_run_fields(self, run: Run, fields: Mapping[str, Any]) -> None:
        for key, value in fields.items():
            if key in RUN_ATTRIBUTES:
                setattr(run, RUN_ATTRIBUTES[key], value)
            elif key in RUN_COUNTS:
                run.counts[key] = value
            elif key in ("startTime", "endTime"):
                parsed = None if value is None else parse_time(value)
                setattr(run, "start_time" if key == "startTime" else "end_time", parsed)
            else:
                raise TypeError(f"Unknown run field {key!r}")

    def add_file(
        self,
        agent_id: int,
        run_id: int,
        name: str,
        content: Content,
        file_type: int = DATA_FILE,
        created: datetime | str | None = None,
    ) -> RunFile:
        """A file of a run: bytes (or text) in memory, or a path streamed from disk."""
        with self.lock:
            run = self.run(agent_id, run_id)
            default_created = run.end_time or run.start_time or run.created
            run_file = RunFile(
                id=self._new_id("file"),
                run_id=run.id,
                name=name,
                file_type=file_type,
                created=parse_time(created, default=default_created),
            )
            if isinstance(content, Path):
                run_file.path = content
            else:
                run_file.data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            run.files.append(run_file)
            self.files[run_file.id] = run_file
            if file_type == DATA_FILE and run_file.data is not None:
                rows = tables.count_rows(name, run_file.data)
                for key in ("dataCount", "exportCount"):
                    run.counts[key] = (run.counts.get(key) or 0) + rows
            return run_file

    def set_run_status(
        self,
        agent_id: int,
        run_id: int,
        status: int,
        files: Iterable[FileSpec] | None = None,
        *,
        waiting_retry: bool = False,
    ) -> Run:
        """Move a run by hand (e.g. finish a running run) and attach its outputs.

        A run leaving an active state (waiting to retry included) ends now; waiting_retry=True
        (status 6 only) leaves it in Failure but still active, as Sequentum's retry wait does.
        """
        _check_waiting(status, waiting_retry)
        with self.lock:
            run = self.run(agent_id, run_id)
            was_active = run.active
            run.lifecycle = None
            self._pending.discard(run.id)
            now = utcnow()
            run.status = status
            run.waiting_retry = waiting_retry
            if status in FINISHED:
                run.start_time = run.start_time or run.created
                if was_active or run.end_time is None:
                    run.end_time = max(now, run.start_time)
                for key in ("inputCount", "exportCount", "traffic"):
                    run.counts[key] = run.counts.get(key) or 0
            else:
                run.end_time = None
                if status != QUEUING and run.start_time is None:
                    run.start_time = max(now, run.created)
                    run.server_name = SERVER_NAME
            for spec in files or ():
                self.add_file(run.agent_id, run.id, *spec)
            return run

    def restart_run(self, agent_id: int, run_id: int) -> Run:
        """Sequentum retrying a run that failed with "wait before retrying": Running again."""
        with self.lock:
            run = self.run(agent_id, run_id)
            if not run.waiting_retry:
                raise NotRunning(f"Run {run_id} is not waiting to retry (status {run.status}).")
            run.message = None
            return self.set_run_status(agent_id, run_id, RUNNING)

    def remove_file(self, agent_id: int, run_id: int, file_id: int, *, keep_listed: bool = True) -> None:
        """Delete a file's content; keep_listed leaves it in the file list (its download is a 404)."""
        with self.lock:
            run = self.run(agent_id, run_id)
            run_file = self.listed_file(agent_id, run_id, file_id)
            if keep_listed:
                run_file.gone = True
                return
            run.files.remove(run_file)
            del self.files[run_file.id]

    def delete_run(self, agent_id: int, run_id: int, method: str = REMOVE_METHODS[0]) -> None:
        """Sequentum's run deletion: the whole run, or only its files (and its input parameters)."""
        if method not in REMOVE_METHODS:
            raise ValueError(f"removeMethod must be one of {', '.join(REMOVE_METHODS)}, not {method!r}.")
        with self.lock:
            run = self.run(agent_id, run_id)
            for run_file in run.files:
                self.files.pop(run_file.id, None)
            run.files = []
            if method == "RemoveAllFilesAndAgentInput":
                run.inputs = {}
            if method == "RemoveEntireRun":
                run.lifecycle = None
                self._pending.discard(run.id)
                del self.agents[agent_id].runs[run.id]
                del self.runs[run.id]

    # --- runs started through the API ---------------------------------------------------------

    def start_run(self, agent_id: int, options: StartOptions, duration: float) -> Run:
        """Queue a run that advances lazily with wall time, or complete it at once (synchronous).

        A synchronous run finishes at once, as if the caller had waited for it.
        """
        with self.lock:
            agent = self.agent(agent_id)
            started = time.time()
            created = datetime.fromtimestamp(started, UTC)
            run = self.add_run(agent.id, status=QUEUING, created=created)
            run.parallelism = options.parallelism
            run.parallel_max_concurrency = options.parallel_max_concurrency
            run.parallel_export = options.parallel_export
            run.inputs = dict(options.inputs)
            separated = options.parallel_export == "Separated"
            sessions = options.parallelism if separated and options.parallelism > 1 else 1
            if options.synchronous:
                run.status = RUNNING
                run.start_time = created
                self._finish(run, COMPLETED, max(utcnow(), created), 1.0, sessions)
            else:
                run.lifecycle = Lifecycle(started=started, duration=duration, sessions=sessions)
                self._pending.add(run.id)
            return run

    def output_table(self, run: Run) -> tables.Table:
        """The full table a run delivers on completion (a stopped run delivers a prefix of it)."""
        agent = self.agents[run.agent_id]
        n = tables.row_count(run.id)
        return tables.generate(agent.kind, run.id, n, run.created, run.inputs)

    def tick(self, now: float | None = None) -> None:
        """Advance API-started runs to the state their age implies (runs advance lazily)."""
        with self.lock:
            now = time.time() if now is None else now
            for run_id in sorted(self._pending):
                run = self.runs[run_id]
                life = run.lifecycle
                assert life is not None
                elapsed = now - life.started
                if elapsed >= life.duration:
                    end = datetime.fromtimestamp(life.started + life.duration, UTC)
                    self._promote(run, life)
                    self._finish(run, COMPLETED, end, 1.0, life.sessions)
                elif elapsed >= 0.2 * life.duration:
                    self._promote(run, life)

    def _promote(self, run: Run, life: Lifecycle) -> None:
        if run.status == QUEUING:
            run.status = RUNNING
            run.start_time = datetime.fromtimestamp(life.started + 0.2 * life.duration, UTC)
            run.server_name = SERVER_NAME
            run.counts.update(inputCount=0, traffic=0)

    def _finish(self, run: Run, status: int, end: datetime, fraction: float, sessions: int) -> tables.Table:
        """Close a run with its data file(s) and log; fraction < 1 delivers a partial export."""
        agent = self.agents[run.agent_id]
        run.lifecycle = None
        self._pending.discard(run.id)
        run.status = status
        run.waiting_retry = False
        run.start_time = run.start_time or end
        run.end_time = end
        run.server_name = SERVER_NAME
        full = self.output_table(run)
        table = full if fraction >= 1 else full.head(max(1, int(len(full.rows) * fraction)))
        slug = tables.slugify(agent.export_name)
        parts = table.split(sessions) if sessions > 1 else [table]
        run.counts = dict.fromkeys(RUN_COUNTS, 0)
        pages = max(1, len(table.rows) // 5)
        run.counts.update(
            actionCount=pages * 3, pageCount=pages, requestCount=pages + 1, traffic=pages * 48_211
        )
        names = []
        for index, part in enumerate(parts, start=1):
            suffix = f"_{index}" if sessions > 1 else ""
            name = f"{slug}_{run.id}{suffix}.csv"
            names.append((name, len(part.rows)))
            self.add_file(run.agent_id, run.id, name, tables.to_csv(part), DATA_FILE, end)
        log = self.run_log(run, names)
        self.add_file(run.agent_id, run.id, f"{slug}_{run.id}.log", log, LOG_FILE, end)
        return table

    def run_log(self, run: Run, exported: Sequence[tuple[str, int]]) -> bytes:
        """The log text of a finished run, naming what it exported."""
        agent = self.agents[run.agent_id]
        start = run.start_time or run.created
        end = run.end_time or start
        events = [
            (run.created, "INFO", f'Run {run.id} of agent "{agent.name}" queued'),
            (start, "INFO", f"Run started on {SERVER_NAME} (version {run.config_version})"),
        ]
        if run.inputs:
            events.append((start, "INFO", f"Input parameters: {sorted(run.inputs)}"))
        for name, rows in exported:
            events.append((end, "INFO", f"Exported {rows} row(s) to {name}"))
        if run.message:
            level = "INFO" if run.status in (COMPLETED, SUCCESS, STOPPED) else "ERROR"
            events.append((end, level, run.message))
        outcome = {STOPPED: "stopped", FAILURE: "failed", FAILED: "failed"}.get(run.status)
        events.append((end, "INFO", f"Run {outcome or 'completed'} (status {run.status})"))
        return tables.run_log(events)

    def stop_run(self, agent_id: int, run_id: int) -> Run:
        """Stop an active run; it keeps the rows exported so far and a log."""
        with self.lock:
            self.tick()
            run = self.run(agent_id, run_id)
            if not run.active:
                raise NotRunning(f"Run {run_id} is not running (status {run.status}).")
            if run.waiting_retry:
                # Stopping the retry wait: the failed attempt already delivered what it could.
                run.message = "Stopped by user."
                return self.set_run_status(agent_id, run_id, STOPPED)
            now = time.time()
            fraction = 0.5
            life = run.lifecycle
            if life is not None:
                fraction = min(0.9, max(0.1, (now - life.started) / max(life.duration, 1e-9)))
            run.message = "Stopped by user."
            sessions = life.sessions if life else 1
            end = max(datetime.fromtimestamp(now, UTC), run.start_time or run.created)
            self._finish(run, STOPPED, end, fraction, sessions)
            return run

    def stop_agent(self, agent_id: int) -> list[Run]:
        """Stop every active run of an agent (the reference page's agent/{id}/stop)."""
        with self.lock:
            self.tick()
            active = [r for r in self.agent(agent_id).runs_newest_first() if r.active]
            if not active:
                raise NotRunning(f"Agent {agent_id} has no active run.")
            return [self.stop_run(agent_id, r.id) for r in active]
