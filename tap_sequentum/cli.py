"""`sequentum`: list, download, start (and wait), stop and restore from the shell, on the tap's client.

Human tables by default, `--json` for scripts (stdout then holds JSON only). Every failure is one line
`sequentum: error: ...` on stderr: exit 2 for a wrong invocation or setting, 1 for everything else.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any, TextIO

from tap_sequentum import errors
from tap_sequentum.client import DEFAULT_BASE_URL, SequentumClient
from tap_sequentum.domain import file_type_name, normalize_timestamp, status_code, status_name
from tap_sequentum.errors import UsageError
from tap_sequentum.operations import (
    parse_params,
    run_succeeded,
    start_body,
    started_run,
    status_label,
    wait_for_run,
)

PROG = "sequentum"
ENV_PREFIX = "TAP_SEQUENTUM_"
USAGE_ERROR = 2
INTERRUPTED = 130
#: A synchronous start holds the request open for the whole run, so its answer may take a while.
SYNC_ANSWER_TIMEOUT = 600.0
#: Without a terminal, a --wait progress line is written on each status change and at least this often.
PLAIN_PROGRESS_EVERY = 60.0


# --- settings -------------------------------------------------------------------------------------


def load_settings(args: argparse.Namespace, environ: dict[str, str]) -> dict[str, Any]:
    """api_key, base_url, request_timeout, max_retries: flag > --config file > TAP_SEQUENTUM_* > default.

    An explicit file wins over the environment, as for the tap, so an exported production key is never
    sent to a base_url that the file names.
    """
    settings: dict[str, Any] = {"base_url": DEFAULT_BASE_URL, "request_timeout": 60.0, "max_retries": 5}
    for key in ("api_key", "base_url", "request_timeout", "max_retries"):
        value = environ.get(ENV_PREFIX + key.upper())
        if value:
            settings[key] = value
    config_path = getattr(args, "config", None)
    if config_path:
        try:
            config = json.loads(Path(config_path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"Cannot read the config file {config_path}: {_oneline(exc)}.") from None
        if not isinstance(config, dict):
            raise UsageError(f"The config file {config_path} must hold a JSON object.")
        settings.update({k: config[k] for k in settings.keys() | {"api_key"} if config.get(k) is not None})
    if getattr(args, "api_key", None):
        settings["api_key"] = args.api_key
    if getattr(args, "base_url", None):
        settings["base_url"] = args.base_url
    if not settings.get("api_key"):
        raise UsageError(errors.MISSING_API_KEY)
    for key, kind in (("request_timeout", float), ("max_retries", int)):
        try:
            settings[key] = kind(settings[key])
        except (TypeError, ValueError):
            raise UsageError(f"{key} must be a number, not {settings[key]!r}.") from None
    return settings


def make_client(settings: dict[str, Any], *, timeout: float | None = None) -> SequentumClient:
    return SequentumClient(
        str(settings["api_key"]),
        str(settings["base_url"]),
        timeout=timeout if timeout is not None else settings["request_timeout"],
        max_retries=settings["max_retries"],
    )


# --- output ---------------------------------------------------------------------------------------


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _oneline(value: Any) -> str:
    return " ".join(str(value).split())


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    # Names and messages come from the API: no newlines or escape sequences reach the terminal.
    return "".join(ch if ch.isprintable() else " " for ch in str(value))


def _width(text: str) -> int:
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def render_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Aligned plain-text columns; columns holding only integers are right-aligned."""
    raw = [list(row) for row in rows]
    cells = [[_cell(value) for value in row] for row in raw]
    numeric = [
        any(row[i] is not None for row in raw)
        and all(isinstance(row[i], int) and not isinstance(row[i], bool) for row in raw if row[i] is not None)
        for i in range(len(headers))
    ]
    widths = [max([_width(h), *(_width(row[i]) for row in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str], align: Sequence[bool]) -> str:
        padded = [
            " " * (w - _width(v)) + v if right else v + " " * (w - _width(v))
            for v, w, right in zip(values, widths, align, strict=True)
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers, [False] * len(headers)), *(line(row, numeric) for row in cells)])


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def progress_bar(done: int, total: int | None, width: int = 30) -> str:
    """`[#######-------]  45%  1.2 MB / 2.6 MB`, or just the byte count when the size is unknown."""
    if not total:
        return f"{human_bytes(done)}"
    fraction = min(done / total, 1.0)
    filled = int(fraction * width)
    bar = "#" * filled + "-" * (width - filled)
    return f"[{bar}] {fraction:4.0%}  {human_bytes(done)} / {human_bytes(total)}"


class Output:
    """Where results (stdout) and progress and errors (stderr) go; `--json` switches stdout to JSON."""

    def __init__(self, as_json: bool, out: TextIO, err: TextIO) -> None:
        self.as_json = as_json
        self.out = out
        self.err = err
        self.err_is_terminal = _is_terminal(err)

    def json(self, value: Any) -> None:
        self.out.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str) -> None:
        self.out.write((render_table(headers, rows) if rows else empty) + "\n")

    def note(self, text: str) -> None:
        """A hint for people; never part of the machine-readable answer."""
        if not self.as_json:
            self.err.write(text + "\n")


def show(
    output: Output, value: Any, headers: Sequence[str], row: Callable[[dict], Sequence[Any]], empty: str
) -> None:
    """One object or a list of them: JSON as the API returned it, or a table."""
    if output.as_json:
        output.json(value)
        return
    items = value if isinstance(value, list) else [value]
    output.table(headers, [row(item) for item in items if isinstance(item, dict)], empty)


AGENT_HEADERS = ("ID", "NAME", "STATUS", "LAST ACTIVITY")
RUN_HEADERS = ("ID", "STATUS", "CREATED", "ENDED", "SECONDS", "DATA", "ERRORS", "MESSAGE")
FILE_HEADERS = ("ID", "TYPE", "SIZE", "CREATED", "NAME")
VERSION_HEADERS = ("VERSION", "CREATED", "USER", "SIZE", "COMMENTS")


def agent_row(agent: dict) -> list[Any]:
    status = agent.get("status")
    return [
        agent.get("id"),
        agent.get("name"),
        None if status is None else status_label(status),
        normalize_timestamp(agent.get("lastActivity")),
    ]


def run_row(run: dict) -> list[Any]:
    return [
        run.get("id"),
        status_label(run.get("status")),
        normalize_timestamp(run.get("created")),
        normalize_timestamp(run.get("endTime")),
        run.get("runTimeSec"),
        run.get("dataCount"),
        run.get("errorCount"),
        run.get("message"),
    ]


def file_row(item: dict) -> list[Any]:
    kind = item.get("fileType")
    name = file_type_name(kind)
    return [
        item.get("id"),
        f"{name} ({status_code(kind)})" if name else kind,
        item.get("fileSize"),
        normalize_timestamp(item.get("created")),
        item.get("name"),
    ]


def version_row(version: dict) -> list[Any]:
    return [
        version.get("version"),
        normalize_timestamp(version.get("created")),
        version.get("userName"),
        version.get("fileSize"),
        version.get("comments"),
    ]


# --- commands -------------------------------------------------------------------------------------


def cmd_agents(client: SequentumClient, args: argparse.Namespace, output: Output) -> int:
    filters = {"name": args.name} if args.name else {}
    agents = list(client.list_agents(**filters))
    if args.details:
        # The list leaves lastActivity (and dates) empty; each agent's own page has them.
        agents = [client.get_agent(int(agent["id"])) for agent in agents]
    show(output, agents, AGENT_HEADERS, agent_row, "No agents.")
    return 0


def cmd_runs(client: SequentumClient, args: argparse.Namespace, output: Output) -> int:
    runs = client.list_runs(args.agent_id, max_records=args.max)
    show(output, runs, RUN_HEADERS, run_row, f"Agent {args.agent_id} has no runs.")
    return 0


def cmd_files(client: SequentumClient, args: argparse.Namespace, output: Output) -> int:
    files = client.list_files(args.agent_id, args.run_id)
    show(output, files, FILE_HEADERS, file_row, f"Run {args.run_id} has no files.")
    return 0


def cmd_versions(client: SequentumClient, args: argparse.Namespace, output: Output) -> int:
    versions = client.list_versions(args.agent_id)
    show(output, versions, VERSION_HEADERS, version_row, f"Agent {args.agent_id} has no versions.")
    return 0


def safe_file_name(name: Any, file_id: int) -> str:
    """The last component of a server-given name, so a file can never land outside the target folder."""
    base = str(name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(ch for ch in base if ch.isprintable())
    return base if base not in ("", ".", "..") else f"file-{file_id}"


class _ProgressWriter:
    """A file wrapper that redraws a progress bar on stderr while the client writes into it."""

    def __init__(self, handle: IO[bytes], err: TextIO, total: int | None, *, interval: float = 0.1) -> None:
        self._handle = handle
        self._err = err
        self._total = total
        self._interval = interval
        self._shown = 0.0
        self.written = 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        now = time.monotonic()
        if now - self._shown >= self._interval:
            self._shown = now
            self.draw()
        return self._handle.write(data)

    def draw(self) -> None:
        self._err.write("\r" + progress_bar(self.written, self._total) + "\x1b[K")
        self._err.flush()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)

    def truncate(self, size: int | None = None) -> int:
        # The client rewinds and truncates before every attempt: the bar starts over with it.
        self.written = 0
        return self._handle.truncate(size)

    def flush(self) -> None:
        self._handle.flush()


def cmd_download(client: SequentumClient, args: argparse.Namespace, output: Output) -> int:
    files = client.list_files(args.agent_id, args.run_id)
    item = next((f for f in files if isinstance(f, dict) and f.get("id") == args.file_id), None)
    if item is None:
        raise errors.NotFoundError(
            f"Run {args.run_id} of agent {args.agent_id} has no file {args.file_id}: list its files with "
            f"`sequentum files {args.agent_id} {args.run_id}`."
        )
    name = safe_file_name(item.get("name"), args.file_id)
    target = Path(args.output) if args.output else Path(name)
    if target.is_dir():
        target = target / name
    if target.exists() and not args.force:
        raise errors.SequentumError(f"{target} already exists: pass --force to overwrite it, or -o PATH.")
    total = item.get("fileSize") if isinstance(item.get("fileSize"), int) else None
    # Written beside the target and renamed at the end: a failed download leaves no half file.
    partial = target.with_name(target.name + ".part")
    try:
        handle = open(partial, "w+b")  # noqa: SIM115 - closed below, before the rename
    except OSError as exc:
        raise errors.SequentumError(f"Cannot write {partial}: {_oneline(exc.strerror or exc)}.") from None
    done = False
    try:
        with handle:
            dest: Any = handle
            if output.err_is_terminal:
                dest = _ProgressWriter(handle, output.err, total)
            result = client.download(args.agent_id, args.run_id, args.file_id, dest, name=name)
            if isinstance(dest, _ProgressWriter):
                dest.draw()
                output.err.write("\n")
        try:
            os.replace(partial, target)
        except OSError as exc:
            raise errors.SequentumError(f"Cannot write {target}: {_oneline(exc.strerror or exc)}.") from None
        done = True
    finally:
        if not done:
            partial.unlink(missing_ok=True)
    if output.as_json:
        output.json(
            {"path": str(target), "size": result.size, "fileId": args.file_id, "name": item.get("name")}
        )
    else:
        output.out.write(f"{target}  {result.size} bytes ({human_bytes(result.size)})\n")
    return 0


def _sync_tables(output: Output, data: Any) -> None:
    """A synchronous start answers {export name: [rows]}: one table per export."""
    exports = data if isinstance(data, dict) else {"data": data}
    first = True
    for export, rows in exports.items():
        if not first:
            output.out.write("\n")
        first = False
        if not isinstance(rows, list):
            output.out.write(f"{export}: {_cell(rows)}\n")
            continue
        records = [r if isinstance(r, dict) else {"value": r} for r in rows]
        columns = list(dict.fromkeys(key for record in records for key in record))
        output.out.write(f"{export} ({len(records)} row{'' if len(records) == 1 else 's'})\n")
        if records:
            output.out.write(render_table(columns, [[r.get(c) for c in columns] for r in records]) + "\n")


class _WaitProgress:
    """`run 50027: Running (12 s)`: rewritten in place on a terminal, else a line per change (or minute)."""

    def __init__(self, output: Output, run_id: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._err = output.err
        self._terminal = output.err_is_terminal
        self._run_id = run_id
        self._clock = clock
        self._started = clock()
        self._last: tuple[Any, float] | None = None
        self.drawn = False

    def __call__(self, run: dict) -> None:
        now = self._clock()
        status = run.get("status")
        name = status_name(status) or status_label(status)
        text = f"run {self._run_id}: {name} ({now - self._started:.0f} s)"
        if self._terminal:
            self._err.write("\r" + text + "\x1b[K")
            self.drawn = True
        elif self._last is None or self._last[0] != status or now - self._last[1] >= PLAIN_PROGRESS_EVERY:
            self._err.write(text + "\n")
            self._last = (status, now)
        self._err.flush()

    def end(self) -> None:
        if self.drawn:
            self._err.write("\n")
            self.drawn = False


def cmd_start(client: SequentumClient, args: argparse.Namespace, output: Output) -> int:
    try:
        params = parse_params(args.param or [])
    except errors.ConfigurationError as exc:
        raise UsageError(str(exc)) from None
    try:
        body = start_body(
            params if args.param else None,
            parallelism=args.parallelism,
            max_concurrency=args.max_concurrency,
            export=args.export,
            timeout=args.timeout,
            proxy_pool_id=args.proxy_pool,
            exclusive=args.exclusive,
            wait_on_failure=args.wait_on_failure,
            log_level=args.log_level,
            log_mode=args.log_mode,
            synchronous=args.sync,
        )
    except errors.ConfigurationError as exc:
        raise UsageError(str(exc)) from None
    agent_id = args.agent_id
    try:
        answer = client.start_agent(agent_id, body)
    except (errors.AmbiguousWriteError, KeyboardInterrupt) as exc:
        cause = (
            "interrupted"
            if isinstance(exc, KeyboardInterrupt)
            else f"no answer within {client.timeout:g} s"
            if "no answer came" in str(exc)
            else "the connection broke"
        )
        raise errors.AmbiguousWriteError(
            f"The start of agent {agent_id} was sent but its answer was lost ({cause}); it may have queued "
            f"a run: check with `sequentum runs {agent_id}` before starting it again."
        ) from None
    if args.sync:
        if output.as_json:
            output.json(answer)
        else:
            _sync_tables(output, answer)
        return 0
    run = started_run(answer, agent_id)
    run_id = run["id"]
    if not args.wait:
        show(output, run, RUN_HEADERS, run_row, "")
        output.note(
            f"Follow it with `sequentum runs {agent_id}`; stop it with `sequentum stop {agent_id} {run_id}`."
        )
        return 0
    progress = _WaitProgress(output, run_id)
    try:
        final = wait_for_run(
            client,
            agent_id,
            run_id,
            timeout=args.wait_timeout,
            poll_interval=args.poll_interval,
            on_update=progress,
        )
    except errors.RunTimeoutError as exc:
        progress.end()
        if output.as_json:
            output.json(exc.run)
        raise
    except errors.SequentumError as exc:
        progress.end()
        raise type(exc)(
            f"{exc} Run {run_id} was started and may still be running: check it with "
            f"`sequentum runs {agent_id}`."
        ) from None
    except KeyboardInterrupt:
        progress.end()
        interrupted = errors.SequentumError(
            f"Stopped waiting; run {run_id} goes on running on Sequentum: stop it with "
            f"`sequentum stop {agent_id} {run_id}`."
        )
        interrupted.exit_code = INTERRUPTED
        raise interrupted from None
    progress.end()
    show(output, final, RUN_HEADERS, run_row, "")
    if run_succeeded(final):
        return 0
    message = f": {_oneline(final['message'])}" if final.get("message") else ""
    raise errors.SequentumError(
        f"Run {run_id} of agent {agent_id} ended {status_label(final.get('status'))}{message}"
    )


def cmd_stop(client: SequentumClient, args: argparse.Namespace, output: Output) -> int:
    try:
        answer = client.stop_run(args.agent_id, args.run_id)
    except KeyboardInterrupt:
        raise errors.AmbiguousWriteError(
            f"Interrupted after the stop of run {args.run_id} was sent; it may have taken effect: check with "
            f"`sequentum runs {args.agent_id}`."
        ) from None
    # Sequentum may answer a stop with no body at all; the run's state then comes from a status read.
    run = (
        answer
        if isinstance(answer, dict) and "status" in answer
        else client.get_run(args.agent_id, args.run_id)
    )
    show(output, run, RUN_HEADERS, run_row, "")
    return 0


def cmd_restore(client: SequentumClient, args: argparse.Namespace, output: Output) -> int:
    try:
        answer = client.restore_version(args.agent_id, args.version, args.comment)
    except (errors.AmbiguousWriteError, KeyboardInterrupt) as exc:
        said = (
            str(exc)
            if isinstance(exc, errors.AmbiguousWriteError)
            else "Interrupted after the restore was sent."
        )
        raise errors.AmbiguousWriteError(
            f"{said} See `sequentum versions {args.agent_id}` for whether a new version was made."
        ) from None
    if isinstance(answer, dict) and "version" in answer:
        version = answer
    else:
        versions = [v for v in client.list_versions(args.agent_id) if isinstance(v.get("version"), int)]
        version = max(versions, key=lambda v: v["version"]) if versions else answer
    show(output, version, VERSION_HEADERS, version_row, "")
    return 0


# --- the parser -----------------------------------------------------------------------------------


def _number(label: str, minimum: int = 0) -> Callable[[str], int]:
    def parse(text: str) -> int:
        text = text.strip()
        if not (text.isascii() and text.isdigit()) or int(text) < minimum:
            raise argparse.ArgumentTypeError(
                f"{label} must be a whole number of at least {minimum}, not {text!r}"
            )
        return int(text)

    return parse


def _id(text: str) -> int:
    if not (text.strip().isascii() and text.strip().isdigit()):
        raise argparse.ArgumentTypeError(f"expected a numeric id, not {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, not {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    # Global options are accepted before or after the command (SUPPRESS keeps a later parser from
    # resetting what an earlier one read).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--api-key",
        default=argparse.SUPPRESS,
        help="API key (discouraged: visible in process lists; prefer TAP_SEQUENTUM_API_KEY)",
    )
    common.add_argument(
        "--base-url",
        default=argparse.SUPPRESS,
        help=f"Sequentum address (env TAP_SEQUENTUM_BASE_URL; default {DEFAULT_BASE_URL})",
    )
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="the tap's JSON config file (api_key, base_url, request_timeout, max_retries)",
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print JSON for scripts instead of tables",
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        parents=[common],
        description="Sequentum Cloud from the shell: list agents, runs, files and versions, download run "
        "files, start agents (and wait for them), stop runs and restore versions.",
        epilog="Settings: flags, then TAP_SEQUENTUM_API_KEY / TAP_SEQUENTUM_BASE_URL, then --config. "
        "Exit codes: 0 ok, 1 failed (or the run did not complete), 2 wrong usage or settings.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    sub = command("agents", cmd_agents, "List agents: id, name, status of the newest run, last activity.")
    sub.add_argument("--name", help="only agents whose name contains this text")
    sub.add_argument(
        "--details", action="store_true", help="read each agent (one request each) for its last activity"
    )

    sub = command("runs", cmd_runs, "List an agent's runs, newest first.")
    sub.add_argument("agent_id", metavar="AGENT_ID", type=_id)
    sub.add_argument(
        "--max", type=_number("--max", 1), default=50, metavar="N", help="at most N runs (API limit 1000)"
    )

    sub = command("files", cmd_files, "List the files of a run.")
    sub.add_argument("agent_id", metavar="AGENT_ID", type=_id)
    sub.add_argument("run_id", metavar="RUN_ID", type=_id)

    sub = command("download", cmd_download, "Download one run file (streamed).")
    sub.add_argument("agent_id", metavar="AGENT_ID", type=_id)
    sub.add_argument("run_id", metavar="RUN_ID", type=_id)
    sub.add_argument("file_id", metavar="FILE_ID", type=_id)
    sub.add_argument(
        "-o", "--output", metavar="PATH", help="file or folder to write (default: the file's name here)"
    )
    sub.add_argument("--force", action="store_true", help="overwrite an existing file")

    sub = command("versions", cmd_versions, "List an agent's versions, newest first.")
    sub.add_argument("agent_id", metavar="AGENT_ID", type=_id)

    sub = command(
        "start",
        cmd_start,
        "Start an agent: print the queued run, or --wait for it to finish, or --sync for its data.",
    )
    sub.add_argument("agent_id", metavar="AGENT_ID", type=_id)
    sub.add_argument(
        "-p", "--param", action="append", metavar="NAME=VALUE", help="input parameter (repeatable)"
    )
    sub.add_argument("--parallelism", type=_number("--parallelism", 1), metavar="N", help="sessions to start")
    sub.add_argument(
        "--max-concurrency", type=_number("--max-concurrency", 1), metavar="N", help="sessions at once"
    )
    sub.add_argument("--export", type=str.lower, choices=("combined", "separated"), help="parallel export")
    sub.add_argument(
        "--timeout", type=_number("--timeout"), metavar="S", help="the run's timeout on Sequentum"
    )
    sub.add_argument("--proxy-pool", type=_id, metavar="ID", help="proxy pool id")
    sub.add_argument("--exclusive", action=argparse.BooleanOptionalAction, help="run exclusively")
    sub.add_argument("--wait-on-failure", action=argparse.BooleanOptionalAction, help="wait on failure")
    sub.add_argument("--log-level", metavar="L", help="e.g. Info, Debug")
    sub.add_argument("--log-mode", metavar="M", help="e.g. Text, Html")
    mode = sub.add_mutually_exclusive_group()
    mode.add_argument(
        "--wait", action="store_true", help="poll until the run ends; exit 0 only if it completed"
    )
    mode.add_argument("--sync", action="store_true", help="run synchronously and print the returned data")
    sub.add_argument(
        "--poll-interval", type=_seconds, default=5.0, metavar="S", help="with --wait (default 5)"
    )
    sub.add_argument(
        "--wait-timeout",
        type=_seconds,
        metavar="S",
        help="give up waiting after S seconds (--wait: polling, default none; --sync: the answer, default "
        f"{SYNC_ANSWER_TIMEOUT:g})",
    )

    sub = command("stop", cmd_stop, "Stop a run.")
    sub.add_argument("agent_id", metavar="AGENT_ID", type=_id)
    sub.add_argument("run_id", metavar="RUN_ID", type=_id)

    sub = command("restore", cmd_restore, "Restore a version as the agent's new highest version.")
    sub.add_argument("agent_id", metavar="AGENT_ID", type=_id)
    sub.add_argument("version", metavar="VERSION", type=_number("VERSION", 1))
    sub.add_argument("--comment", required=True, metavar="TEXT", help="why (kept in the version history)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else USAGE_ERROR
    output = Output(bool(getattr(args, "json", False)), sys.stdout, sys.stderr)
    secret = ""
    client: SequentumClient | None = None
    try:
        settings = load_settings(args, dict(os.environ))
        secret = str(settings["api_key"])
        timeout = None
        if args.command == "start" and args.sync:
            timeout = args.wait_timeout or max(settings["request_timeout"], SYNC_ANSWER_TIMEOUT)
        try:
            client = make_client(settings, timeout=timeout)
        except errors.ConfigurationError as exc:
            raise UsageError(str(exc)) from None
        code = args.handler(client, args, output)
        output.out.flush()
        return code
    except errors.SequentumError as exc:
        _error(output, str(exc), secret)
        return exc.exit_code
    except KeyboardInterrupt:
        _error(output, "interrupted", secret)
        return INTERRUPTED
    except BrokenPipeError:
        # `sequentum runs 1 | head`: the reader left; say nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as exc:  # the local disk: full, read-only, a vanished folder
        _error(output, str(exc), secret)
        return 1
    except Exception as exc:  # a bug or an unforeseen failure: still one line, never the key
        _error(output, f"unexpected {type(exc).__name__}: {_oneline(exc)} (please report this)", secret)
        return 1
    finally:
        if client is not None:
            client.close()


def _error(output: Output, message: str, secret: str) -> None:
    text = _oneline(message)
    if secret:
        text = text.replace(secret, "***")
    output.err.write(f"{PROG}: error: {text}\n")
    output.err.flush()


if __name__ == "__main__":
    sys.exit(main())
