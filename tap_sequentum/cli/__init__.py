"""`sequentum`: list, download, start (and wait), stop and restore from the shell, on the tap's client.

Human tables by default, `--json` for scripts (stdout then holds JSON only). Every failure, click's usage
errors included, is one line `sequentum: error: ...` on stderr with the API key masked: exit 2 for a wrong
invocation or setting, 1 for everything else, 130 when interrupted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from tap_sequentum import errors
from tap_sequentum.cli.commands import INTERRUPTED, sequentum
from tap_sequentum.cli.output import oneline
from tap_sequentum.cli.settings import Session

PROG = "sequentum"


def main(argv: Sequence[Any] | None = None) -> int:
    """Run one command; returns the exit code (the console script exits with it)."""
    session = Session(sys.stdout, sys.stderr)
    args = sys.argv[1:] if argv is None else [str(arg) for arg in argv]
    try:
        # make_context/invoke rather than click's main(): that one prints its own multi-line errors and
        # a blank line on Ctrl-C.
        with sequentum.make_context(PROG, args, obj=session) as ctx:
            sequentum.invoke(ctx)
        session.out.flush()
        return 0
    except click.exceptions.Exit as exc:  # --help
        return exc.exit_code
    except BrokenPipeError:
        # `sequentum runs 1 | head`: the reader left; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (Exception, KeyboardInterrupt) as exc:
        message, code = failure(exc)
        text = oneline(message)
        for secret in session.secrets():
            text = errors.redact(text, secret)
        session.err.write(f"{PROG}: error: {text}\n")
        session.err.flush()
        return code
    finally:
        session.close()


def failure(exc: BaseException) -> tuple[str, int]:
    """The one line (before redaction) and the exit code for what a command raised."""
    if isinstance(exc, click.UsageError):
        where = exc.ctx.command_path if exc.ctx else PROG
        return f"{exc.format_message()} (see `{where} --help`)", exc.exit_code
    if isinstance(exc, click.ClickException):
        return exc.format_message(), exc.exit_code
    if isinstance(exc, errors.SequentumError):
        return str(exc), exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", INTERRUPTED
    if isinstance(exc, OSError):  # the local disk: full, read-only, a vanished folder
        return str(exc), 1
    # A bug or an unforeseen failure: still one line, never the key.
    return f"unexpected {type(exc).__name__}: {oneline(exc)} (please report this)", 1
