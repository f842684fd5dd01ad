"""The error vocabulary of tap-sequentum.

Every failure a user can cause or fix (a wrong key, a wrong host, an unknown id, an exhausted retry budget,
a broken download) is one of these exceptions, and its message says what to do. The entry points turn them
into one line on stderr and exit code 1 instead of a traceback.
"""

from __future__ import annotations

import re


def missing_api_key(looked: str) -> str:
    """The one message for a missing key; `looked` says where the entry point that found it missing looked
    (the tap and the `sequentum` command look in different places), and only that."""
    return f"No Sequentum API key: {looked}."


#: For code that builds a client itself.
MISSING_API_KEY = missing_api_key("the client was given none")


def redact(text: str, secret: str | None) -> str:
    """`text` with every whole occurrence of `secret` replaced by `***`.

    Only whole tokens are masked (not inside a longer word), so a short key such as `x` leaves
    "keys expire" readable while the key itself never appears on its own.
    """
    if not secret:
        return text
    return re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "***", text)


class SequentumError(Exception):
    """Base class: the message is meant for the user and never contains the API key."""

    exit_code = 1


class ConfigurationError(SequentumError):
    """A setting is missing or malformed."""


class UsageError(ConfigurationError):
    """The `sequentum` command line or its settings are wrong: exit 2, like argparse and click."""

    exit_code = 2


class AuthenticationError(SequentumError):
    """Sequentum answered 401: the API key is wrong, expired or missing."""


class PermissionDeniedError(SequentumError):
    """Sequentum answered 403: the key is valid but its user may not do this.

    `error_code` (e.g. `insufficient_scope`), `scope` (what the key lacks) and `detail` come from the
    answer when it says.
    """

    def __init__(
        self, message: str, *, error_code: str | None = None, scope: str | None = None, detail: str = ""
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.scope = scope
        self.detail = detail


class NotFoundError(SequentumError):
    """Sequentum answered 404 for an id we asked for."""


class RequestRejectedError(SequentumError):
    """Sequentum answered another 4xx: the request itself was wrong (bad parameter, bad state)."""


class RateLimitedError(SequentumError):
    """Sequentum kept answering 429 after every retry."""


class ServerError(SequentumError):
    """Sequentum kept answering 5xx after every retry."""


class ConnectionFailedError(SequentumError):
    """The host could not be reached, or the connection kept breaking."""


class DownloadError(SequentumError):
    """A run file could not be downloaded completely."""


class AmbiguousWriteError(SequentumError):
    """A POST was sent but its answer was lost: it may or may not have taken effect."""


class ResponseFormatError(SequentumError):
    """Sequentum answered with something that is not the JSON we expect."""


class ContentError(SequentumError):
    """A data file could not be parsed; nothing from it was emitted."""


class MalformedFileError(ValueError):
    """A file cannot be read as its extension says; the message names the problem (readers raise it)."""


class RunTimeoutError(SequentumError):
    """A run did not finish within the wait timeout; it goes on running on Sequentum."""

    def __init__(self, message: str, *, agent_id: int, run_id: int, run: dict, waited: float) -> None:
        self.agent_id = agent_id
        self.run_id = run_id
        self.run = dict(run)
        self.waited = waited
        super().__init__(message)


class TriggerError(SequentumError):
    """A triggered run failed or did not finish in time, and the sync was told to stop for it."""


class SyncInterrupted(SequentumError):
    """The sync was asked to stop (SIGINT/SIGTERM) and stopped between two complete messages."""

    def __init__(self, signum: int, detail: str = "") -> None:
        self.exit_code = 128 + signum
        super().__init__(
            f"Stopped by signal {signum}{detail}; the last STATE written is a safe place to resume from."
        )
