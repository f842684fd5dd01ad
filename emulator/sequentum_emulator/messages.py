"""Requests and responses as plain values, and the error bodies Sequentum and S3 answer with."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import quote
from xml.sax.saxutils import escape

from sequentum_emulator.dataset import RunFile


class RequestLog(NamedTuple):
    """One request as the sandbox saw it; status 0 means the connection was reset unanswered."""

    method: str
    host: str
    path: str
    query: dict[str, str]
    status: int
    has_authorization: bool
    range: str | None = None  # the Range header, as sent


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass
class Response:
    """A status, headers and either a small body or a run file (or a byte span of it) to stream."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    file: RunFile | None = None
    span: tuple[int, int] | None = None  # first and last byte, inclusive

    @property
    def length(self) -> int:
        if self.file is None:
            return len(self.body)
        if self.span is None:
            return self.file.size
        return self.span[1] - self.span[0] + 1


class RangeNotSatisfiable(Exception):
    """A byte range that starts beyond the end of the file: 416."""

    def __init__(self, size: int) -> None:
        super().__init__(f"The requested range is not satisfiable for a file of {size} bytes.")
        self.size = size


TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    416: "Range Not Satisfiable",
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
    416: "https://tools.ietf.org/html/rfc9110#section-15.5.17",
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


RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte span a Range header asks for, or None to send the whole file.

    Supports `bytes=a-b`, `bytes=a-` and `bytes=-n`; a header it cannot honour (several ranges,
    bad syntax, a > b) is ignored as RFC 9110 allows. A range starting past the end raises.
    """
    match = RANGE.fullmatch((header or "").strip().replace(" ", ""))
    if match is None or match[1] == match[2] == "":
        return None
    if match[1] == "":
        suffix = int(match[2])
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - suffix), size - 1
    first = int(match[1])
    last = int(match[2]) if match[2] else None
    if last is not None and last < first:
        return None
    if first >= size:
        raise RangeNotSatisfiable(size)
    return first, size - 1 if last is None else min(last, size - 1)


def file_response(run_file: RunFile, range_header: str | None = None) -> Response:
    """A run file as a download (206 for a byte range); non-ASCII names get an RFC 6266 filename*.

    Raises RangeNotSatisfiable; each host answers it in its own words.
    """
    span = byte_range(range_header, run_file.size)
    ascii_name = run_file.name.encode("ascii", "replace").decode("ascii").replace('"', "_")
    disposition = f'attachment; filename="{ascii_name}"'
    if ascii_name != run_file.name:
        disposition += f"; filename*=UTF-8''{quote(run_file.name)}"
    headers = {
        "Content-Type": content_type(run_file.name),
        "Content-Disposition": disposition,
        "Accept-Ranges": "bytes",
    }
    if span is None:
        return Response(200, headers=headers, file=run_file)
    headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{run_file.size}"
    return Response(206, headers=headers, file=run_file, span=span)
