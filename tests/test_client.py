"""The HTTP client against the sandbox: faults, redirects, pacing, caching, secrecy."""

from __future__ import annotations

import collections
import io
import re
import time

import pytest
from support import config_for, sync

from tap_sequentum import errors
from tap_sequentum.client import DownloadResult, RateLimiter, SequentumClient, unpack_page


def client_for(sandbox, **kwargs) -> SequentumClient:
    return SequentumClient(sandbox.api_key, sandbox.base_url, backoff_factor=0.01, **kwargs)


def delivered_file(client: SequentumClient) -> tuple[int, int, dict]:
    for agent in client.list_agents():
        for run in client.list_runs(agent["id"]):
            for item in client.list_files(agent["id"], run["id"]):
                if item["fileType"] == 1:
                    return agent["id"], run["id"], item
    raise AssertionError("no delivered file in the demo data")


def without_volatile(result) -> dict:
    return {stream: sorted(map(repr, rows)) for stream, rows in result.records.items()}


def test_no_url_is_fetched_twice_in_one_sync(sandbox):
    sync(config_for(sandbox))
    api = [(r.method, r.path, tuple(sorted(r.query.items()))) for r in sandbox.requests if r.host == "api"]
    repeated = [k for k, n in collections.Counter(api).items() if n > 1]
    assert api and repeated == []


@pytest.mark.parametrize(
    ("pattern", "kind"),
    [
        (r"/agent/all$", "429"),
        (r"/runs$", "503"),
        (r"/files$", "500"),
        (r"/versions$", "reset"),
        (r"/agent/\d+$", "502"),
    ],
)
def test_faults_are_retried_to_the_same_records(sandbox, pattern, kind):
    config = config_for(sandbox)
    clean = sync(config)
    clean_hits = sum(1 for r in sandbox.requests if re.search(pattern, r.path))
    sandbox.clear_requests()
    sandbox.add_fault(pattern, kind, times=2, retry_after=0.1)
    faulty = sync(config)
    assert without_volatile(faulty) == without_volatile(clean)
    faulty_hits = sum(1 for r in sandbox.requests if re.search(pattern, r.path))
    assert faulty_hits == clean_hits + 2


def test_retry_after_is_honoured(sandbox):
    client = client_for(sandbox)
    sandbox.add_fault(r"/agent/all$", "429", times=1, retry_after=1)
    started = time.monotonic()
    assert list(client.list_agents())
    assert time.monotonic() - started >= 0.95


def test_exhausted_retries_give_a_named_error(sandbox):
    client = client_for(sandbox, max_retries=1)
    sandbox.add_fault(r"/agent/all$", "503", times=5)
    with pytest.raises(errors.ServerError, match=r"HTTP 503 after 1 retries"):
        list(client.list_agents())


def download(client: SequentumClient, agent_id: int, run_id: int, item: dict) -> tuple[bytes, DownloadResult]:
    buffer = io.BytesIO()
    result = client.download(agent_id, run_id, item["id"], buffer)
    return buffer.getvalue(), result


def test_redirected_download_is_byte_exact_and_never_carries_the_key(sandbox):
    client = client_for(sandbox)
    agent_id, run_id, item = delivered_file(client)
    direct, _ = download(client, agent_id, run_id, item)
    sandbox.redirect_downloads = True
    sandbox.clear_requests()
    redirected, result = download(client, agent_id, run_id, item)
    assert result.redirected
    assert redirected == direct
    assert len(direct) == item["fileSize"]
    storage = [r for r in sandbox.requests if r.host == "storage"]
    assert storage and not any(r.has_authorization for r in storage)
    assert all(r.status == 200 for r in storage)


@pytest.mark.parametrize(
    ("redirect", "pattern", "times"),
    [(False, r"/download$", 2), (True, r"^/signed/", 1)],
    ids=["from-the-api", "signed-url"],
)
def test_truncated_download_is_retried_from_scratch(sandbox, redirect, pattern, times):
    client = client_for(sandbox)
    agent_id, run_id, item = delivered_file(client)
    expected, _ = download(client, agent_id, run_id, item)
    sandbox.redirect_downloads = redirect
    sandbox.add_fault(pattern, "truncate", times=times)
    got, result = download(client, agent_id, run_id, item)
    assert got == expected
    assert result.attempts == times + 1


def test_download_that_keeps_breaking_fails_clearly(sandbox):
    client = client_for(sandbox, max_retries=1)
    agent_id, run_id, item = delivered_file(client)
    sandbox.add_fault(r"/download$", "truncate", times=10)
    with pytest.raises(errors.DownloadError, match="after 2 attempts"):
        client.download(agent_id, run_id, item["id"], io.BytesIO())


def test_pacing_keeps_a_sync_under_the_rate_limit(sandbox):
    sandbox.rate_limit, sandbox.rate_window = 15, 1.0
    result = sync(config_for(sandbox, max_retries=0))
    assert result.records["agents"]
    statuses = collections.Counter(r.status for r in sandbox.requests if r.host == "api")
    assert statuses[429] == 0
    assert sum(statuses.values()) > 15


def test_rate_limiter_sliding_window_with_a_fake_clock():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(3, 10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.acquire()
    assert slept == []
    now[0] = 4.0
    limiter.acquire()
    assert slept == [pytest.approx(6.2)]  # the window (10 s) and its margin (2 %) after the first
    limiter.update({"X-RateLimit-Limit": "100", "X-RateLimit-Window-Seconds": "60"})
    assert (limiter.limit, limiter.window) == (100, 60.0)


@pytest.mark.parametrize(
    ("data", "items", "total"),
    [
        ([{"id": 1}], [{"id": 1}], None),
        ({"agents": [{"id": 1}], "totalRecordCount": 7}, [{"id": 1}], 7),
        ({"items": [], "totalCount": 0}, [], 0),
    ],
)
def test_both_answer_shapes(data, items, total):
    assert unpack_page(data, "agents") == (items, total)


def test_pagination_walks_every_page(demo_sandbox):
    client = client_for(demo_sandbox)
    paged = [a["id"] for a in client.list_agents(page_size=2)]
    bare = [a["id"] for a in client.get_json("agent/all", what="agents")]
    assert sorted(paged) == sorted(bare)
    assert len(paged) == len(set(paged))
    pages = [r for r in demo_sandbox.requests if r.path.endswith("/agent/all") and "pageIndex" in r.query]
    assert len(pages) >= 3


def test_posts_are_never_retried(sandbox):
    client = client_for(sandbox)
    agent_id = next(iter(client.list_agents()))["id"]
    sandbox.add_fault(r"/start$", "503", times=1)
    with pytest.raises(errors.ServerError):
        client.start_agent(agent_id, {})
    starts = [r for r in sandbox.requests if r.path.endswith("/start")]
    assert len(starts) == 1


def test_reset_after_a_post_is_reported_as_ambiguous(sandbox):
    client = client_for(sandbox)
    agent_id = next(iter(client.list_agents()))["id"]
    sandbox.add_fault(r"/start$", "reset", times=1)
    with pytest.raises(errors.AmbiguousWriteError, match="may have taken effect"):
        client.start_agent(agent_id, {})


def test_error_messages_never_contain_the_key(sandbox):
    client = SequentumClient("wrong-" + sandbox.api_key, sandbox.base_url)
    with pytest.raises(errors.AuthenticationError) as info:
        client.get_agent(1)
    assert "wrong-" not in str(info.value)
    assert "HTTP 401" in str(info.value)


def test_the_key_is_only_attached_to_the_api_host_and_scheme():
    client = SequentumClient("k-123", "https://dashboard.example.com")
    assert client._auth_headers("https://dashboard.example.com/api/v1/agent/all") == {
        "Authorization": "ApiKey k-123"
    }
    assert client._auth_headers("http://dashboard.example.com/api/v1/agent/all") == {}
    assert client._auth_headers("https://storage.example.com/signed/abc") == {}
    assert client._auth_headers("https://dashboard.example.com:8443/api/v1/agent/all") == {}


def test_a_slow_server_is_a_timeout_line_not_a_network_error(sandbox):
    sandbox.latency = 2.0
    client = SequentumClient(sandbox.api_key, sandbox.base_url, timeout=0.5, max_retries=0)
    with pytest.raises(errors.ConnectionFailedError) as info:
        client.get_agent(1001)
    message = str(info.value)
    assert "did not answer within 0.5 s" in message
    assert "raise request_timeout" in message
    assert message.count("(") == message.count(")")


def test_refused_connection_reason_is_short():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = SequentumClient("k", f"http://127.0.0.1:{port}", max_retries=0)
    with pytest.raises(errors.ConnectionFailedError) as info:
        client.get_agent(1)
    assert "(connection refused)" in str(info.value)
    assert "HTTPConnectionPool" not in str(info.value)


def _wrapped(inner: BaseException, outer: type[BaseException]) -> BaseException:
    """An exception as requests raises it: urllib3's error (caused by `inner`) inside requests' own."""
    import urllib3

    try:
        try:
            raise inner
        except BaseException as cause:
            raise urllib3.exceptions.ProtocolError("Connection aborted.", cause) from cause
    except urllib3.exceptions.ProtocolError as protocol:
        return outer(protocol)


def _cases():
    import http.client
    import socket

    import requests
    import urllib3

    refused = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection")
    refused.__context__ = ConnectionRefusedError(111, "Connection refused")
    unresolved = urllib3.exceptions.NameResolutionError("nohost.invalid", None, socket.gaierror(-2, "x"))
    connection_error, chunked = requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError
    max_retry = urllib3.exceptions.MaxRetryError
    return [
        (connection_error(max_retry(None, "/", refused)), "connection refused", False),
        (connection_error(max_retry(None, "/", unresolved)), "host name not resolvable", False),
        (requests.exceptions.ReadTimeout("read timed out"), "no answer in time", True),
        (requests.exceptions.ConnectTimeout("connect timed out"), "no connection in time", False),
        (
            _wrapped(http.client.RemoteDisconnected("x"), connection_error),
            "the server closed the connection",
            True,
        ),
        (_wrapped(ConnectionResetError(104, "reset"), connection_error), "connection reset", True),
        (_wrapped(http.client.IncompleteRead(b"ab", 10), chunked), "the answer was cut off", True),
    ]


@pytest.mark.parametrize(("exc", "reason", "sent"), _cases())
def test_transport_failures_are_classified_by_type_not_text(exc, reason, sent):
    from tap_sequentum.client import transport_failure

    assert transport_failure(exc) == (reason, sent)


@pytest.mark.parametrize(("header", "waits"), [("0.2", True), ("soon", False), (None, False)])
def test_any_retry_after_is_read_or_falls_back_to_the_backoff(header, waits):
    """urllib3 reads whole seconds and HTTP dates only; `0.2` is honoured, `soon` is not fatal."""
    from types import SimpleNamespace

    from urllib3.util.retry import Retry

    from tap_sequentum.client import _pause

    response = SimpleNamespace(headers={} if header is None else {"Retry-After": header})
    started = time.monotonic()
    _pause(Retry(total=3, backoff_factor=0), response)
    assert (time.monotonic() - started >= 0.19) is waits
