"""The Sandbox: a Sequentum-compatible API and a signed-URL storage host over one in-memory dataset.

Tests drive it from Python (seed data, inject faults, read the request log) while a client talks
to it over real HTTP, so the tap is exercised exactly as it would be against Sequentum Cloud.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from sequentum_emulator.api import DEFAULT_API_KEY, LISTING_ORDERS
from sequentum_emulator.dataset import (
    COMPLETED,
    DATA_FILE,
    DATE_FORMS,
    REMOVE_METHODS,
    Dataset,
    FileSpec,
)
from sequentum_emulator.demo import seed, seed_realities
from sequentum_emulator.faults import Fault, Faults, RateLimiter
from sequentum_emulator.messages import RequestLog
from sequentum_emulator.server import SandboxServer
from sequentum_emulator.storage import UrlSigner


def _url_host(host: str) -> str:
    """The host clients should dial: a wildcard bind is reached through loopback."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "127.0.0.1"
    if address.is_unspecified:
        return "127.0.0.1"
    return f"[{host}]" if address.version == 6 else host


class Sandbox:
    """Start with ``start()`` or ``with Sandbox() as sb:``; settings below may change while running.

    list_hints=False gives agent/all the reference page's shape (lastActivity and status null), for every
    agent (`set_list_hints` does it for one);
    realities=True adds the opt-in agents of data/demo.json's "realities" after the demo; date_form
    writes run and file timestamps as "z" (default, 2026-09-01T00:00:00.000000Z), "naive"
    (2026-09-01T00:00:00) or "7digit" (2026-09-01T00:00:00.0000000Z); listing_order serves every listing
    (agents, runs, files, versions, schedules, run costs, credit history, spaces) "documented" (as Sequentum
    does), "newest-first", "oldest-first" or "shuffled" across pages; schedule_type_text=True sends a
    schedule's `scheduleType` as its name ("CRON"), as older Sequentum versions do.
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        storage_port: int = 0,
        rate_limit: int = 1000,
        rate_window: float = 60.0,
        redirect_downloads: bool = False,
        latency: float = 0.0,
        run_duration: float = 2.0,
        signed_url_ttl: float = 60.0,
        seed_demo: bool = True,
        list_hints: bool = True,
        realities: bool = False,
        date_form: str = "z",
        listing_order: str = "documented",
        schedule_type_text: bool = False,
    ) -> None:
        self.api_key = api_key
        self.host = host
        self.port = port
        self.storage_port = storage_port
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.redirect_downloads = redirect_downloads
        self.latency = latency
        self.run_duration = run_duration
        self.signed_url_ttl = signed_url_ttl
        self.list_hints = list_hints
        self.schedule_type_text = schedule_type_text
        self.data = Dataset()
        self.date_form = date_form
        self.listing_order = listing_order
        if seed_demo:
            seed(self.data)
        if realities:
            seed_realities(self.data)
        self.faults = Faults()
        self.limiter = RateLimiter()
        self.signer = UrlSigner()
        self._log: list[RequestLog] = []
        self._log_lock = threading.Lock()
        self._servers: list[SandboxServer] = []
        self._threads: list[threading.Thread] = []

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._servers:
            return self
        try:
            for kind, port in (("api", self.port), ("storage", self.storage_port)):
                server = SandboxServer((self.host, port), self, kind)
                self._servers.append(server)
        except OSError:
            self.stop()
            raise
        self.port = self._servers[0].server_address[1]
        self.storage_port = self._servers[1].server_address[1]
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"sequentum-sandbox-{server.kind}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        servers, self._servers = self._servers, []
        threads, self._threads = self._threads, []
        # serve_forever runs on every server or on none; stop them in parallel to halve the wait.
        stoppers = [threading.Thread(target=server.shutdown) for server in servers] if threads else []
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for server in servers:
            server.close_connections()
            server.server_close()
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Root of the API host; the API itself lives under /api/v1."""
        self._require_started()
        return f"http://{_url_host(self.host)}:{self.port}"

    @property
    def storage_url(self) -> str:
        self._require_started()
        return f"http://{_url_host(self.host)}:{self.storage_port}"

    def _require_started(self) -> None:
        if not self._servers:
            raise RuntimeError("The sandbox is not running; call start() first.")

    @property
    def date_form(self) -> str:
        return self.data.date_form

    @date_form.setter
    def date_form(self, form: str) -> None:
        if form not in DATE_FORMS:
            raise ValueError(f"date_form must be one of {', '.join(DATE_FORMS)}, not {form!r}")
        self.data.date_form = form

    @property
    def listing_order(self) -> str:
        return self._listing_order

    @listing_order.setter
    def listing_order(self, order: str) -> None:
        if order not in LISTING_ORDERS:
            raise ValueError(f"listing_order must be one of {', '.join(LISTING_ORDERS)}, not {order!r}")
        self._listing_order = order

    # --- data -----------------------------------------------------------------------------------

    def add_agent(self, name: str, **fields: Any) -> dict[str, Any]:
        """Add an agent (camelCase fields as in the API) and return its detail JSON."""
        with self.data.lock:
            return self.data.agent_detail(self.data.add_agent(name, **fields))

    def rename_agent(self, agent_id: int, name: str) -> dict[str, Any]:
        """Rename an agent (its `updated` moves; its files keep their export name) and return its detail."""
        with self.data.lock:
            return self.data.agent_detail(self.data.rename_agent(agent_id, name))

    def set_list_hints(self, agent_id: int, shown: bool) -> None:
        """Give one agent in agent/all with its lastActivity and status hints, or without them (null)."""
        with self.data.lock:
            self.data.agent(agent_id).list_hints = shown

    def add_run(
        self,
        agent_id: int,
        status: int = COMPLETED,
        created: datetime | str | None = None,
        files: Iterable[FileSpec] | None = None,
        *,
        waiting_retry: bool = False,
        **fields: Any,
    ) -> dict[str, Any]:
        """Add a run; files are (name, content) or (name, content, file_type) with bytes or Path.

        waiting_retry=True (with status=6) is a failed run waiting to be retried: tableType "run".
        """
        with self.data.lock:
            run = self.data.add_run(agent_id, status, created, files, waiting_retry=waiting_retry, **fields)
            return self.data.run_json(run)

    def add_file(
        self,
        agent_id: int,
        run_id: int,
        name: str,
        content: bytes | str | Path,
        file_type: int = DATA_FILE,
    ) -> dict[str, Any]:
        with self.data.lock:
            return self.data.file_json(self.data.add_file(agent_id, run_id, name, content, file_type))

    def set_run_status(
        self,
        agent_id: int,
        run_id: int,
        status: int,
        files: Iterable[FileSpec] | None = None,
        *,
        waiting_retry: bool = False,
    ) -> dict[str, Any]:
        """Move a run to a status and attach files; a run leaving an active state ends now."""
        with self.data.lock:
            run = self.data.set_run_status(agent_id, run_id, status, files, waiting_retry=waiting_retry)
            return self.data.run_json(run)

    def restart_run(self, agent_id: int, run_id: int) -> dict[str, Any]:
        """Retry a run waiting after a failure: Running (1) again, still tableType "run"."""
        with self.data.lock:
            return self.data.run_json(self.data.restart_run(agent_id, run_id))

    def remove_file(self, agent_id: int, run_id: int, file_id: int, *, keep_listed: bool = True) -> None:
        """Delete a file; keep_listed leaves it in the run's file list while its download answers 404."""
        self.data.remove_file(agent_id, run_id, file_id, keep_listed=keep_listed)

    def delete_run(self, agent_id: int, run_id: int, remove_method: str = REMOVE_METHODS[0]) -> None:
        """What DELETE .../run/{runId}?removeMethod= does: the whole run, or only its files."""
        self.data.delete_run(agent_id, run_id, remove_method)

    def add_space(
        self, name: str, space_id: int | None = None, description: str | None = None
    ) -> dict[str, Any]:
        with self.data.lock:
            return self.data.add_space(name, space_id=space_id, description=description).to_json()

    def add_version(
        self, agent_id: int, comments: str = "", user_name: str = "Sandbox User"
    ) -> dict[str, Any]:
        return self.data.add_version(agent_id, comments, user_name).to_json()

    def add_schedule(self, agent_id: int, **fields: Any) -> dict[str, Any]:
        """Add a schedule to an agent (camelCase fields as in the API; `scheduleType` and `runEveryPeriod` as
        numbers or names, `inputParameters` as an object or its JSON text) and return it as served (with
        numeric codes). The agent's list entry does not change."""
        with self.data.lock:
            return self.data.schedule_json(self.data.add_schedule(agent_id, **fields))

    def update_schedule(self, agent_id: int, schedule_id: int, **fields: Any) -> dict[str, Any]:
        """Change a schedule (e.g. `isEnabled=False`: its `nextRunTime` is served as null from then on)."""
        with self.data.lock:
            return self.data.schedule_json(self.data.update_schedule(agent_id, schedule_id, **fields))

    def delete_schedule(self, agent_id: int, schedule_id: int) -> None:
        self.data.delete_schedule(agent_id, schedule_id)

    # --- faults and the request log -----------------------------------------------------------

    def add_fault(
        self,
        path_regex: str,
        kind: str,
        times: int = 1,
        retry_after: float = 1,
        method: str | None = None,
    ) -> None:
        """Misbehave on the next `times` requests whose path matches (either host): "429", "500", "502",
        "503", "reset", "truncate", or "400" (rejected), "403" (the key may not read it) and "404" (no such
        endpoint)."""
        self.faults.add(Fault(re.compile(path_regex), kind, times, retry_after, method))

    def clear_faults(self) -> None:
        self.faults.clear()

    def record(self, entry: RequestLog) -> None:
        with self._log_lock:
            self._log.append(entry)

    @property
    def requests(self) -> list[RequestLog]:
        """Every request received so far, in order (a copy)."""
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()
