"""SequentumClient: the only place in tap-sequentum that speaks HTTP.

One `requests` session for the API host (the key is attached to API-host URLs only), urllib3's `Retry` for
429/5xx/connection failures on GETs (honouring `Retry-After`), a sliding-window pacer fed by the
`X-RateLimit-*` headers, a per-sync answer cache (no URL is fetched twice), both list shapes, and
downloads that survive redirects to signed storage URLs and broken transfers. Streams and the
`sequentum` CLI both use it.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from tap_sequentum import errors

DEFAULT_BASE_URL = "https://dashboard.sequentum.com"
API_PREFIX = "/api/v1"
RETRY_STATUSES = (429, 500, 502, 503, 504)
_CHUNK = 1 << 20

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
    while small syncs pay no delay at all (unlike a fixed interval between requests).
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
                while self._sent and self._sent[0] <= now - self.window:
                    self._sent.popleft()
                if len(self._sent) < max(self.limit, 1):
                    self._sent.append(now)
                    return
                pause = self._sent[0] + self.window - now
                self.waited += pause
                self._sleep(pause)

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
        if not api_key:
            raise errors.ConfigurationError(errors.MISSING_API_KEY)
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
        self.backoff_factor = backoff_factor
        self.limiter = rate_limiter or RateLimiter()
        self.request_count = 0
        self._cache: dict[str, Any] = {}
        self._cache_lock = threading.Lock()
        headers = {"User-Agent": user_agent or DEFAULT_USER_AGENT, "Accept": "application/json"}
        self._session = self._new_session(headers)
        # Signed storage URLs get their own session that never holds the key.
        self._storage = self._new_session({"User-Agent": headers["User-Agent"]})

    # -- plumbing ---------------------------------------------------------------------------------

    def _new_session(self, headers: dict[str, str]) -> requests.Session:
        retry = Retry(
            total=self.max_retries,
            connect=self.max_retries,
            read=self.max_retries,
            status=self.max_retries,
            other=0,
            allowed_methods=frozenset({"GET", "HEAD"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.backoff_factor,
            backoff_max=60,
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=False,
        )
        session = requests.Session()
        session.headers.update(headers)
        session.trust_env = True
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=8)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

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

    def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        stream: bool = False,
    ) -> requests.Response:
        """One request to the API host, paced; transport failures become named errors."""
        self.limiter.acquire()
        self.request_count += 1
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                json=json_body,
                headers=self._auth_headers(url),
                timeout=self.timeout,
                stream=stream,
                allow_redirects=False,
            )
        except requests.exceptions.ChunkedEncodingError as exc:
            if method != "GET":
                raise self._fail(
                    errors.AmbiguousWriteError,
                    f"The answer to {what} was cut off ({_reason(exc)}); it may have taken effect: "
                    "check before repeating it.",
                ) from None
            raise _TransferBroken(f"answer cut off: {_reason(exc)}") from None
        except requests.exceptions.ConnectionError as exc:
            if "Read timed out" in str(exc):
                raise self._timeout(method, what, exc) from None
            if method != "GET" and _was_sent(exc):
                raise self._fail(
                    errors.AmbiguousWriteError,
                    f"The request to {what} was sent but its answer was lost ({_reason(exc)}); it may "
                    "have taken effect: check before repeating it.",
                ) from None
            raise self._fail(
                errors.ConnectionFailedError,
                f"Could not reach Sequentum at {self.base_url} while fetching {what} "
                f"({_reason(exc)}): check base_url and the network.",
            ) from None
        except requests.exceptions.Timeout as exc:
            raise self._timeout(method, what, exc) from None
        self.limiter.update(response.headers)
        return response

    def _timeout(self, method: str, what: str, exc: BaseException) -> errors.SequentumError:
        if method != "GET":
            return self._fail(
                errors.AmbiguousWriteError,
                f"The request to {what} was sent but no answer came within {self.timeout:g} s; it "
                "may have taken effect: check before repeating it.",
            )
        return self._fail(
            errors.ConnectionFailedError,
            f"Sequentum at {self.base_url} did not answer within {self.timeout:g} s while fetching "
            f"{what} ({_reason(exc)}, after {self.max_retries} retries): raise request_timeout or try later.",
        )

    def _raise_for_status(self, response: requests.Response, what: str) -> None:
        code = response.status_code
        if code < 400:
            return
        detail = problem_detail(response).rstrip(".")
        suffix = f": {detail}" if detail else ""
        if code == 401:
            raise self._fail(
                errors.AuthenticationError,
                "Sequentum rejected the API key (HTTP 401): check api_key / TAP_SEQUENTUM_API_KEY "
                "(keys expire, by default after one year).",
            )
        if code == 403:
            scope = ""
            try:
                body = response.json()
                if isinstance(body, dict) and body.get("errorCode"):
                    scope = f", {body['errorCode']}"
            except ValueError:
                pass
            raise self._fail(
                errors.PermissionDeniedError,
                f"Sequentum refused access to {what} (HTTP 403{scope}): the API key's user lacks "
                "permission; ask a Sequentum administrator to grant it.",
            )
        if code == 404:
            raise self._fail(
                errors.NotFoundError,
                f"Sequentum answered 404 Not Found for {what}{suffix}: check the id.",
            )
        if code == 429:
            raise self._fail(
                errors.RateLimitedError,
                f"Sequentum's rate limit was still exceeded after {self.max_retries} retries while "
                f"fetching {what} (HTTP 429): fewer parallel jobs on this key, or try again later.",
            )
        if code >= 500:
            raise self._fail(
                errors.ServerError,
                f"Sequentum failed on {what} with HTTP {code} after {self.max_retries} retries"
                f"{suffix}: try again later.",
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
    ) -> Any:
        """GET a JSON answer; within one client (one sync) each distinct URL is fetched once."""
        url = self.url(path)
        key = url + "?" + "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
        if cache:
            with self._cache_lock:
                if key in self._cache:
                    return self._cache[key]
        data = self._get_json_uncached(url, params, what)
        if cache:
            with self._cache_lock:
                self._cache[key] = data
        return data

    def _get_json_uncached(self, url: str, params: Mapping[str, Any] | None, what: str) -> Any:
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(min(self.backoff_factor * 2**attempt, 30))
            try:
                response = self._send("GET", url, what=what, params=params)
            except _TransferBroken as exc:
                # urllib3 retries connecting and statuses; a body cut short is retried here.
                last = self._fail(
                    errors.ConnectionFailedError,
                    f"Sequentum's answer to {what} kept breaking off ({exc}): try again later.",
                )
                continue
            self._raise_for_status(response, what)
            try:
                return response.json()
            except ValueError:
                last = self._fail(
                    errors.ResponseFormatError,
                    f"Sequentum answered {what} with something that is not JSON "
                    f"(HTTP {response.status_code}, {response.headers.get('Content-Type', 'no type')}).",
                )
        raise last or errors.ResponseFormatError(f"No answer for {what}.")

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
    ) -> Iterator[dict]:
        """Yield every item of a paginated list (`pageIndex` from 1, `recordsPerPage`)."""
        page = 1
        seen = 0
        while True:
            query = {**(params or {}), "pageIndex": page, "recordsPerPage": page_size}
            data = self.get_json(path, query, what=what)
            items, total = unpack_page(data, key)
            yield from items
            seen += len(items)
            if isinstance(data, list):
                return  # the server ignored paging and sent everything
            if not items or len(items) < page_size or (total is not None and seen >= total):
                return
            page += 1

    # -- Sequentum endpoints ------------------------------------------------------------------------

    def list_agents(self, page_size: int = 100, **filters: Any) -> Iterator[dict]:
        """Every agent the key can see (organisation and personal space)."""
        return self.iter_pages(
            "agent/all", "agents", what="the agent list", page_size=page_size, params=filters
        )

    def get_agent(self, agent_id: int) -> dict:
        return self.get_json(f"agent/{int(agent_id)}", what=f"agent {agent_id}")

    def list_runs(self, agent_id: int, max_records: int = 1000) -> list[dict]:
        """Runs of an agent, newest first; only the newest `max_records` can be listed at all."""
        data = self.get_json(
            f"agent/{int(agent_id)}/runs",
            {"maxRecords": int(max_records)},
            what=f"runs of agent {agent_id}",
        )
        return unpack_page(data, "runs")[0]

    def get_run(self, agent_id: int, run_id: int) -> dict:
        """The current state of one run (never cached: callers poll it)."""
        return self.get_json(
            f"agent/{int(agent_id)}/run/{int(run_id)}/status",
            what=f"run {run_id} of agent {agent_id}",
            cache=False,
        )

    def list_files(self, agent_id: int, run_id: int) -> list[dict]:
        data = self.get_json(
            f"agent/{int(agent_id)}/run/{int(run_id)}/files",
            what=f"files of run {run_id} of agent {agent_id}",
        )
        return unpack_page(data, "files")[0]

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

    # -- downloads ----------------------------------------------------------------------------------

    def download(
        self,
        agent_id: int,
        run_id: int,
        file_id: int,
        dest: IO[bytes],
        *,
        name: str | None = None,
        max_bytes: int | None = None,
    ) -> DownloadResult:
        """Write a run file into `dest` (rewound and truncated on every attempt).

        The whole transfer is retried from scratch when it breaks, so callers never see half a file. A
        redirect to a signed storage URL is followed at once and without the API key. With `max_bytes`
        only a prefix is read (for sampling) and `complete` says whether it was the whole file.
        """
        what = f"file {file_id}{f' ({name})' if name else ''} of run {run_id} of agent {agent_id}"
        url = self.url(f"agent/{int(agent_id)}/run/{int(run_id)}/file/{int(file_id)}/download")
        started = time.monotonic()
        last_reason = "no attempt"
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                time.sleep(min(self.backoff_factor * 2 ** (attempt - 1), 30))
                logger.warning("Retrying download of %s (attempt %d): %s", what, attempt, last_reason)
            dest.seek(0)
            dest.truncate()
            try:
                size, redirected, complete = self._download_once(url, dest, what, max_bytes)
            except _TransferBroken as exc:
                last_reason = str(exc)
                continue
            dest.flush()
            return DownloadResult(size, time.monotonic() - started, attempt, redirected, complete)
        raise self._fail(
            errors.DownloadError,
            f"Could not download {what} after {attempts} attempts ({last_reason}); nothing from it "
            "was emitted: run the sync again later.",
        )

    def _download_once(
        self, url: str, dest: IO[bytes], what: str, max_bytes: int | None
    ) -> tuple[int, bool, bool]:
        response = self._send("GET", url, what=what, stream=True)
        redirected = False
        hops = 0
        while response.is_redirect and hops < 5:
            location = urljoin(response.url, response.headers["Location"])
            response.close()
            redirected = True
            hops += 1
            if self._is_api(location):
                response = self._send("GET", location, what=what, stream=True)
                continue
            try:
                response = self._storage.get(
                    location, timeout=self.timeout, stream=True, allow_redirects=False
                )
            except requests.exceptions.RequestException as exc:
                raise _TransferBroken(f"storage host: {_reason(exc)}") from None
            if response.status_code in (400, 401, 403) and not response.is_redirect:
                # An expired or refused signed URL: a fresh one comes with the next attempt.
                raise _TransferBroken(f"storage host answered HTTP {response.status_code}")
        with response:
            if response.is_redirect:
                raise _TransferBroken(f"more than {hops} redirects")
            if response.status_code in RETRY_STATUSES:
                raise _TransferBroken(f"HTTP {response.status_code}")
            self._raise_for_status(response, what)
            expected = response.headers.get("Content-Length")
            size = 0
            try:
                for chunk in response.iter_content(_CHUNK):
                    if max_bytes is not None and size + len(chunk) >= max_bytes:
                        dest.write(chunk[: max_bytes - size])
                        return max_bytes, redirected, False
                    dest.write(chunk)
                    size += len(chunk)
            except (
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ConnectionError,
                requests.exceptions.Timeout,
            ) as exc:
                raise _TransferBroken(f"transfer broke after {size} bytes: {_reason(exc)}") from None
            encoded = response.headers.get("Content-Encoding")
            if expected and expected.isdigit() and not encoded and int(expected) != size:
                raise _TransferBroken(f"got {size} of {expected} bytes")
        return size, redirected, True

    def clear_cache(self) -> None:
        """Forget cached answers (after the tap itself changed what Sequentum holds, e.g. started runs)."""
        with self._cache_lock:
            self._cache.clear()

    def close(self) -> None:
        self._session.close()
        self._storage.close()


class _TransferBroken(Exception):
    """A download attempt that may succeed if repeated."""


_REASONS = (
    ("Read timed out", "no answer in time"),
    ("timed out", "timed out"),
    ("Connection refused", "connection refused"),
    ("Name or service not known", "unknown host name"),
    ("Temporary failure in name resolution", "host name not resolvable"),
    ("No route to host", "no route to host"),
    ("Connection reset", "connection reset"),
    ("RemoteDisconnected", "the server closed the connection"),
    ("Connection aborted", "connection aborted"),
    ("IncompleteRead", "the answer was cut off"),
    ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
    ("SSLError", "TLS error"),
)


def _reason(exc: BaseException) -> str:
    """A short, key-free description of a transport failure ("connection refused"), not urllib3's dump."""
    text = str(exc)
    for marker, reason in _REASONS:
        if marker in text:
            return reason
    return text.split(" (Caused by", 1)[0][:160]


def _was_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when a connection error happened after the request went out (so a POST may have landed)."""
    text = str(exc)
    return not any(
        marker in text
        for marker in ("NewConnectionError", "Failed to establish", "Name or service", "refused")
    )
