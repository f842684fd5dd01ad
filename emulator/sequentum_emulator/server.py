"""HTTP plumbing for both hosts: keep-alive, bodies, streaming, latency and injected faults.

What a request means is decided in api.py and storage.py; this module only moves bytes, and is
where connections get reset or cut short on purpose.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from sequentum_emulator import api, storage
from sequentum_emulator.dataset import RunFile
from sequentum_emulator.faults import Faults
from sequentum_emulator.messages import Request, RequestLog, Response, problem, s3_error

CHUNK = 64 * 1024
MAX_BODY = 1024 * 1024


class Host(api.ApiHost, storage.StorageHost, Protocol):
    """The sandbox as both hosts see it, plus what the plumbing itself needs."""

    faults: Faults
    latency: float

    def record(self, entry: RequestLog) -> None: ...


class BodyError(Exception):
    """A request body the server cannot read; the connection is closed after answering."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class SandboxServer(ThreadingHTTPServer):
    """One host ("api" or "storage") that remembers its open connections so stop() can end them."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], sandbox: Host, kind: str) -> None:
        self.sandbox = sandbox
        self.kind = kind
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake keep-alive handler threads blocked on a read, so they exit."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SequentumSandbox/1.0"
    timeout = 120
    server: SandboxServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm meets the
        # client's delayed ACK and every keep-alive response waits ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a tap's stdout carries Singer messages and tests run in-process."""

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # --- reading ------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        # Always read the whole body, even for requests we refuse, or keep-alive desynchronises.
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            size = int(length)
        except ValueError:
            raise BodyError(400, "Content-Length is not a number.") from None
        if size < 0:
            raise BodyError(400, "Content-Length is negative.")
        if size > MAX_BODY:
            raise BodyError(413, f"Request bodies are limited to {MAX_BODY} bytes.")
        return self.rfile.read(size)

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BodyError(400, "Malformed chunked body.") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY:
                raise BodyError(413, f"Request bodies are limited to {MAX_BODY} bytes.")
            body += self.rfile.read(size)
            self.rfile.readline(8)

    # --- the pipeline ---------------------------------------------------------------------------

    def _dispatch(self) -> None:
        sandbox = self.server.sandbox
        is_api = self.server.kind == "api"
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            body = self._read_body()
        except BodyError as exc:
            request = Request(self.command, url.path, query, self.headers)
            self.close_connection = True
            if is_api:
                response = problem(exc.status, str(exc), url.path)
            else:
                response = s3_error(exc.status, "InvalidRequest", str(exc), url.path)
            self._send(request, response)
            return
        request = Request(self.command, url.path, query, self.headers, body)
        if is_api and sandbox.latency > 0:
            time.sleep(sandbox.latency)
        fault = sandbox.faults.take(request.path, request.method, truncate=False)
        if fault is not None and fault.kind == "reset":
            self._record(request, 0)
            self._reset()
            return
        try:
            if fault is not None:
                response = (api if is_api else storage).fault_response(fault, request)
            elif is_api:
                response = api.handle(sandbox, request)
            else:
                response = storage.handle(sandbox, request)
        except Exception:  # a sandbox bug must answer 500, not hang the client
            traceback.print_exc(file=sys.stderr)
            response = problem(500, "The sandbox failed; see its stderr.", request.path)
        if is_api:
            api.add_rate_headers(sandbox, request, response)
        self._send(request, response)

    def _record(self, request: Request, status: int) -> None:
        entry = RequestLog(
            method=request.method,
            host=self.server.kind,
            path=request.path,
            query=request.query,
            status=status,
            has_authorization=request.headers.get("Authorization") is not None,
            range=request.headers.get("Range"),
        )
        self.server.sandbox.record(entry)

    # --- writing --------------------------------------------------------------------------------

    def _send(self, request: Request, response: Response) -> None:
        run_file = response.file
        truncate = None
        if run_file is not None:
            truncate = self.server.sandbox.faults.take(request.path, request.method, truncate=True)
        size = response.length
        # Logged before the answer leaves, so a client that checks the log right after sees it.
        self._record(request, response.status)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if self.command == "HEAD":
            return
        try:
            if run_file is not None:
                start = response.span[0] if response.span else 0
                self._stream(run_file, start, size // 2 if truncate else size)
            else:
                self.wfile.write(response.body)
        except OSError:
            self.close_connection = True
        if truncate is not None:
            # Full Content-Length promised, half delivered, then the connection ends: the client
            # must notice the short body.
            self.close_connection = True

    def _stream(self, run_file: RunFile, start: int, limit: int) -> None:
        """Write `limit` bytes of the file from byte `start`."""
        if run_file.data is not None:
            view = memoryview(run_file.data)[start : start + limit]
            for offset in range(0, len(view), CHUNK):
                self.wfile.write(view[offset : offset + CHUNK])
            return
        assert run_file.path is not None
        remaining = limit
        with run_file.path.open("rb") as handle:
            handle.seek(start)
            while remaining > 0:
                chunk = handle.read(min(CHUNK, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)

    def _reset(self) -> None:
        """Abort with a TCP reset: SO_LINGER 0, then close the descriptor itself.

        socket.close() alone would wait for rfile/wfile to let go, so the fd is detached and closed.
        """
        self.close_connection = True
        with contextlib.suppress(OSError):
            linger = struct.pack("ii", 1, 0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            os.close(self.connection.detach())
