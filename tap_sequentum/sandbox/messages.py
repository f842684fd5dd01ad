"""Requests and responses as plain values, and the error bodies Sequentum and S3 answer with."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import quote
from xml.sax.saxutils import escape

from tap_sequentum.sandbox.dataset import RunFile


class RequestLog(NamedTuple):
    """One request as the sandbox saw it; status 0 means the connection was reset unanswered."""

    method: str
    host: str
    path: str
    query: dict[str, str]
    status: int
    has_authorization: bool


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass
class Response:
    """A status, headers and either a small body or a run file to stream."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    file: RunFile | None = None


TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    401: "https://tools.ietf.org/html/rfc9110#section-15.5.2",
    403: "https://tools.ietf.org/html/rfc9110#section-15.5.4",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    405: "https://tools.ietf.org/html/rfc9110#section-15.5.6",
    413: "https://tools.ietf.org/html/rfc9110#section-15.5.14",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: "https://tools.ietf.org/html/rfc9110#section-15.6.1",
    502: "https://tools.ietf.org/html/rfc9110#section-15.6.3",
    503: "https://tools.ietf.org/html/rfc9110#section-15.6.4",
}
CONTENT_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "ndjson": "application/x-ndjson",
    "log": "text/plain",
    "txt": "text/plain",
}


def json_response(value: Any, status: int = 200) -> Response:
    body = json.dumps(value, ensure_ascii=False).encode("utf-8")
    return Response(status, body, {"Content-Type": "application/json; charset=utf-8"})


def problem(status: int, detail: str, instance: str, **extra: Any) -> Response:
    """RFC 7807 problem details, Sequentum's usual error shape."""
    value = {
        "type": PROBLEM_TYPES.get(status, PROBLEM_TYPES[500]),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    body = json.dumps(value, ensure_ascii=False).encode("utf-8")
    return Response(status, body, {"Content-Type": "application/problem+json"})


def status_error(status: int, message: str) -> Response:
    """The other error shape some Sequentum endpoints use."""
    value = {
        "statusCode": status,
        "statusDescription": TITLES.get(status, "Error"),
        "message": message,
        "severity": "Error",
    }
    return json_response(value, status)


def s3_error(status: int, code: str, message: str, resource: str) -> Response:
    """An S3-style XML error, as a signed storage URL answers."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>SANDBOX</RequestId></Error>"
    )
    return Response(status, body.encode("utf-8"), {"Content-Type": "application/xml"})


def content_type(name: str) -> str:
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return CONTENT_TYPES.get(extension, "application/octet-stream")


def file_response(run_file: RunFile) -> Response:
    """A run file as a download; non-ASCII names get an RFC 6266 filename* alongside."""
    ascii_name = run_file.name.encode("ascii", "replace").decode("ascii").replace('"', "_")
    disposition = f'attachment; filename="{ascii_name}"'
    if ascii_name != run_file.name:
        disposition += f"; filename*=UTF-8''{quote(run_file.name)}"
    headers = {"Content-Type": content_type(run_file.name), "Content-Disposition": disposition}
    return Response(200, headers=headers, file=run_file)
