"""Where the `sequentum` command's settings come from, and the client made from them.

The same places as the tap's with `--config ENV`, in the same order (docs/settings.md): a flag, then
TAP_SEQUENTUM_* in the environment, then in `.env` (the same file as the tap's), then the --config file, then
the schema's default.
"""

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
from dotenv import dotenv_values

from tap_sequentum import errors
from tap_sequentum.cli.output import Output, oneline
from tap_sequentum.client import SequentumClient
from tap_sequentum.errors import UsageError
from tap_sequentum.settings import (
    DOTENV_START,
    ENV_PREFIX,
    Settings,
    check_secrets,
    default,
    dotenv_file,
    known_settings,
    unknown_settings,
)

ENV = ENV_PREFIX
#: The tap's settings the command uses.
NAMES = ("api_key", "base_url", "request_timeout", "max_retries")
#: In every --help; `Session.settings` is what does it.
PRECEDENCE = (
    "Settings: a flag beats TAP_SEQUENTUM_* in the environment, which beats .env (the tap's, looked for from "
    "the installed package's folder upwards), which beats the --config file, which beats the default. A key "
    "from the environment or .env is never sent to a base_url that only the --config file names."
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
    def settings(self) -> Settings:
        """Flag > environment > .env > --config file > default, as the tap reads them with --config ENV.

        A key from the environment or .env is meant for the host they name (or Sequentum's): it is not sent
        to a base_url that only the --config file names, which gets the file's own key.
        """
        flags, env = (
            {k: v for k, (v, s) in self.given.items() if s is src and k in NAMES} for src in SOURCES
        )
        file = self._file()
        layers = {"default": {n: default(n) for n in NAMES}, "file": file, ".env": self._dotenv(), "env": env}
        chosen: dict[str, Any] = {}
        origin: dict[str, str] = {}
        for label, layer in [*layers.items(), ("flag", flags)]:
            for name in NAMES:
                if layer.get(name) not in (None, ""):
                    chosen[name], origin[name] = layer[name], label
        if origin.get("base_url") == "file" and origin.get("api_key") in (".env", "env"):
            if file.get("api_key") in (None, ""):
                where = "environment" if origin["api_key"] == "env" else ".env"
                raise UsageError(
                    errors.missing_api_key(
                        f"the TAP_SEQUENTUM_API_KEY of the {where} is not sent to the base_url that only "
                        f"{self.given['config'][0]} names: put api_key in that file, or give the host as "
                        "--base-url or TAP_SEQUENTUM_BASE_URL"
                    )
                )
            chosen["api_key"] = file["api_key"]
        if chosen.get("api_key") in (None, ""):
            raise UsageError(errors.missing_api_key(self._where_keys_are_read()))
        for key, kind in (("request_timeout", float), ("max_retries", int)):
            try:
                chosen[key] = kind(chosen[key])
            except (TypeError, ValueError):
                raise UsageError(f"{key} must be a number, not {chosen[key]!r}.") from None
        try:
            return Settings.of(chosen)
        except errors.ConfigurationError as exc:
            raise UsageError(str(exc)) from None

    def _where_keys_are_read(self) -> str:
        found = dotenv_file()
        dotenv = str(found) if found else f"a .env file (none from {DOTENV_START} upwards)"
        config = self.given["config"][0] if "config" in self.given else "a --config file (none given)"
        return f"no --api-key, no TAP_SEQUENTUM_API_KEY in the environment or in {dotenv}, " + (
            f"no api_key in {config}"
        )

    def _dotenv(self) -> dict[str, Any]:
        """The settings `.env` holds (TAP_SEQUENTUM_*), read as the tap reads them."""
        found = dotenv_file()
        values = dotenv_values(found) if found else {}
        return {name: values.get(ENV + name.upper()) for name in NAMES}

    @cached_property
    def _config_file(self) -> dict[str, Any]:
        """The --config file's settings; its secrets are checked before anything could show them, and a key
        the tap does not know is said once."""
        if "config" not in self.given:
            return {}
        path = self.given["config"][0]
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"Cannot read the config file {path}: {oneline(exc)}.") from None
        if not isinstance(config, dict):
            raise UsageError(f"The config file {path} must hold a JSON object.")
        try:
            check_secrets(config)
        except errors.ConfigurationError as exc:
            raise UsageError(f"{exc} ({path})") from None
        for line in unknown_settings(config, known_settings()):
            self.err.write(f"sequentum: warning: {line} ({path}).\n")
        return {k: v for k, v in config.items() if v not in (None, "")}

    def _file(self) -> dict[str, Any]:
        return self._config_file

    def secrets(self) -> list[str]:
        """Every API key this invocation knows of (flag, environment, .env, file): masked in errors."""
        keys = [
            self.given.get("api_key", ("",))[0],
            os.environ.get(ENV + "API_KEY"),
            self._dotenv()["api_key"],
        ]
        with contextlib.suppress(UsageError):
            keys.append(self._file().get("api_key"))
        return [str(key) for key in keys if key]

    def client(self, timeout: float | None = None) -> SequentumClient:
        """Made on first use, so `--help` and usage errors need no key."""
        if self._client is None:
            settings = self.settings
            try:
                self._client = SequentumClient(
                    settings.api_key,
                    settings.base_url,
                    timeout=timeout or settings.request_timeout,
                    max_retries=settings.max_retries,
                    user_agent=settings.user_agent,
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
    _option("--base-url", envvar=ENV + "BASE_URL", metavar="URL", help=f"Default {default('base_url')}."),
    _option(
        "--request-timeout",
        type=float,
        envvar=ENV + "REQUEST_TIMEOUT",
        metavar="S",
        help=f"Default {default('request_timeout')} s.",
    ),
    _option(
        "--max-retries",
        type=int,
        envvar=ENV + "MAX_RETRIES",
        metavar="N",
        help=f"Of a failed read (default {default('max_retries')}).",
    ),
    _option("--config", type=click.Path(dir_okay=False, path_type=Path), help="The tap's JSON config file."),
    _option("--json", is_flag=True, help="Print JSON for scripts instead of tables."),
)


def global_options(function: F) -> F:
    for option in reversed(GLOBAL_OPTIONS):
        function = option(function)
    return function
