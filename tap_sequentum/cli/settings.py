"""Where the `sequentum` command's settings come from, and the client built from them.

Precedence, as the help states: a command-line flag beats the `--config` file, which beats the
`TAP_SEQUENTUM_*` environment, which beats the default. An explicit file wins over the environment (as
for the tap) so an exported production key is never sent to a base_url that the file names.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
from click.core import ParameterSource

from tap_sequentum import errors
from tap_sequentum.cli.output import Output, oneline
from tap_sequentum.client import DEFAULT_BASE_URL, SequentumClient
from tap_sequentum.errors import UsageError

ENV_PREFIX = "TAP_SEQUENTUM_"
DEFAULTS: dict[str, Any] = {"base_url": DEFAULT_BASE_URL, "request_timeout": 60.0, "max_retries": 5}
#: A config file is plain JSON: its numbers are converted as the options' own types would.
NUMBERS: dict[str, Callable[[Any], Any]] = {"request_timeout": float, "max_retries": int}
PRECEDENCE = (
    "Settings: a flag beats the --config file, which beats the TAP_SEQUENTUM_* environment, which beats "
    "the default."
)

F = TypeVar("F", bound=Callable[..., Any])


class Session:
    """One invocation: the settings as given (value and source), then the output and the client."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err
        self.given: dict[str, tuple[Any, ParameterSource]] = {}
        self._client: SequentumClient | None = None
        self._output: Output | None = None

    @property
    def output(self) -> Output:
        if self._output is None:
            self._output = Output("json" in self.given, self.out, self.err)
        return self._output

    def secrets(self) -> list[str]:
        """Every API key this invocation knows of (flag, file, environment): each is masked in errors."""
        keys = [self.given.get("api_key", ("",))[0], os.environ.get(ENV_PREFIX + "API_KEY")]
        if "config" in self.given:
            with contextlib.suppress(UsageError):
                keys.append(read_config(self.given["config"][0]).get("api_key"))
        return [str(key) for key in keys if key]

    @cached_property
    def settings(self) -> dict[str, Any]:
        """api_key, base_url, request_timeout, max_retries: flag > --config file > environment > default."""
        given = self.given

        def source(kind: ParameterSource) -> dict[str, Any]:
            return {name: value for name, (value, src) in given.items() if src is kind}

        from_file = read_config(given["config"][0]) if "config" in given else {}
        settings = dict(DEFAULTS)
        for layer in (source(ParameterSource.ENVIRONMENT), from_file, source(ParameterSource.COMMANDLINE)):
            settings.update({k: v for k, v in layer.items() if k in {*DEFAULTS, "api_key"} and v != ""})
        if not settings.get("api_key"):
            raise UsageError(errors.MISSING_API_KEY)
        for key, kind in NUMBERS.items():
            try:
                settings[key] = kind(settings[key])
            except (TypeError, ValueError):
                raise UsageError(f"{key} must be a number, not {settings[key]!r}.") from None
        return settings

    def client(self, *, timeout: float | None = None) -> SequentumClient:
        """The client, made on first use so `--help` and usage errors need no key."""
        if self._client is None:
            settings = self.settings
            try:
                self._client = SequentumClient(
                    str(settings["api_key"]),
                    str(settings["base_url"]),
                    timeout=timeout or settings["request_timeout"],
                    max_retries=settings["max_retries"],
                )
            except errors.ConfigurationError as exc:
                raise UsageError(str(exc)) from None
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"Cannot read the config file {path}: {oneline(exc)}.") from None
    if not isinstance(config, dict):
        raise UsageError(f"The config file {path} must hold a JSON object.")
    return {k: v for k, v in config.items() if v is not None}


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Keep a global option's value and source; a flag after the command beats the same flag before it."""
    if value is None or value is False or param.name is None:
        return
    source = ctx.get_parameter_source(param.name)
    session: Session = ctx.obj
    given = session.given
    if source is ParameterSource.COMMANDLINE or param.name not in given:
        given[param.name] = (value, source)


def _global(*decls: str, **attrs: Any) -> Callable[[F], F]:
    return click.option(*decls, callback=_remember, expose_value=False, show_envvar=True, **attrs)


#: Accepted before or after the command, so `sequentum runs 1001 --json` works as well.
GLOBAL_OPTIONS = (
    _global(
        "--api-key",
        envvar=ENV_PREFIX + "API_KEY",
        metavar="KEY",
        help="API key (discouraged: visible in process lists; prefer the environment or --config).",
    ),
    _global(
        "--base-url",
        envvar=ENV_PREFIX + "BASE_URL",
        metavar="URL",
        help=f"Sequentum address (default {DEFAULT_BASE_URL}).",
    ),
    _global(
        "--request-timeout",
        type=click.FLOAT,
        envvar=ENV_PREFIX + "REQUEST_TIMEOUT",
        metavar="S",
        help=f"Seconds to wait for each answer (default {DEFAULTS['request_timeout']:g}).",
    ),
    _global(
        "--max-retries",
        type=click.INT,
        envvar=ENV_PREFIX + "MAX_RETRIES",
        metavar="N",
        help=f"Retries of a failed read (default {DEFAULTS['max_retries']}).",
    ),
    _global(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="PATH",
        help="The tap's JSON config file (api_key, base_url, request_timeout, max_retries).",
    ),
    _global("--json", is_flag=True, help="Print JSON for scripts instead of tables."),
)


def global_options(function: F) -> F:
    for option in reversed(GLOBAL_OPTIONS):
        function = option(function)
    return function
