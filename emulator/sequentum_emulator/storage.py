"""The storage host: short-lived signed URLs that behave like S3 presigned GETs.

It exists so a client proves it follows download redirects at once and never sends the API key
anywhere but the API host.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from sequentum_emulator.dataset import Dataset, NotFound
from sequentum_emulator.faults import Fault
from sequentum_emulator.messages import (
    RangeNotSatisfiable,
    Request,
    Response,
    file_response,
    s3_error,
)

SIGNED_PATH = re.compile(r"/signed/(?P<token>[A-Za-z0-9_-]+)")
# How long an expired token is remembered, so it still answers "expired" rather than "unknown".
FORGET_AFTER = 3600.0


@dataclass(frozen=True)
class Target:
    agent_id: int
    run_id: int
    file_id: int
    expires_at: float


class SignatureMismatch(Exception):
    """The query string was not signed by this sandbox."""


class Expired(Exception):
    """The URL was signed by this sandbox but its time is up."""


def _seconds(value: float) -> str:
    return f"{value:g}"


class UrlSigner:
    """Opaque tokens mapped to files, signed with a per-sandbox secret (HMAC over token+expiry)."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._targets: dict[str, Target] = {}

    def _signature(self, token: str, expires: str) -> str:
        message = f"{token}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, base_url: str, agent_id: int, run_id: int, file_id: int, ttl: float) -> str:
        now = time.monotonic()
        token = secrets.token_urlsafe(24)
        expires = _seconds(ttl)
        with self._lock:
            for old, target in list(self._targets.items()):
                if target.expires_at + FORGET_AFTER < now:
                    del self._targets[old]
            self._targets[token] = Target(agent_id, run_id, file_id, now + ttl)
        signature = self._signature(token, expires)
        return f"{base_url}/signed/{token}?X-Amz-Expires={expires}&X-Amz-Signature={signature}"

    def check(self, token: str, expires: str, signature: str) -> Target:
        if not hmac.compare_digest(self._signature(token, expires), signature):
            raise SignatureMismatch
        with self._lock:
            target = self._targets.get(token)
        # A valid signature on a forgotten token can only mean it expired long ago.
        if target is None or time.monotonic() >= target.expires_at:
            raise Expired
        return target


class StorageHost(Protocol):
    """What the storage host reads from the sandbox that serves it."""

    data: Dataset
    signer: UrlSigner


def handle(sandbox: StorageHost, request: Request) -> Response:
    """Serve a signed URL, or a byte range of it.

    Refuses a second auth mechanism, bad signatures, expired URLs and files removed since signing.
    """
    path = request.path
    if request.method not in ("GET", "HEAD"):
        return s3_error(405, "MethodNotAllowed", "The specified method is not allowed here.", path)
    if request.headers.get("Authorization") is not None:
        message = (
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified"
        )
        return s3_error(400, "InvalidArgument", message, path)
    match = SIGNED_PATH.fullmatch(path)
    if match is None:
        return s3_error(404, "NoSuchKey", "The specified key does not exist.", path)
    expires = request.query.get("X-Amz-Expires")
    signature = request.query.get("X-Amz-Signature")
    if not expires or not signature:
        message = "Query-string authentication requires X-Amz-Expires and X-Amz-Signature."
        return s3_error(403, "AccessDenied", message, path)
    try:
        target = sandbox.signer.check(match["token"], expires, signature)
        run_file = sandbox.data.file(target.agent_id, target.run_id, target.file_id)
    except SignatureMismatch:
        message = "The request signature we calculated does not match the signature you provided."
        return s3_error(403, "SignatureDoesNotMatch", message, path)
    except Expired:
        return s3_error(403, "AccessDenied", "Request has expired", path)
    except NotFound:
        return s3_error(404, "NoSuchKey", "The specified key does not exist.", path)
    try:
        return file_response(run_file, request.headers.get("Range"))
    except RangeNotSatisfiable as exc:
        response = s3_error(416, "InvalidRange", "The requested range is not satisfiable", path)
        response.headers["Content-Range"] = f"bytes */{exc.size}"
        return response


def fault_response(fault: Fault, request: Request) -> Response:
    """An injected 4xx or 5xx in S3's words."""
    codes = {
        "400": ("InvalidArgument", "Invalid Argument"),
        "403": ("AccessDenied", "Access Denied"),
        "404": ("NoSuchKey", "The specified key does not exist."),
        "429": ("SlowDown", "Please reduce your request rate."),
        "500": ("InternalError", "We encountered an internal error. Please try again."),
        "502": ("BadGateway", "The gateway received an invalid response."),
        "503": ("ServiceUnavailable", "Service is unable to handle request."),
    }
    code, message = codes[fault.kind]
    response = s3_error(int(fault.kind), code, message, request.path)
    if fault.kind == "429":
        response.headers["Retry-After"] = _seconds(fault.retry_after)
    return response
