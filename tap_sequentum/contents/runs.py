"""The runs a content stream handles, in groups, and pass 1 over a group with the bad-file policy.

A group's files are all parsed (`parse.py`) before any is emitted, so the schema a target first sees
holds every file of the group: a first sync creates its tables with the types of the whole history, not
of the newest file, and no column changes type half-way. A file that cannot be read is reported
(`file_errors`) and skipped, or stops the stream at that file (`on_bad_file: stop`); a failure of the
API stops the sync once the runs before it are out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from tap_sequentum import errors
from tap_sequentum.contents.fetch import RunFile
from tap_sequentum.contents.formats import format_of
from tap_sequentum.contents.infer import Kind, widen
from tap_sequentum.contents.naming import Router
from tap_sequentum.contents.parse import ParsedFile, ParseSettings
from tap_sequentum.settings import SKIP, STOP

#: A group of runs is parsed before it is emitted while its files stay under these bounds.
GROUP_BYTES = 1 << 30
#: Of which at most this much is kept in memory; the rest waits in temp_dir.
GROUP_MEMORY = 128 << 20
GROUP_RUNS = 500


@dataclass(frozen=True)
class FileProblem:
    """A delivered file that was not (or not yet) extracted, and why: what `file_errors` records."""

    item: RunFile
    stream: str
    reason: str
    action: str  # "skipped", "stopped", "no_stream", "unsupported"
    #: The file's export table (for `no_stream`: the table the catalog has no stream for).
    table: str = ""


@dataclass
class ContentSettings:
    """What every content stream of one tap run shares; built once by the tap."""

    router: Router
    parse: ParseSettings = field(default_factory=ParseSettings)
    on_bad_file: str = SKIP
    fast_path: bool = True
    #: Every content stream of this run, and per agent the one that reports its files no stream takes.
    stream_names: set[str] = field(default_factory=set)
    reporters: dict[int, str] = field(default_factory=dict)
    report: Callable[[FileProblem], None] = lambda problem: None
    #: Streams stopped at a file this sync (their state stays before it): the tap fails at the end.
    stopped: list[str] = field(default_factory=list)


class StreamStopped(Exception):
    """This stream stops at this file; every other stream goes on."""


@dataclass
class RunFiles:
    """A run to handle and the files of it this stream takes that are not out yet."""

    run: dict
    files: list[RunFile]


def groups(runs: Iterable[dict], take: Callable[[dict], list[RunFile]]) -> Iterator[list[RunFiles]]:
    """The runs with the files this stream takes (`take`, asked lazily: what earlier groups emitted
    counts), in groups of about `GROUP_BYTES` or `GROUP_RUNS` runs."""
    group: list[RunFiles] = []
    size = 0
    for run in runs:
        files = take(run)
        group.append(RunFiles(run, files))
        size += sum(item.size or 0 for item in files)
        if size >= GROUP_BYTES or len(group) >= GROUP_RUNS:
            yield group
            group, size = [], 0
    if group:
        yield group


def strays(agent_id: int, files: Iterable[RunFile], router: Router, streams: set[str]) -> list[FileProblem]:
    """The delivered files of a run that no content stream of this sync takes, and why."""
    problems = []
    for item in files:
        if format_of(item.name) is None:
            reason = f"'{item.name or '(no name)'}' is not a data format this tap reads"
            problems.append(FileProblem(item, "", reason, "unsupported"))
            continue
        stream = router.stream_of(agent_id, item.name)
        if stream not in streams:
            reason = (
                f"export table '{router.table_of(agent_id, item.name)}' has no stream '{stream}' in the "
                "catalog: discover again (raise discovery_sample_runs if the table is only in older runs) "
                "and select it"
            )
            problems.append(
                FileProblem(item, stream, reason, "no_stream", router.table_of(agent_id, item.name))
            )
    return problems


def unrouted_warning(
    problems: Iterable[FileProblem],
    names: Mapping[int, str | None],
    uncovered: Collection[int],
    exported: Mapping[int, int] | None = None,
) -> str | None:
    """The one line a sync says about data no stream of its catalog takes: each agent (flagged when no content
    stream of the catalog reads it at all) with its tables and file counts, or, where its files were not
    listed, how many of its runs exported rows; and what to do. None when there is nothing to say."""
    files: dict[int, dict[str, int]] = {}
    for problem in problems:
        if problem.action == "no_stream":
            tables = files.setdefault(problem.item.agent_id, {})
            tables[problem.table] = tables.get(problem.table, 0) + 1
    runs = {
        agent_id: count for agent_id, count in (exported or {}).items() if count and agent_id not in files
    }
    if not files and not runs:
        return None
    pieces = []
    for agent_id in sorted({*files, *runs}):
        what = [f"table {table}: {_count(n, 'file')}" for table, n in sorted(files.get(agent_id, {}).items())]
        if agent_id in runs:
            what.append(f"{_count(runs[agent_id], 'run')} exported rows")
        flag = "no content stream; " if agent_id in uncovered else ""
        pieces.append(f"agent {agent_id} {names.get(agent_id)!r} ({flag}{', '.join(what)})")
    where = "each file is in file_errors (no_stream)" if files else ""
    if runs:
        where += ("; " if where else "") + "select run_files to have each of their files in file_errors"
    return (
        f"Data files that no stream of the catalog takes: {'; '.join(pieces)}. Discover again and select "
        "their streams: a catalog holds what existed when it was discovered (Meltano discovers before every "
        f"run with use_cached_catalog: false); {where}."
    )


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


@dataclass
class GroupRead:
    """Pass 1 over a group: per run its parsed files and whether all of them are (the run can be
    recorded once they are out), the kinds every file showed, and why it ended early, if it did."""

    ready: list[tuple[RunFiles, list[ParsedFile], bool]] = field(default_factory=list)
    kinds: dict[str, Kind] = field(default_factory=dict)
    stopped: str | None = None
    failure: errors.SequentumError | None = None

    def files(self) -> list[ParsedFile]:
        return [parsed for _, files, _ in self.ready for parsed in files]

    def close(self) -> None:
        for parsed in self.files():
            parsed.rows.close()


@dataclass
class GroupReader:
    """Parses a group's files with the bad-file policy of `settings`, for the stream `stream`."""

    stream: str
    settings: ContentSettings
    check_stop: Callable[[], None]
    logger: logging.Logger

    def read(self, group: list[RunFiles], parse: Callable[[RunFile, str], ParsedFile]) -> GroupRead:
        """Parse every file of the group with `parse(item, format)`, up to one that ends it early."""
        read = GroupRead()
        for run in group:
            files: list[ParsedFile] = []
            try:
                for item in run.files:
                    self.check_stop()  # a stop waits for no download: nothing of the group is out yet
                    parsed = self._parse(item, parse)
                    if parsed is not None:
                        files.append(parsed)
                        for name, kind in parsed.kinds.items():
                            read.kinds[name] = widen(read.kinds.get(name, Kind.NULL), kind)
            except StreamStopped as stop:
                read.stopped = str(stop)
            except errors.SequentumError as exc:
                read.failure = exc
            read.ready.append((run, files, read.stopped is None and read.failure is None))
            if not read.ready[-1][2]:
                break  # the files before the bad one still go out
        return read

    def _parse(self, item: RunFile, parse: Callable[[RunFile, str], ParsedFile]) -> ParsedFile | None:
        """The file parsed, or None when it was skipped (and reported)."""
        fmt = format_of(item.name)
        assert fmt is not None
        try:
            parsed = parse(item, fmt)
        except errors.NotFoundError:
            # Sequentum removed the file after listing it: it cannot come back, so it never blocks.
            self.settings.report(FileProblem(item, self.stream, "gone: the download answered 404", "skipped"))
            return None
        except errors.DownloadError as exc:
            self.logger.warning("Stream %s stops at %s: %s", self.stream, item.describe(), exc)
            raise StreamStopped(f"{item.describe()} (download kept failing)") from None
        except errors.MalformedFileError as exc:
            reason = f"not valid {fmt.upper()} ({exc})"
            if self.settings.on_bad_file == STOP:
                self.settings.report(FileProblem(item, self.stream, reason, "stopped"))
                raise StreamStopped(f"{item.describe()}: {reason}") from None
            self.settings.report(FileProblem(item, self.stream, reason, "skipped"))
            return None
        encoding = parsed.options.encoding
        if encoding not in ("utf-8", self.settings.parse.options.encoding):
            self.logger.info("Reading %s as %s.", item.describe(), encoding)
        return parsed
