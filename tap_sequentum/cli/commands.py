"""The `sequentum` commands: each reads its arguments, calls the client and hands the answer to `Output`."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click

from tap_sequentum import errors, operations
from tap_sequentum.cli.output import Output, ProgressWriter, WaitProgress, human_bytes, oneline
from tap_sequentum.cli.settings import PRECEDENCE, Session, global_options
from tap_sequentum.client import SequentumClient
from tap_sequentum.listings import by_key, newest_first

INTERRUPTED = 130
#: A synchronous start holds the request open for the whole run, so its answer may take a while.
SYNC_ANSWER_TIMEOUT = 600.0


class WholeNumber(click.IntRange):
    """click's IntRange, named for its error messages ("'x1' is not a valid whole number")."""

    name = "whole number"


ID, COUNT, SECONDS = WholeNumber(min=0), WholeNumber(min=1), click.FloatRange(min=0, min_open=True)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    no_args_is_help=False,
    epilog=f"{PRECEDENCE} Exit codes: 0 ok, 1 failed (or the run did not complete), 2 wrong usage or "
    "settings.",
)
@global_options
def sequentum() -> None:
    """Sequentum Cloud from the shell: list agents, runs, files and versions, download run files, start
    agents (and wait for them), stop runs and restore versions."""


def command(name: str) -> Callable[[Callable[..., None]], click.Command]:
    """A subcommand that takes the global options too and receives the `Session`."""
    return lambda function: sequentum.command(name, epilog=PRECEDENCE)(
        global_options(click.pass_obj(function))
    )


@contextlib.contextmanager
def sent(what: str, check: str) -> Iterator[None]:
    """A write whose answer was lost may have taken effect: never repeat it, say how to check."""
    try:
        yield
    except (errors.AmbiguousWriteError, KeyboardInterrupt) as exc:
        said = (
            str(exc) if isinstance(exc, errors.AmbiguousWriteError) else f"Interrupted after {what} was sent."
        )
        raise errors.AmbiguousWriteError(f"{said} {check}") from None


@command("agents")
@click.option("--name", help="Only agents whose name contains this text.")
@click.option("--details", is_flag=True, help="Read each agent (one request each) for its last activity.")
def agents(session: Session, name: str | None, details: bool) -> None:
    """List agents: id, name, status of the newest run, last activity."""
    client, output = session.client(), session.output
    found = list(client.list_agents(**({"name": name} if name else {})))
    if details:
        found = [client.get_agent(int(agent["id"])) for agent in found]
    if not found or any(agent.get("lastActivity") for agent in found):
        output.show(found, "agents", "No agents.")
        return
    # The reference page's agent list leaves lastActivity null: a column of dashes would read "never ran".
    output.show(found, "agents", leave_out=["LAST ACTIVITY"])
    if not details:
        output.note("This agent list has no last activity: `sequentum agents --details` reads it per agent.")


@command("runs")
@click.argument("agent_id", type=ID)
@click.option("--max", "max_records", type=COUNT, default=50, metavar="N", help="At most N (API limit 1000).")
def runs(session: Session, agent_id: int, max_records: int) -> None:
    """List an agent's runs, newest first."""
    found = newest_first(session.client().list_runs(agent_id, max_records=max_records))
    session.output.show(found, "runs", f"Agent {agent_id} has no runs.")


@command("files")
@click.argument("agent_id", type=ID)
@click.argument("run_id", type=ID)
def files(session: Session, agent_id: int, run_id: int) -> None:
    """List the files of a run."""
    session.output.show(session.client().list_files(agent_id, run_id), "files", f"Run {run_id} has no files.")


@command("versions")
@click.argument("agent_id", type=ID)
def versions(session: Session, agent_id: int) -> None:
    """List an agent's versions, newest first."""
    found = by_key(session.client().list_versions(agent_id), "version", reverse=True)
    session.output.show(found, "versions", f"Agent {agent_id} has no versions.")


def safe_file_name(name: Any, file_id: int) -> str:
    """The last component of a server-given name, so a file can never land outside the target folder."""
    base = "".join(
        ch for ch in str(name or "").replace("\\", "/").rsplit("/", 1)[-1].strip() if ch.isprintable()
    )
    return base if base not in ("", ".", "..") else f"file-{file_id}"


@command("download")
@click.argument("agent_id", type=ID)
@click.argument("run_id", type=ID)
@click.argument("file_id", type=ID)
@click.option(
    "-o", "--output", "target", metavar="PATH", help="File or folder (made if missing), - for stdout."
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def download(
    session: Session, agent_id: int, run_id: int, file_id: int, target: str | None, force: bool
) -> None:
    """Download one run file (streamed) into the file's own name here, unless -o says otherwise."""
    client, output = session.client(), session.output
    listed = client.list_files(agent_id, run_id)
    item = next((f for f in listed if isinstance(f, dict) and f.get("id") == file_id), None)
    if item is None:
        raise errors.NotFoundError(
            f"Run {run_id} of agent {agent_id} has no file {file_id}: list its files with "
            f"`sequentum files {agent_id} {run_id}`."
        )
    name = safe_file_name(item.get("name"), file_id)
    size = item.get("fileSize") if isinstance(item.get("fileSize"), int) else None

    def fetch(dest: IO[bytes]) -> int:
        writer = ProgressWriter(dest, output.err, size) if output.err_is_terminal else None
        result = client.download(agent_id, run_id, file_id, writer or dest, name=name)
        if writer:
            writer.draw(end="\n")
        return result.size

    if target == "-":
        # The client rewinds for every retry, which a pipe cannot: stdout gets the file once complete.
        with tempfile.TemporaryFile() as spool:
            written = fetch(spool)
            spool.seek(0)
            shutil.copyfileobj(spool, output.binary())
        output.note(f"{written} bytes ({human_bytes(written)}) written to stdout")
        return
    path = Path(target or name)
    if path.is_dir() or (target or "").endswith(("/", os.sep)):
        path = path / name
    if path.exists() and not force:
        raise errors.SequentumError(f"{path} already exists: pass --force to overwrite it, or -o PATH.")
    # Written beside the target and renamed at the end: a failed download leaves no half file.
    partial = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "w+b") as handle:
            written = fetch(handle)
        os.replace(partial, path)
    except OSError as exc:
        raise errors.SequentumError(f"Cannot write {path}: {oneline(exc.strerror or exc)}.") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    if output.as_json:
        output.json({"path": str(path), "size": written, "fileId": file_id, "name": item.get("name")})
    else:
        output.out.write(f"{path}  {written} bytes ({human_bytes(written)})\n")


def _params(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, str] | None:
    try:
        return operations.parse_params(list(value)) if value else None
    except errors.ConfigurationError as exc:
        raise click.BadParameter(str(exc)) from None


@command("start")
@click.argument("agent_id", type=ID)
@click.option(
    "-p", "--param", "params", multiple=True, callback=_params, metavar="NAME=VALUE", help="Repeatable."
)
@click.option("--parallelism", type=COUNT, metavar="N", help="Sessions to start.")
@click.option("--max-concurrency", type=COUNT, metavar="N", help="Sessions at once.")
@click.option(
    "--export", type=click.Choice(["combined", "separated"], case_sensitive=False), help="Parallel export."
)
@click.option("--timeout", type=ID, metavar="S", help="The run's timeout on Sequentum.")
@click.option("--proxy-pool", "proxy_pool_id", type=ID, metavar="ID", help="Proxy pool id.")
@click.option("--exclusive/--no-exclusive", default=None, help="Run exclusively.")
@click.option("--wait-on-failure/--no-wait-on-failure", default=None, help="Wait on failure.")
@click.option("--log-level", metavar="L", help="E.g. Info, Debug.")
@click.option("--log-mode", metavar="M", help="E.g. Text, Html.")
@click.option("--wait", is_flag=True, help="Poll until the run ends; exit 0 only if it completed.")
@click.option("--sync", is_flag=True, help="Run synchronously and print the returned data.")
@click.option("--poll-interval", type=SECONDS, default=5.0, metavar="S", help="With --wait (default 5).")
@click.option("--wait-timeout", type=SECONDS, metavar="S", help="Give up after S s (--sync: default 600).")
def start(
    session: Session,
    agent_id: int,
    params: dict[str, str] | None,
    wait: bool,
    sync: bool,
    poll_interval: float,
    wait_timeout: float | None,
    **options: Any,
) -> None:
    """Start an agent: print the queued run, or --wait for it to finish, or --sync for its data."""
    if wait and sync:
        raise click.UsageError("--sync is not allowed with --wait.")
    body = operations.start_body(params, synchronous=sync, **options)
    timeout = (wait_timeout or max(session.settings.request_timeout, SYNC_ANSWER_TIMEOUT)) if sync else None
    client, output = session.client(timeout), session.output
    with sent(
        f"the start of agent {agent_id}", f"It may have queued a run: see `sequentum runs {agent_id}`."
    ):
        answer = client.start_agent(agent_id, body)
    if sync:
        output.exports(answer)
        return
    run_id = operations.started_run(answer, agent_id)["id"]
    if not wait:
        output.show(answer, "runs")
        output.note(
            f"Follow it with `sequentum runs {agent_id}`; stop it with `sequentum stop {agent_id} {run_id}`."
        )
        return
    final = _wait(client, output, agent_id, run_id, wait_timeout, poll_interval)
    output.show(final, "runs")
    if not operations.run_succeeded(final):
        message = f": {oneline(final['message'])}" if final.get("message") else ""
        status = operations.status_label(final.get("status"))
        raise errors.SequentumError(f"Run {run_id} of agent {agent_id} ended {status}{message}")


def _wait(
    client: SequentumClient, output: Output, agent_id: int, run_id: int, timeout: float | None, poll: float
) -> dict:
    """The finished run; every way out of waiting says what became of the run on Sequentum."""
    progress = WaitProgress(output, run_id)
    try:
        return operations.wait_for_run(
            client, agent_id, run_id, timeout=timeout, poll_interval=poll, on_update=progress
        )
    except errors.RunTimeoutError as exc:
        if output.as_json:
            output.json(exc.run)
        raise
    except errors.SequentumError as exc:
        hint = (
            f"Run {run_id} was started and may still be running: check it with `sequentum runs {agent_id}`."
        )
        raise type(exc)(f"{exc} {hint}") from None
    except KeyboardInterrupt:
        interrupted = errors.SequentumError(
            f"Stopped waiting; run {run_id} goes on running on Sequentum: stop it with "
            f"`sequentum stop {agent_id} {run_id}`."
        )
        interrupted.exit_code = INTERRUPTED
        raise interrupted from None
    finally:
        progress.end()


@command("stop")
@click.argument("agent_id", type=ID)
@click.argument("run_id", type=ID)
def stop(session: Session, agent_id: int, run_id: int) -> None:
    """Stop a run."""
    client = session.client()
    with sent(f"the stop of run {run_id}", f"It may have taken effect: see `sequentum runs {agent_id}`."):
        answer = client.stop_run(agent_id, run_id)
    # Sequentum may answer a stop with no body at all; the run's state then comes from a status read.
    run = answer if isinstance(answer, dict) and "status" in answer else client.get_run(agent_id, run_id)
    session.output.show(run, "runs")


@command("restore")
@click.argument("agent_id", type=ID)
@click.argument("version", type=COUNT)
@click.option("--comment", required=True, metavar="TEXT", help="Why (kept in the version history).")
def restore(session: Session, agent_id: int, version: int, comment: str) -> None:
    """Restore a version as the agent's new highest version."""
    client = session.client()
    with sent("the restore", f"See `sequentum versions {agent_id}` for whether a new version was made."):
        answer = client.restore_version(agent_id, version, comment)
    if not (isinstance(answer, dict) and "version" in answer):
        known = [v for v in client.list_versions(agent_id) if isinstance(v.get("version"), int)]
        answer = max(known, key=lambda v: v["version"]) if known else answer
    session.output.show(answer, "versions")
