"""SequentumClient: the only place in tap-sequentum that speaks HTTP.

One `requests` session for the API host (the key is attached to API-host URLs only), one retry loop for
GETs driven by urllib3's `Retry` policy (429, 5xx, transport failures classified by exception type, cut-off
answers and broken downloads; `Retry-After` honoured; POSTs never retried), a sliding-window pacer fed by
the `X-RateLimit-*` headers, a per-sync answer cache (no URL is fetched twice), both list shapes, and
downloads that survive redirects to signed storage URLs. Streams and the `sequentum` CLI both use it.
"""

from __future__ import annotations

import collections
import http.client
import logging
import os
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import metadata
from typing import IO, Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from tap_sequentum import errors
from tap_sequentum.domain import parse_timestamp
from tap_sequentum.listings import by_key, each_once, order_of

DEFAULT_BASE_URL = "https://dashboard.sequentum.com"
API_PREFIX = "/api/v1"
RETRY_STATUSES = (429, 500, 502, 503, 504)
_CHUNK = 1 << 20
_T = TypeVar("_T")

logger = logging.getLogger("tap_sequentum.client")


def _version() -> str:
    try:
        return metadata.version("tap-sequentum")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


DEFAULT_USER_AGENT = f"tap-sequentum/{_version()}"


class RateLimiter:
    """Sliding-window pacer: at most `limit` requests in any `window` seconds.

    Sequentum allows 100 requests per 60 s per key. A sync that paces itself never sees a 429 on its own,
    while small syncs pay no delay at all (unlike a fixed interval between requests). A request counts a
    little longer than the window (`margin`: 2 % of it, at least 0.1 s): the server stamps a request when it
    arrives, not when it was sent, and transit times vary.
    """

    def __init__(
        self,
        limit: int = 100,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        """Block until one more request fits in the window, then count it."""
        with self._lock:
            while True:
                now = self._clock()
                span = self.window + self.margin
                while self._sent and self._sent[0] <= now - span:
                    self._sent.popleft()
                if len(self._sent) < max(self.limit, 1):
                    self._sent.append(now)
                    return
                pause = self._sent[0] + span - now
                self.waited += pause
                self._sleep(pause)

    @property
    def margin(self) -> float:
        return max(0.02 * self.window, 0.1)

    def update(self, headers: Mapping[str, str]) -> None:
        """Adopt the limit the server announces, so the pacer follows plan changes."""
        limit = _to_number(headers.get("X-RateLimit-Limit"))
        window = _to_number(headers.get("X-RateLimit-Window-Seconds"))
        if limit and limit > 0:
            self.limit = int(limit)
        if window and window > 0:
            self.window = float(window)


def _to_number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def unpack_page(data: Any, key: str) -> tuple[list[dict], int | None]:
    """Split a list answer into (items, total); accepts a bare array or a paged object.

    Paged objects hold the page under `key` (`agents` for agent/all) or `items`, and a total count under
    one of several names seen across API versions.
    """
    if isinstance(data, list):
        return data, None
    if not isinstance(data, dict):
        raise errors.ResponseFormatError(
            f"Sequentum answered a list request with {type(data).__name__}, not a list or a page."
        )
    items = next(
        (data[k] for k in (key, "items", "Items", "data", "records") if isinstance(data.get(k), list)),
        None,
    )
    if items is None:
        raise errors.ResponseFormatError(
            f"Sequentum answered a paged request without a '{key}' or 'items' list "
            f"(keys: {', '.join(sorted(data)) or 'none'})."
        )
    total = next(
        (
            int(data[k])
            for k in ("totalRecordCount", "totalCount", "total", "totalRecords", "count")
            if isinstance(data.get(k), int)
        ),
        None,
    )
    return items, total


def problem_detail(response: requests.Response) -> str:
    """The most useful sentence from an error body: RFC 7807 or Sequentum's other error shape."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:200] if text and "<html" not in text[:200].lower() else ""
    if not isinstance(body, dict):
        return ""
    for key in ("detail", "message", "title", "statusDescription", "error"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


@runtime_checkable
class Sink(Protocol):
    """Where a download writes. `restart` comes before every attempt: a transfer that broke starts again
    from the first byte, so whatever the broken attempt wrote must be forgotten (and whoever reads the
    sink as it fills must start over: `contents.fetch.Transfer`)."""

    def write(self, data: bytes, /) -> object: ...

    def restart(self) -> None: ...


class FileSink:
    """A seekable binary file as a `Sink`: rewound and emptied on every restart."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle

    def write(self, data: bytes, /) -> int:
        return self.handle.write(data)

    def restart(self) -> None:
        self.handle.seek(0)
        self.handle.truncate()


@dataclass(frozen=True)
class DownloadResult:
    """What a completed download wrote."""

    size: int
    seconds: float
    attempts: int
    redirected: bool
    complete: bool = True


class SequentumClient:
    """A small, safe client for Sequentum Cloud's REST API (`/api/v1`)."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff_factor: float = 0.5,
        user_agent: str | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        api_key = api_key.strip() if isinstance(api_key, str) else api_key
        if not api_key:
            raise errors.ConfigurationError(errors.MISSING_API_KEY)
        if not isinstance(api_key, str) or any(ch.isspace() or not ch.isprintable() for ch in api_key):
            # It could not travel in a header (requests would quote it in its error), and no key has one.
            raise errors.ConfigurationError(
                "The API key (api_key / TAP_SEQUENTUM_API_KEY) holds a line break, a space or another "
                "character no key has: copy it again; its value is not shown."
            )
        base = (base_url or DEFAULT_BASE_URL).rstrip("/")
        if base.endswith(API_PREFIX):
            base = base[: -len(API_PREFIX)]
        try:
            parts = urlsplit(base)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in base
            valid = valid and (parts.port is None or parts.port > 0)
        except ValueError:  # a bad port or bracket
            valid = False
        if not valid:
            raise errors.ConfigurationError(
                f"base_url must look like https://dashboard.sequentum.com, not {base_url!r}."
            )
        if not timeout > 0:
            raise errors.ConfigurationError(
                f"request_timeout must be a positive number of seconds, not {timeout}."
            )
        if max_retries < 0:
            raise errors.ConfigurationError(f"max_retries must be 0 or more, not {max_retries}.")
        self.base_url = base
        self._api_root = base + API_PREFIX + "/"
        self._netloc = parts.netloc
        self._scheme = parts.scheme
        self._api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        # The one retry policy: urllib3's Retry decides how long to wait (exponential backoff, or
        # Retry-After) and when to give up; `_with_retries` is the one loop that applies it, to GETs only.
        self._retry = Retry(
            total=max_retries,
            connect=None,
            read=None,
            status=None,
            other=None,
            redirect=False,
            backoff_factor=backoff_factor,
            backoff_max=60,
            respect_retry_after_header=True,
        )
        self.limiter = rate_limiter or RateLimiter()
        self.request_count = 0
        self._cache: dict[str, Any] = {}
        self._cache_lock = threading.Lock()
        self._gone_runs: set[tuple[int, int]] = set()
        self._unordered_runs: set[int] = set()
        self._proxies: dict[str, dict[str, str]] = {}
        headers = {"User-Agent": user_agent or DEFAULT_USER_AGENT, "Accept": "application/json"}
        self._session = _new_session(headers)
        # Signed storage URLs get their own session that never holds the key.
        self._storage = _new_session({"User-Agent": headers["User-Agent"]})

    # -- plumbing ---------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return errors.redact(text, self._api_key)

    def _fail(self, cls: type[errors.SequentumError], message: str) -> errors.SequentumError:
        return cls(self._redact(message))

    def url(self, path: str) -> str:
        """Absolute API URL for a path relative to /api/v1."""
        return self._api_root + path.lstrip("/")

    def _is_api(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc) == (self._scheme, self._netloc)

    def _auth_headers(self, url: str) -> dict[str, str]:
        # The key goes to the API host, over the base URL's scheme, and nowhere else (not to storage
        # hosts, not after a redirect to another host or to plain http).
        return {"Authorization": f"ApiKey {self._api_key}"} if self._is_api(url) else {}

    def _proxies_for(self, url: str) -> dict[str, str]:
        """The environment's proxies for a host, looked up once per host rather than on every request."""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self._proxies:
            self._proxies[key] = requests.utils.get_environ_proxies(key)
        return self._proxies[key]

    def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        stream: bool = False,
        headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
    ) -> requests.Response:
        """One request, paced when it goes to the API host; a transport failure raises `_Retryable`
        for a GET and a named error for a POST (never retried: a retried start queues a second run)."""
        api = self._is_api(url)
        if api:
            self.limiter.acquire()
            self.request_count += 1
        try:
            response = (session or self._session).request(
                method,
                url,
                params=params,
                json=json_body,
                headers={**(headers or {}), **self._auth_headers(url)},
                timeout=self.timeout,
                stream=stream,
                allow_redirects=False,
                proxies=self._proxies_for(url),
            )
        except requests.exceptions.RequestException as exc:
            reason, sent = transport_failure(exc)
            if method == "GET":
                raise _Retryable(reason, timeout=isinstance(exc, requests.exceptions.ReadTimeout)) from None
            if sent:
                raise self._fail(
                    errors.AmbiguousWriteError,
                    f"The request to {what} was sent but its answer was lost ({reason}); it may have "
                    "taken effect: check before repeating it.",
                ) from None
            raise self._fail(
                errors.ConnectionFailedError,
                f"Could not reach Sequentum at {self.base_url} for {what} ({reason}): check base_url "
                "and the network.",
            ) from None
        if api:
            self.limiter.update(response.headers)
        return response

    def _with_retries(self, what: str, attempt: Callable[[], _T]) -> _T:
        """Run `attempt` (a GET and the reading of its answer) until it succeeds or retries run out.

        The one retry loop of the client: 429, 5xx, transport failures, cut-off answers, broken or
        refused downloads all come here as `_Retryable`, classified by exception type.
        """
        retry = self._retry
        while True:
            try:
                return attempt()
            except _Retryable as failure:
                raw = failure.response.raw if failure.response is not None else None
                try:
                    retry = retry.increment("GET", what, response=raw, error=failure if raw is None else None)
                except MaxRetryError:
                    raise self._gave_up(failure, what) from None
                finally:
                    if failure.response is not None:
                        failure.response.close()
                logger.info("Retrying %s: %s", what, failure.reason)
                _pause(retry, raw)

    def _gave_up(self, failure: _Retryable, what: str) -> errors.SequentumError:
        """The named error once every retry of a GET failed."""
        code = failure.response.status_code if failure.response is not None else None
        after = f"after {self.max_retries} retries"
        if code == 429:
            return self._fail(
                errors.RateLimitedError,
                f"Sequentum's rate limit was still exceeded {after} while fetching {what} (HTTP 429): "
                "fewer parallel jobs on this key, or try again later.",
            )
        if code is not None:
            detail = failure.detail
            return self._fail(
                errors.ServerError,
                f"Sequentum failed on {what} with HTTP {code} {after}{': ' + detail if detail else ''}: "
                "try again later.",
            )
        if failure.download:
            return self._fail(
                errors.DownloadError,
                f"Could not download {what} after {self.max_retries + 1} attempts ({failure.reason}); "
                "nothing from it was emitted: run the sync again later.",
            )
        if failure.timeout:
            return self._fail(
                errors.ConnectionFailedError,
                f"Sequentum at {self.base_url} did not answer within {self.timeout:g} s while fetching "
                f"{what} ({after}): raise request_timeout or try later.",
            )
        return self._fail(
            errors.ConnectionFailedError,
            f"Could not reach Sequentum at {self.base_url} while fetching {what} ({failure.reason}): "
            "check base_url and the network.",
        )

    def _raise_for_status(self, response: requests.Response, what: str) -> None:
        """A final (not retried) error answer as a named error; a 429/5xx of a GET is `_Retryable`."""
        code = response.status_code
        if code < 400:
            return
        detail = problem_detail(response).rstrip(".")
        suffix = f": {detail}" if detail else ""
        if code in RETRY_STATUSES and response.request.method == "GET":
            raise _Retryable(f"HTTP {code}", response=response, detail=detail)
        if code == 401:
            raise self._fail(
                errors.AuthenticationError,
                "Sequentum rejected the API key (HTTP 401): check api_key / TAP_SEQUENTUM_API_KEY "
                "(keys expire, by default after one year).",
            )
        if code == 403:
            error_code = None
            try:
                body = response.json()
                if isinstance(body, dict) and body.get("errorCode"):
                    error_code = str(body["errorCode"])
            except ValueError:
                pass
            # RFC 6750's `scope` parameter names what the key lacks (`ApiKey error="insufficient_scope",
            # scope="billing:read"`), when the server says.
            scope = re.search(r'\bscope="([^"]+)"', response.headers.get("WWW-Authenticate", ""))
            code_text = f", {error_code}" if error_code else ""
            raise errors.PermissionDeniedError(
                self._redact(
                    f"Sequentum refused access to {what} (HTTP 403{code_text}): the API key's user lacks "
                    "permission; ask a Sequentum administrator to grant it."
                ),
                error_code=error_code,
                scope=scope.group(1) if scope else None,
                detail=self._redact(detail),
            )
        if code == 404:
            raise self._fail(
                errors.NotFoundError,
                f"Sequentum answered 404 Not Found for {what}{suffix}: check the id.",
            )
        if code == 429:
            raise self._fail(
                errors.RateLimitedError,
                f"Sequentum's rate limit was exceeded for {what} (HTTP 429); it was not repeated, as "
                "repeating it could act twice: try again later.",
            )
        if code >= 500:
            raise self._fail(
                errors.ServerError,
                f"Sequentum failed on {what} with HTTP {code}{suffix}; it was not repeated, as repeating "
                "it could act twice: check whether it took effect, then try again.",
            )
        raise self._fail(
            errors.RequestRejectedError,
            f"Sequentum rejected the request for {what} (HTTP {code}){suffix}.",
        )

    # -- generic verbs ------------------------------------------------------------------------------

    def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        what: str,
        cache: bool = True,
        exact: bool = False,
    ) -> Any:
        """GET a JSON answer; within one client (one sync) each distinct URL is fetched once.

        `exact` parses non-integer numbers as `Decimal`, with the digits sent (money, never a float).
        """
        url = self.url(path)
        key = url + "?" + "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
        key += "#exact" if exact else ""
        if cache:
            with self._cache_lock:
                if key in self._cache:
                    return self._cache[key]
        data = self._get_json_uncached(url, params, what, exact=exact)
        if cache:
            with self._cache_lock:
                self._cache[key] = data
        return data

    def _get_json_uncached(
        self, url: str, params: Mapping[str, Any] | None, what: str, *, exact: bool = False
    ) -> Any:
        def attempt() -> Any:
            response = self._send("GET", url, what=what, params=params)
            self._raise_for_status(response, what)
            try:
                return response.json(parse_float=Decimal) if exact else response.json()
            except ValueError:
                raise self._fail(
                    errors.ResponseFormatError,
                    f"Sequentum answered {what} with something that is not JSON "
                    f"(HTTP {response.status_code}, {response.headers.get('Content-Type', 'no type')}).",
                ) from None

        return self._with_retries(what, attempt)

    def post_json(self, path: str, body: Any, *, what: str) -> Any:
        """POST once (never retried: a retried start queues a second run) and return the JSON answer."""
        response = self._send("POST", self.url(path), what=what, json_body=body)
        self._raise_for_status(response, what)
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    def iter_pages(
        self,
        path: str,
        key: str,
        *,
        what: str,
        page_size: int = 100,
        params: Mapping[str, Any] | None = None,
        exact: bool = False,
    ) -> Iterator[dict]:
        """Yield every item of a paginated list (`pageIndex` from 1, `recordsPerPage`)."""
        page = 1
        seen = 0
        while True:
            query = {**(params or {}), "pageIndex": page, "recordsPerPage": page_size}
            data = self.get_json(path, query, what=what, exact=exact)
            items, total = unpack_page(data, key)
            yield from items
            seen += len(items)
            if isinstance(data, list):
                return  # the server ignored paging and sent everything
            if not items or len(items) < page_size or (total is not None and seen >= total):
                return
            page += 1

    # -- Sequentum endpoints ------------------------------------------------------------------------

    def list_agents(self, page_size: int = 100, **filters: Any) -> list[dict]:
        """Every agent the key can see (organisation and personal space), each once, by id: the listing's own
        order is not documented, and a listing that shifts while it is paged repeats an agent."""
        pages = self.iter_pages(
            "agent/all", "agents", what="the agent list", page_size=page_size, params=filters
        )
        return by_key(each_once(pages))

    def get_agent(self, agent_id: int) -> dict:
        return self.get_json(f"agent/{int(agent_id)}", what=f"agent {agent_id}")

    def list_runs(self, agent_id: int, max_records: int = 1000) -> list[dict]:
        """Runs of an agent as listed; only the newest `max_records` can be listed at all.

        Callers do not rely on the order, but the cut does: Sequentum keeps the newest runs and lists them
        newest first. A full list that is not newest first may have kept others: said once per agent.
        """
        data = self.get_json(
            f"agent/{int(agent_id)}/runs",
            {"maxRecords": int(max_records)},
            what=f"runs of agent {agent_id}",
        )
        runs = unpack_page(data, "runs")[0]
        if len(runs) >= max_records and agent_id not in self._unordered_runs:
            order = order_of(parse_timestamp(run.get("created")) for run in runs if isinstance(run, dict))
            if order in ("oldest first", "unordered"):
                self._unordered_runs.add(agent_id)
                logger.warning(
                    "The runs list of agent %s is full (%d runs) and not newest first (%s): it may hold "
                    "other runs than the newest, whose cut Sequentum documents. Check base_url's server.",
                    agent_id,
                    len(runs),
                    order,
                )
        return runs

    def get_run(self, agent_id: int, run_id: int) -> dict:
        """The current state of one run (never cached: callers poll it)."""
        return self.get_json(
            f"agent/{int(agent_id)}/run/{int(run_id)}/status",
            what=f"run {run_id} of agent {agent_id}",
            cache=False,
        )

    def list_files(self, agent_id: int, run_id: int, *, gone_ok: bool = False) -> list[dict]:
        """The files of a run. With `gone_ok`, a run Sequentum removed after it was listed (run retention,
        a deletion) has no files, said once per run, instead of a `NotFoundError`."""
        run = (int(agent_id), int(run_id))
        if gone_ok and run in self._gone_runs:
            return []
        try:
            data = self.get_json(
                f"agent/{int(agent_id)}/run/{int(run_id)}/files",
                what=f"files of run {run_id} of agent {agent_id}",
            )
        except errors.NotFoundError:
            if not gone_ok or self._run_exists(*run):
                raise
            self._gone_runs.add(run)
            logger.warning(
                "Run %s of agent %s was removed after it was listed: it has no files now.", run_id, agent_id
            )
            return []
        return unpack_page(data, "files")[0]

    def _run_exists(self, agent_id: int, run_id: int) -> bool:
        """Whether Sequentum still knows the run (its files answered 404: removed, or not readable)."""
        try:
            self.get_run(agent_id, run_id)
        except errors.NotFoundError:
            return False
        return True

    def list_versions(self, agent_id: int) -> list[dict]:
        data = self.get_json(f"agent/{int(agent_id)}/versions", what=f"versions of agent {agent_id}")
        return unpack_page(data, "versions")[0]

    def start_agent(self, agent_id: int, body: Mapping[str, Any]) -> Any:
        return self.post_json(f"agent/{int(agent_id)}/start", dict(body), what=f"start agent {agent_id}")

    def stop_run(self, agent_id: int, run_id: int) -> Any:
        return self.post_json(
            f"agent/{int(agent_id)}/run/{int(run_id)}/stop",
            {},
            what=f"stop run {run_id} of agent {agent_id}",
        )

    def restore_version(self, agent_id: int, version: int, comment: str) -> Any:
        return self.post_json(
            f"agent/{int(agent_id)}/version/{int(version)}/restore",
            {"content": comment},
            what=f"restore version {version} of agent {agent_id}",
        )

    def list_spaces(self) -> list[dict]:
        """The organisation's spaces (an agent with a null `spaceId` is in its owner's personal space)."""
        return unpack_page(self.get_json("spaces", what="the spaces"), "spaces")[0]

    def list_schedules(self, agent_id: int) -> list[dict]:
        """An agent's schedules. No field says one changed: `schedules.py` decides when to read them."""
        data = self.get_json(f"agent/{int(agent_id)}/schedules", what=f"the schedules of agent {agent_id}")
        return unpack_page(data, "schedules")[0]

    def list_upcoming_schedules(self, start: str, end: str) -> list[dict]:
        """The organisation's scheduled runs from `start` to `end` (analytics/schedules/upcoming), in one
        request."""
        data = self.get_json(
            "analytics/schedules/upcoming",
            {"startDate": start, "endDate": end},
            what="the upcoming scheduled runs",
        )
        return unpack_page(data, "schedules")[0]

    def list_run_costs(
        self, agent_id: int, start_date: str | None = None, page_size: int = 100
    ) -> Iterator[dict]:
        """What each final run of an agent cost, from `start_date` (inclusive), in the server's order (not
        documented); needs the billing:read scope. Costs are exact `Decimal`s."""
        return self.iter_pages(
            f"billing/agents/{int(agent_id)}/runs",
            "runs",
            what=f"the run costs of agent {agent_id}",
            page_size=page_size,
            params={"startDate": start_date} if start_date else None,
            exact=True,
        )

    def list_credit_transactions(self, page_size: int = 100) -> Iterator[dict]:
        """The organisation's credit history, in the server's order (newest first, though not documented);
        needs the billing:read scope. Amounts and balances are exact `Decimal`s."""
        return self.iter_pages(
            "billing/history", "transactions", what="the credit history", page_size=page_size, exact=True
        )

    # -- downloads ----------------------------------------------------------------------------------

    def download(
        self,
        agent_id: int,
        run_id: int,
        file_id: int,
        dest: Sink | IO[bytes],
        *,
        name: str | None = None,
        max_bytes: int | None = None,
    ) -> DownloadResult:
        """Write a run file into `dest`, a `Sink` or a seekable file (restarted before every attempt).

        The whole transfer is retried from scratch when it breaks, so callers never see half a file. A
        redirect to a signed storage URL is followed at once and without the API key. With `max_bytes`
        only a prefix is asked for (an HTTP Range) and `complete` says whether it was the whole file.
        """
        what = f"file {file_id}{f' ({name})' if name else ''} of run {run_id} of agent {agent_id}"
        url = self.url(f"agent/{int(agent_id)}/run/{int(run_id)}/file/{int(file_id)}/download")
        started = time.monotonic()
        attempts = 0
        sink = dest if isinstance(dest, Sink) else FileSink(dest)

        def attempt() -> DownloadResult:
            nonlocal attempts
            attempts += 1
            sink.restart()
            size, redirected, complete = self._download_once(url, sink, what, max_bytes)
            if hasattr(dest, "flush"):
                dest.flush()
            return DownloadResult(size, time.monotonic() - started, attempts, redirected, complete)

        return self._with_retries(what, attempt)

    def _download_once(
        self, url: str, dest: Sink, what: str, max_bytes: int | None
    ) -> tuple[int, bool, bool]:
        ranged = {"Range": f"bytes=0-{max_bytes - 1}"} if max_bytes else None
        response = self._send("GET", url, what=what, stream=True, headers=ranged)
        redirected = False
        for _hop in range(5):
            if not response.is_redirect:
                break
            location = urljoin(response.url, response.headers["Location"])
            response.close()
            redirected = True
            api = self._is_api(location)
            response = self._send(
                "GET",
                location,
                what=what,
                stream=True,
                headers=ranged,
                session=None if api else self._storage,
            )
            if not api and response.status_code in (400, 401, 403) and not response.is_redirect:
                # An expired or refused signed URL: a fresh one comes with the next attempt.
                response.close()
                raise _Retryable(f"the storage host answered HTTP {response.status_code}", download=True)
        with response:
            if response.is_redirect:
                raise _Retryable("too many redirects", download=True)
            self._raise_for_status(response, what)
            total = _content_range_total(response) if response.status_code == 206 else None
            expected = response.headers.get("Content-Length")
            size = 0
            try:
                for chunk in response.iter_content(_CHUNK):
                    if max_bytes is not None and size + len(chunk) >= max_bytes:
                        dest.write(chunk[: max_bytes - size])
                        size = max_bytes
                        return size, redirected, total is not None and total <= max_bytes
                    dest.write(chunk)
                    size += len(chunk)
            except requests.exceptions.RequestException as exc:
                reason, _ = transport_failure(exc)
                raise _Retryable(f"the transfer broke after {size} bytes: {reason}", download=True) from None
            encoded = response.headers.get("Content-Encoding")
            if expected and expected.isdigit() and not encoded and int(expected) != size:
                raise _Retryable(f"got {size} of {expected} bytes", download=True)
        return size, redirected, True

    def clear_cache(self) -> None:
        """Forget cached answers (after the tap itself changed what Sequentum holds, e.g. started runs)."""
        with self._cache_lock:
            self._cache.clear()

    def close(self) -> None:
        self._session.close()
        self._storage.close()


class _Retryable(Exception):
    """One GET attempt failed in a way the next attempt may not; only `_with_retries` catches it."""

    def __init__(
        self,
        reason: str,
        *,
        response: requests.Response | None = None,
        detail: str = "",
        timeout: bool = False,
        download: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.response = response
        self.detail = detail
        self.timeout = timeout
        self.download = download


def _pause(retry: Retry, response: Any) -> None:
    """Wait before the next attempt: `Retry-After` when the answer says (urllib3 reads whole seconds and HTTP
    dates; `0.5` is read here), else urllib3's exponential backoff."""
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        seconds = None
    if seconds is not None and 0 <= seconds < float("inf"):
        time.sleep(min(seconds, getattr(retry, "retry_after_max", 21600)))
        return
    try:
        retry.sleep(response)
    except urllib3.exceptions.InvalidHeader:
        retry.sleep()  # a Retry-After that says nothing readable: the backoff instead


def _new_session(headers: dict[str, str]) -> requests.Session:
    """A session that retries nothing itself (`_with_retries` does) and reads no environment per request.

    `trust_env` would look up proxies and ~/.netrc on every request; proxies are resolved once per host
    instead (`_proxies_for`), the CA bundle once here, and the key is sent explicitly, so netrc is moot.
    """
    session = requests.Session()
    session.headers.update(headers)
    session.trust_env = False
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=8)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _content_range_total(response: requests.Response) -> int | None:
    """The whole size from `Content-Range: bytes 0-99/1234`, or None when the server does not say."""
    total = response.headers.get("Content-Range", "").rpartition("/")[2]
    return int(total) if total.isdigit() else None


#: What a transport failure means to a user, by exception type (most specific first), and whether
#: the request had been sent (a POST that was sent may have taken effect).
_FAILURES: tuple[tuple[type[BaseException], str, bool], ...] = (
    (urllib3.exceptions.NameResolutionError, "host name not resolvable", False),
    (ConnectionRefusedError, "connection refused", False),
    (ssl.SSLCertVerificationError, "TLS certificate not trusted", False),
    (ssl.SSLError, "TLS error", False),
    (requests.exceptions.ConnectTimeout, "no connection in time", False),
    (urllib3.exceptions.NewConnectionError, "could not connect", False),
    (requests.exceptions.ReadTimeout, "no answer in time", True),
    (TimeoutError, "timed out", True),
    (http.client.RemoteDisconnected, "the server closed the connection", True),
    (ConnectionResetError, "connection reset", True),
    (http.client.IncompleteRead, "the answer was cut off", True),
    (urllib3.exceptions.IncompleteRead, "the answer was cut off", True),
    (urllib3.exceptions.ProtocolError, "the connection broke", True),
    (requests.exceptions.ChunkedEncodingError, "the answer was cut off", True),
)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (requests wraps urllib3, which wraps the socket error)."""
    found: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop(0)
        if item is None or any(item is seen for seen in found):
            continue
        found.append(item)
        todo += [getattr(item, "reason", None), item.__cause__, item.__context__]
        todo += [arg for arg in item.args if isinstance(arg, BaseException)]
    return found


def transport_failure(exc: BaseException) -> tuple[str, bool]:
    """(a short, key-free reason such as "connection refused", whether the request was sent).

    Classified by the types of the wrapped exceptions, never by their message text.
    """
    causes = _causes(exc)
    for kind, reason, sent in _FAILURES:
        if any(isinstance(cause, kind) for cause in causes):
            return reason, sent
    errno_error = next((c for c in causes if isinstance(c, OSError) and c.errno), None)
    if errno_error is not None:
        return os.strerror(errno_error.errno).lower(), False
    return type(exc).__name__, True
