"""Where the `sequentum` command's settings come from, and the client made from them."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from functools import cached_property, partial
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
from click.core import ParameterSource

from tap_sequentum import errors
from tap_sequentum.cli.output import Output, oneline
from tap_sequentum.client import DEFAULT_BASE_URL, SequentumClient
from tap_sequentum.errors import UsageError

ENV = "TAP_SEQUENTUM_"
DEFAULTS: dict[str, Any] = {"base_url": DEFAULT_BASE_URL, "request_timeout": 60.0, "max_retries": 5}
#: In every --help; `Session.settings` is what does it.
PRECEDENCE = (
    "Settings: a flag beats the --config file, which beats the TAP_SEQUENTUM_* environment, which beats "
    "the default."
)
F = TypeVar("F", bound=Callable[..., Any])


class Session:
    """One invocation: the global options as given (value and source), then its output and client."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out, self.err = out, err
        self.given: dict[str, tuple[Any, ParameterSource]] = {}
        self._client: SequentumClient | None = None

    @cached_property
    def output(self) -> Output:
        return Output("json" in self.given, self.out, self.err)

    @cached_property
    def settings(self) -> dict[str, Any]:
        """Flag > --config file > environment > default.

        An explicit file beats the environment (as for the tap) so an exported production key is never
        sent to the base_url that the file names.
        """
        flags, env = ({k: v for k, (v, s) in self.given.items() if s is src} for src in SOURCES)
        names = {*DEFAULTS, "api_key"}
        file = self._file()
        if "base_url" in file and "api_key" not in file:
            env.pop("api_key", None)  # the environment's key is not for the host that the file names
        settings = {k: v for layer in (DEFAULTS, env, file, flags) for k, v in layer.items() if k in names}
        if not settings.get("api_key"):
            raise UsageError(errors.MISSING_API_KEY)
        for key, kind in (("request_timeout", float), ("max_retries", int)):
            try:
                settings[key] = kind(settings[key])
            except (TypeError, ValueError):
                raise UsageError(f"{key} must be a number, not {settings[key]!r}.") from None
        return settings

    def _file(self) -> dict[str, Any]:
        if "config" not in self.given:
            return {}
        path = self.given["config"][0]
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"Cannot read the config file {path}: {oneline(exc)}.") from None
        if not isinstance(config, dict):
            raise UsageError(f"The config file {path} must hold a JSON object.")
        return {k: v for k, v in config.items() if v not in (None, "")}

    def secrets(self) -> list[str]:
        """Every API key this invocation knows of (flag, file, environment): each is masked in errors."""
        keys = [self.given.get("api_key", ("",))[0], os.environ.get(ENV + "API_KEY")]
        with contextlib.suppress(UsageError):
            keys.append(self._file().get("api_key"))
        return [str(key) for key in keys if key]

    def client(self, timeout: float | None = None) -> SequentumClient:
        """Made on first use, so `--help` and usage errors need no key."""
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


SOURCES = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Keep a global option's value and source; a flag after the command beats the same flag before it."""
    given: dict[str, tuple[Any, ParameterSource]] = ctx.obj.given
    name = str(param.name)
    source = ctx.get_parameter_source(name)
    if value is None or value is False:  # not given (while 0 is: --max-retries 0)
        return
    if source is ParameterSource.COMMANDLINE or name not in given:
        given[name] = (value, source)


_option = partial(click.option, callback=_remember, expose_value=False, show_envvar=True)
#: Accepted before or after the command (`sequentum runs 1001 --json`).
GLOBAL_OPTIONS = (
    _option(
        "--api-key",
        envvar=ENV + "API_KEY",
        metavar="KEY",
        help="A flag shows in process lists: prefer the env.",
    ),
    _option("--base-url", envvar=ENV + "BASE_URL", metavar="URL", help=f"Default {DEFAULT_BASE_URL}."),
    _option(
        "--request-timeout", type=float, envvar=ENV + "REQUEST_TIMEOUT", metavar="S", help="Default 60 s."
    ),
    _option(
        "--max-retries",
        type=int,
        envvar=ENV + "MAX_RETRIES",
        metavar="N",
        help="Of a failed read (default 5).",
    ),
    _option("--config", type=click.Path(dir_okay=False, path_type=Path), help="The tap's JSON config file."),
    _option("--json", is_flag=True, help="Print JSON for scripts instead of tables."),
)


def global_options(function: F) -> F:
    for option in reversed(GLOBAL_OPTIONS):
        function = option(function)
    return function
