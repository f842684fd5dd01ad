"""The Sequentum API host: auth, rate limit, routing, scopes, then one small function per endpoint."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from sequentum_emulator import billing
from sequentum_emulator.dataset import (
    REMOVE_METHODS,
    Dataset,
    NotFound,
    NotRunning,
    StartOptions,
    parse_time,
    summarize,
)
from sequentum_emulator.faults import Fault, RateLimiter
from sequentum_emulator.messages import (
    RangeNotSatisfiable,
    Request,
    Response,
    file_response,
    json_response,
    problem,
    status_error,
)
from sequentum_emulator.storage import UrlSigner

DEFAULT_API_KEY = "sandbox-demo-key"
READONLY_API_KEY = "sandbox-readonly-key"
NOBILLING_API_KEY = "sandbox-nobilling-key"
# Scopes: "read" and "write" stand for Sequentum's agent scopes; billing:read is Sequentum's own name.
READ, WRITE, BILLING_READ = "read", "write", "billing:read"
ALL_SCOPES = frozenset({READ, WRITE, BILLING_READ})
FIXED_KEYS = {
    READONLY_API_KEY: frozenset({READ, BILLING_READ}),
    NOBILLING_API_KEY: frozenset({READ, WRITE}),
}
PREFIX = "/api/v1"
MAX_RUN_RECORDS = 1000
DEFAULT_RUN_RECORDS = 50
DEFAULT_PAGE_SIZE = 25
DEFAULT_BILLING_PAGE_SIZE = 50
MAX_BILLING_PAGE_SIZE = 100
#: analytics/schedules/upcoming without endDate: 7 days from startDate (Sequentum's client documents it).
UPCOMING_DAYS = 7
CONFIG_TYPES = {"agent": 1, "sharedfile": 2, "template": 3, "command": 4}
SORT_COLUMNS = {
    "id": "id",
    "name": "name",
    "lastactivity": "lastActivity",
    "created": "created",
    "updated": "updated",
    "status": "status",
    "configtype": "configType",
}
SPACE_AGENT_FIELDS = (
    "id",
    "name",
    "description",
    "configType",
    "status",
    "validationStatus",
    "lastActivity",
    "created",
    "updated",
    "version",
)
#: How listings are ordered. "documented" is what Sequentum does or the API facts say: runs and the credit
#: history newest first, run costs oldest first, agents, files, schedules and spaces by id, versions highest
#: first, upcoming scheduled runs by time. The
#: others serve every listing newest first, oldest first, or shuffled (one fixed order for a given set of
#: items, so pages cut across it consistently): a client must read each the same.
LISTING_ORDERS = ("documented", "newest-first", "oldest-first", "shuffled")
SHUFFLE_SEED = 17
ID_NAMES = {
    "agent": "agentId",
    "run": "runId",
    "file": "fileId",
    "version": "versionNumber",
    "space": "spaceId",
    "schedule": "scheduleId",
}


T = TypeVar("T")


def arrange(documented: Iterable[T], order: str, key: Callable[[T], Any]) -> list[T]:
    """A listing's items, given in their documented order, in the `order` the sandbox serves listings in;
    `key` is an item's (date, id)."""
    items = list(documented)
    if order == "newest-first":
        return sorted(items, key=key, reverse=True)
    if order == "oldest-first":
        return sorted(items, key=key)
    if order == "shuffled":
        items.sort(key=key)  # the same items always shuffle the same way: every page of one listing agrees
        ascending = list(items)
        random.Random(f"{SHUFFLE_SEED}:{len(items)}").shuffle(items)
        if len(items) > 2 and items in (ascending, ascending[::-1]):
            items = items[1:] + items[:1]  # never one of the sorted orders by chance
    return items


class ApiHost(Protocol):
    """What the API host reads from the sandbox that serves it (settings may change while running)."""

    api_key: str
    data: Dataset
    limiter: RateLimiter
    signer: UrlSigner
    rate_limit: int
    rate_window: float
    redirect_downloads: bool
    run_duration: float
    signed_url_ttl: float
    list_hints: bool
    listing_order: str
    schedule_type_text: bool

    @property
    def storage_url(self) -> str: ...


class BadRequest(ValueError):
    """A request the API rejects with 400 and this message."""


Ids = dict[str, int]
Endpoint = Callable[[ApiHost, Request, Ids], Response]


# --- request helpers --------------------------------------------------------------------------


def api_key(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: ApiKey <key>` (or `Bearer <key>`)."""
    scheme, _, key = (headers.get("Authorization") or "").strip().partition(" ")
    if scheme.lower() not in ("apikey", "bearer") or not key.strip():
        return None
    return key.strip()


def scopes(sandbox: ApiHost, key: str | None) -> frozenset[str] | None:
    """What a key may do; None for a key the sandbox does not accept."""
    if key is not None and key == sandbox.api_key:
        return ALL_SCOPES
    return FIXED_KEYS.get(key or "")


def _query(request: Request) -> dict[str, str]:
    # ASP.NET binds query parameters case-insensitively.
    return {key.lower(): value for key, value in request.query.items()}


def _int(value: str | None, name: str, *, minimum: int | None = None) -> int | None:
    if value is None or value.strip() == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, not {value!r}.") from None
    if minimum is not None and number < minimum:
        raise BadRequest(f"{name} must be at least {minimum}.")
    return number


def _json_body(request: Request) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    try:
        value = json.loads(request.body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest("The request body must be a JSON object.")
    # ASP.NET's JSON binding ignores the case of property names.
    return {key.lower(): item for key, item in value.items()}


def _body_int(body: dict[str, Any], name: str, default: int | None, minimum: int) -> int | None:
    value = body.get(name.lower())
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} must be an integer.")
    if value < minimum:
        raise BadRequest(f"{name} must be at least {minimum}.")
    return value


def _body_bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name.lower())
    if value is None:
        return False
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise BadRequest(f"{name} must be a boolean.")


def _inputs(value: Any) -> dict[str, Any]:
    """inputParameters as an object, a JSON-encoded object, or a list of name/value pairs."""
    if value is None:
        return {}
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            value = json.loads(value)
        except ValueError:
            raise BadRequest("inputParameters is a string but not valid JSON.") from None
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        pairs = [{str(k).lower(): v for k, v in item.items()} for item in value if isinstance(item, dict)]
        if len(pairs) == len(value) and all("name" in pair for pair in pairs):
            return {str(pair["name"]): pair.get("value") for pair in pairs}
    raise BadRequest("inputParameters must be an object or a list of name/value pairs.")


def parse_start(request: Request) -> StartOptions:
    """Validate a start body loosely, as the reference page's examples disagree on types."""
    body = _json_body(request)
    parallelism = _body_int(body, "parallelism", 1, 1) or 1
    concurrency = _body_int(body, "parallelMaxConcurrency", 1, 1) or 1
    _body_int(body, "timeout", None, 0)
    _body_int(body, "proxyPoolId", None, 0)
    export = body.get("parallelexport")
    if export is not None and not isinstance(export, str | bool):
        raise BadRequest("parallelExport must be a string.")
    separated = export is True or (isinstance(export, str) and export.lower().startswith("sep"))
    for name in ("isExclusive", "isWaitOnFailure"):
        _body_bool(body, name)
    for name in ("logLevel", "logMode"):
        if not isinstance(body.get(name.lower()), str | None):
            raise BadRequest(f"{name} must be a string.")
    return StartOptions(
        inputs=_inputs(body.get("inputparameters")),
        parallelism=parallelism,
        parallel_max_concurrency=concurrency,
        parallel_export="Separated" if separated else "Combined",
        synchronous=_body_bool(body, "isRunSynchronously"),
    )


# --- endpoints --------------------------------------------------------------------------------


def _sort_key(column: str) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    def key(agent: dict[str, Any]) -> tuple[Any, ...]:
        value = agent[column]
        if isinstance(value, str):
            value = value.casefold()
        return (value is not None, value if value is not None else 0, agent["id"])

    return key


def list_agents(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    """Bare array without paging parameters; {"agents", "totalRecordCount"} with them."""
    q = _query(request)
    name = (q.get("name") or "").casefold()
    status = _int(q.get("status"), "status")
    space_id = _int(q.get("spaceid"), "spaceId")
    config_type = q.get("configtype") or None
    if config_type is not None:
        config_type = CONFIG_TYPES.get(config_type.lower()) or _int(config_type, "configType")
    column = SORT_COLUMNS.get((q.get("sortcolumn") or "id").lower())
    if column is None:
        raise BadRequest(f"sortColumn must be one of {', '.join(list(SORT_COLUMNS)[1:])}.")
    order = (q.get("sortorder") or "0").lower()
    if order not in ("0", "1", "asc", "desc"):
        raise BadRequest("sortOrder must be 0 (ascending) or 1 (descending).")
    explicit = "sortcolumn" in q or "sortorder" in q

    data = sandbox.data
    with data.lock:
        agents = sorted(data.agents.values(), key=lambda a: a.id)
        agents = arrange(agents, sandbox.listing_order, lambda a: (a.created, a.id))
        details = [data.agent_detail(agent) for agent in agents]
        hidden = {agent.id for agent in agents if not agent.list_hints}
    details = [
        d
        for d in details
        if name in d["name"].casefold()
        and (status is None or d["status"] == status)
        and (space_id is None or d["spaceId"] == space_id)
        and (config_type is None or d["configType"] == config_type)
    ]
    if explicit:  # else the server's own order
        details.sort(key=_sort_key(column), reverse=order in ("1", "desc"))
    summaries = [summarize(d, hints=sandbox.list_hints and d["id"] not in hidden) for d in details]
    if "pageindex" not in q and "recordsperpage" not in q:
        return json_response(summaries)
    page = _int(q.get("pageindex"), "pageIndex", minimum=1) or 1
    size = _int(q.get("recordsperpage"), "recordsPerPage", minimum=1) or DEFAULT_PAGE_SIZE
    window = summaries[(page - 1) * size : page * size]
    return json_response({"agents": window, "totalRecordCount": len(summaries)})


def get_agent(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    data = sandbox.data
    return json_response(data.agent_detail(data.agent(ids["agent"])))


def list_runs(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    """The newest `maxRecords` runs (default 50, at most 1000), newest first."""
    limit = _int(_query(request).get("maxrecords"), "maxRecords", minimum=1)
    limit = min(limit or DEFAULT_RUN_RECORDS, MAX_RUN_RECORDS)
    data = sandbox.data
    with data.lock:
        runs = data.agent(ids["agent"]).runs_newest_first()[:limit]
        runs = arrange(runs, sandbox.listing_order, lambda r: (r.created, r.id))
        return json_response([data.run_json(run) for run in runs])


def run_status(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    data = sandbox.data
    data.agent(ids["agent"])
    try:
        run = data.run(ids["agent"], ids["run"])
    except NotFound as exc:
        return status_error(404, str(exc))
    return json_response(data.run_json(run))


def start_agent(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    """Queue a run (async) or run it to completion and answer {agent name: rows} (sync)."""
    options = parse_start(request)
    data = sandbox.data
    with data.lock:
        run = data.start_run(ids["agent"], options, sandbox.run_duration)
        if options.synchronous:
            name = data.agent(ids["agent"]).name
            return json_response({name: data.output_table(run).records()})
        return json_response(data.run_json(run))


def stop_run(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    data = sandbox.data
    with data.lock:
        return json_response(data.run_json(data.stop_run(ids["agent"], ids["run"])))


def stop_agent(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    data = sandbox.data
    with data.lock:
        return json_response([data.run_json(run) for run in data.stop_agent(ids["agent"])])


def delete_run(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    """removeMethod RemoveEntireRun (the default), RemoveAllFiles or RemoveAllFilesAndAgentInput: 204."""
    method = _query(request).get("removemethod") or REMOVE_METHODS[0]
    match = next((m for m in REMOVE_METHODS if m.lower() == method.lower()), None)
    if match is None:
        raise BadRequest(f"removeMethod must be one of {', '.join(REMOVE_METHODS)}, not {method!r}.")
    sandbox.data.delete_run(ids["agent"], ids["run"], match)
    return Response(204)


def run_files(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    data = sandbox.data
    run = data.run(ids["agent"], ids["run"])
    with data.lock:
        files = arrange(run.files, sandbox.listing_order, lambda f: (f.created, f.id))
        return json_response([data.file_json(f) for f in files])


def download(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    """The file body (or the byte range asked for), or a 302 to a signed storage URL.

    A file removed after it was listed answers 404 here, or from the storage host when redirecting
    (the record is still there, the object is not).
    """
    if not sandbox.redirect_downloads:
        run_file = sandbox.data.file(ids["agent"], ids["run"], ids["file"])
        try:
            return file_response(run_file, request.headers.get("Range"))
        except RangeNotSatisfiable as exc:
            response = problem(416, str(exc), request.path)
            response.headers["Content-Range"] = f"bytes */{exc.size}"
            return response
    sandbox.data.listed_file(ids["agent"], ids["run"], ids["file"])
    location = sandbox.signer.sign(
        sandbox.storage_url, ids["agent"], ids["run"], ids["file"], sandbox.signed_url_ttl
    )
    return Response(302, headers={"Location": location})


def list_versions(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    """Highest (active) version first."""
    versions = arrange(
        sandbox.data.versions(ids["agent"]), sandbox.listing_order, lambda v: (v.created, v.version)
    )
    return json_response([v.to_json() for v in versions])


def restore_version(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    """A new version max+1 copying version n, commented with the body's `content`."""
    body = _json_body(request)
    comments = body.get("content")
    if comments is None:
        comments = f"Restored version {ids['version']}"
    if not isinstance(comments, str):
        raise BadRequest("content must be a string.")
    version = sandbox.data.restore_version(ids["agent"], ids["version"], comments)
    return json_response(version.to_json())


def _page(q: dict[str, str]) -> tuple[int, int]:
    """pageIndex (from 1) and recordsPerPage of a billing list, at most 100 per page."""
    page = _int(q.get("pageindex"), "pageIndex", minimum=1) or 1
    size = _int(q.get("recordsperpage"), "recordsPerPage", minimum=1) or DEFAULT_BILLING_PAGE_SIZE
    if size > MAX_BILLING_PAGE_SIZE:
        raise BadRequest(f"recordsPerPage must be at most {MAX_BILLING_PAGE_SIZE}.")
    return page, size


def agent_run_costs(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    """Billed runs dated within [startDate, endDate], oldest first; totalCost is this page's."""
    q = _query(request)
    page, size = _page(q)
    data = sandbox.data
    with data.lock:
        agent = data.agent(ids["agent"])
        try:
            entries = billing.run_costs(agent, q.get("startdate"), q.get("enddate"))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
    entries = arrange(entries, sandbox.listing_order, lambda e: (e["date"], e["runId"]))
    window = entries[(page - 1) * size : page * size]
    total = sum((entry["cost"] for entry in window), Decimal(0))
    runs = [{**entry, "cost": billing.number(entry["cost"])} for entry in window]
    return json_response(
        {
            "runs": runs,
            "totalRecordCount": len(entries),
            "totalCost": billing.number(total),
            "agentId": agent.id,
            "agentName": agent.name,
        }
    )


def credit_history(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    """The organisation's credit transactions, newest first."""
    page, size = _page(_query(request))
    with sandbox.data.lock:
        rows = billing.credit_history(sandbox.data)
    rows = arrange(rows, sandbox.listing_order, lambda row: (row["created"], row["id"]))
    return json_response(
        {
            "transactions": rows[(page - 1) * size : page * size],
            "totalCount": len(rows),
            "pageIndex": page,
            "recordsPerPage": size,
        }
    )


def list_spaces(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    """Every space by id; agents in the personal space (spaceId null) belong to none of them."""
    data = sandbox.data
    with data.lock:
        spaces = [data.spaces[key] for key in sorted(data.spaces)]
        spaces = arrange(spaces, sandbox.listing_order, lambda space: (space.created, space.id))
        return json_response([space.to_json() for space in spaces])


def space_agents(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    """The agents of one space, by id, in the space listing's shape."""
    data = sandbox.data
    with data.lock:
        data.space(ids["space"])
        agents = [
            a for a in sorted(data.agents.values(), key=lambda a: a.id) if a.fields["spaceId"] == ids["space"]
        ]
        agents = arrange(agents, sandbox.listing_order, lambda a: (a.created, a.id))
        details = [data.agent_detail(a) for a in agents]
    extra = {"isArchived": False, "approvalStatus": None, "labels": []}
    return json_response([{key: d[key] for key in SPACE_AGENT_FIELDS} | extra for d in details])


def list_schedules(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    """An agent's schedules, by id, as a bare array."""
    data = sandbox.data
    with data.lock:
        schedules = sorted(data.agent(ids["agent"]).schedules.values(), key=lambda s: s.id)
        schedules = arrange(schedules, sandbox.listing_order, lambda s: (s.created, s.id))
        return json_response(
            [data.schedule_json(s, type_as_text=sandbox.schedule_type_text) for s in schedules]
        )


def get_schedule(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    data = sandbox.data
    with data.lock:
        schedule = data.schedule(ids["agent"], ids["schedule"])
        return json_response(data.schedule_json(schedule, type_as_text=sandbox.schedule_type_text))


def _moment(value: str | None, name: str) -> datetime | None:
    """A date (`2026-01-16`, midnight UTC) or an ISO 8601 date-time; naive values are UTC."""
    if value is None or not value.strip():
        return None
    try:
        return parse_time(value.strip())
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date or date-time, not {value!r}.") from None


def upcoming_schedules(sandbox: ApiHost, request: Request, ids: Ids) -> Response:
    """The organisation's enabled schedules whose next run falls in [startDate, endDate] (default: today and
    the 7 days after), by next run time."""
    q = _query(request)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = _moment(q.get("startdate"), "startDate") or today
    end = _moment(q.get("enddate"), "endDate") or start + timedelta(days=UPCOMING_DAYS)
    if end < start:
        raise BadRequest("endDate must not be before startDate.")
    entries = sandbox.data.upcoming(start, end)
    return json_response(
        arrange(entries, sandbox.listing_order, lambda e: (parse_time(e["nextRunTime"]), e["scheduleId"]))
    )


# (method, path, scope, endpoint)
ROUTES: list[tuple[str, str, str, Endpoint]] = [
    ("GET", "/agent/all", READ, list_agents),
    ("GET", "/agent/{agent}", READ, get_agent),
    ("GET", "/agent/{agent}/runs", READ, list_runs),
    ("GET", "/agent/{agent}/run/{run}/status", READ, run_status),
    ("POST", "/agent/{agent}/start", WRITE, start_agent),
    ("POST", "/agent/{agent}/stop", WRITE, stop_agent),
    ("POST", "/agent/{agent}/run/{run}/stop", WRITE, stop_run),
    ("DELETE", "/agent/{agent}/run/{run}", WRITE, delete_run),
    ("GET", "/agent/{agent}/run/{run}/files", READ, run_files),
    ("GET", "/agent/{agent}/run/{run}/file/{file}/download", READ, download),
    ("GET", "/agent/{agent}/versions", READ, list_versions),
    ("POST", "/agent/{agent}/version/{version}/restore", WRITE, restore_version),
    ("GET", "/agent/{agent}/schedules", READ, list_schedules),
    ("GET", "/agent/{agent}/schedules/{schedule}", READ, get_schedule),
    ("GET", "/analytics/schedules/upcoming", READ, upcoming_schedules),
    ("GET", "/billing/agents/{agent}/runs", BILLING_READ, agent_run_costs),
    ("GET", "/billing/history", BILLING_READ, credit_history),
    ("GET", "/spaces", READ, list_spaces),
    ("GET", "/spaces/{space}/agents", READ, space_agents),
]
COMPILED = [
    (
        method,
        re.compile(
            re.escape(PREFIX) + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)),
            re.IGNORECASE,
        ),
        scope,
        endpoint,
    )
    for method, template, scope, endpoint in ROUTES
]


# --- the pipeline -----------------------------------------------------------------------------


def _route(request: Request) -> tuple[Endpoint, str, Ids] | Response:
    path = request.path.rstrip("/") or "/"
    method = "GET" if request.method == "HEAD" else request.method
    allowed: list[str] = []
    for route_method, pattern, scope, endpoint in COMPILED:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if route_method != method:
            allowed.append(route_method)
            continue
        ids: Ids = {}
        for group, value in match.groupdict().items():
            if not value.isascii() or not value.isdigit():
                detail = f"{ID_NAMES[group]} must be an integer, not {value!r}."
                return problem(400, detail, request.path)
            ids[group] = int(value)
        return endpoint, scope, ids
    if allowed:
        response = problem(405, f"{request.method} is not allowed here.", request.path)
        response.headers["Allow"] = ", ".join(sorted(set(allowed)))
        return response
    return problem(404, f"No API route matches {request.path}.", request.path)


def handle(sandbox: ApiHost, request: Request) -> Response:
    """Auth, then rate limit, then routing; faults were applied before this by the server."""
    key = api_key(request.headers)
    granted = scopes(sandbox, key)
    if granted is None:
        detail = "Missing or invalid API key. Send 'Authorization: ApiKey <key>'."
        response = problem(401, detail, request.path)
        response.headers["WWW-Authenticate"] = "ApiKey"
        return response
    assert key is not None
    decision = sandbox.limiter.acquire(key, sandbox.rate_limit, sandbox.rate_window)
    if not decision.allowed:
        detail = f"Rate limit of {sandbox.rate_limit} requests per {sandbox.rate_window:g} s reached."
        response = problem(429, detail, request.path)
        response.headers["Retry-After"] = str(decision.retry_after)
        return response
    routed = _route(request)
    if isinstance(routed, Response):
        return routed
    endpoint, scope, ids = routed
    if scope not in granted:
        return _insufficient_scope(scope, request)
    sandbox.data.tick()
    try:
        return endpoint(sandbox, request, ids)
    except NotFound as exc:
        return problem(404, str(exc), request.path)
    except (BadRequest, NotRunning) as exc:
        return problem(400, str(exc), request.path)


def _insufficient_scope(scope: str, request: Request) -> Response:
    if scope == WRITE:
        detail = "This API key may read but not start, stop, restore or delete."
    else:
        detail = f"This API key lacks the {scope} scope."
    response = problem(403, detail, request.path, errorCode="insufficient_scope")
    response.headers["WWW-Authenticate"] = f'ApiKey error="insufficient_scope", scope="{scope}"'
    return response


def add_rate_headers(sandbox: ApiHost, request: Request, response: Response) -> None:
    """Every API answer, errors included, states the limit and what is left of it."""
    limit, window = sandbox.rate_limit, sandbox.rate_window
    key = api_key(request.headers)
    remaining = limit
    if key is not None and scopes(sandbox, key) is not None:
        remaining = sandbox.limiter.remaining(key, limit, window)
    response.headers["X-RateLimit-Limit"] = str(limit)
    response.headers["X-RateLimit-Remaining"] = str(remaining)
    response.headers["X-RateLimit-Window-Seconds"] = f"{window:g}"


def fault_response(fault: Fault, request: Request) -> Response:
    """An injected 429, 5xx, 400 (a request this Sequentum rejects), 403 (the key may not read this:
    insufficient_scope) or 404 (an endpoint this Sequentum does not have), as problem details."""
    status = int(fault.kind)
    if status == 403:
        response = problem(
            status,
            "Injected fault (403): this API key may not read this.",
            request.path,
            errorCode="insufficient_scope",
        )
        response.headers["WWW-Authenticate"] = 'ApiKey error="insufficient_scope"'
        return response
    response = problem(status, f"Injected fault ({fault.kind}).", request.path)
    if status == 429:
        response.headers["Retry-After"] = f"{fault.retry_after:g}"
    return response
