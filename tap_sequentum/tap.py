"""TapSequentum: settings, the stream list, and the entry point that turns errors into one line."""

from __future__ import annotations

import sys
from functools import cached_property

from singer_sdk import Tap
from singer_sdk import typing as th

from tap_sequentum import errors
from tap_sequentum.client import DEFAULT_BASE_URL, DEFAULT_USER_AGENT, SequentumClient
from tap_sequentum.streams import STREAM_TYPES


class TapSequentum(Tap):
    """Singer tap for Sequentum Cloud: agents, their versions, runs and run files."""

    name = "tap-sequentum"

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType,
            required=True,
            secret=True,
            title="API key",
            description="Sequentum Cloud API key (Users > Manage API Keys). Sent only to base_url.",
        ),
        th.Property(
            "base_url",
            th.StringType,
            default=DEFAULT_BASE_URL,
            title="Base URL",
            description="Sequentum Cloud address, without /api/v1. Point it at the sandbox for demos.",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start date",
            description="Runs created before this instant are ignored (first sync only: state wins after).",
        ),
        th.Property(
            "agent_ids",
            th.ArrayType(th.IntegerType),
            title="Agent IDs",
            description="Only these agents. Lets one organisation be split over several parallel jobs.",
        ),
        th.Property(
            "request_timeout",
            th.NumberType,
            default=60,
            title="Request timeout",
            description="Seconds to wait for each HTTP answer (per read, not per whole download).",
        ),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=5,
            title="Max retries",
            description="Retries of a GET after 429, 5xx, resets and timeouts (Retry-After honoured). "
            "POSTs are never retried.",
        ),
        th.Property(
            "runs_max_records",
            th.IntegerType,
            default=1000,
            title="Runs per agent",
            description="maxRecords for the runs list (1-1000). The API lists only the newest runs; sync "
            "at least once per this many runs of an agent.",
        ),
        th.Property(
            "agents_page_size",
            th.IntegerType,
            default=100,
            title="Agents page size",
            description="recordsPerPage when paging through agent/all.",
        ),
        th.Property(
            "user_agent",
            th.StringType,
            default=DEFAULT_USER_AGENT,
            title="User agent",
            description="User-Agent header sent with every request.",
        ),
    ).to_dict()

    @cached_property
    def client(self) -> SequentumClient:
        """One client per tap run, so every stream shares its answer cache and rate-limit pacing."""
        runs_max = int(self.config.get("runs_max_records", 1000))
        if not 1 <= runs_max <= 1000:
            raise errors.ConfigurationError(f"runs_max_records must be between 1 and 1000, not {runs_max}.")
        return SequentumClient(
            api_key=self.config["api_key"],
            base_url=self.config.get("base_url") or DEFAULT_BASE_URL,
            timeout=float(self.config.get("request_timeout", 60)),
            max_retries=int(self.config.get("max_retries", 5)),
            user_agent=self.config.get("user_agent") or DEFAULT_USER_AGENT,
        )

    def discover_streams(self) -> list:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]


def main() -> None:
    """Console entry point: the SDK's CLI, with our errors shown as one actionable line."""
    try:
        TapSequentum.cli()
    except errors.SequentumError as exc:
        sys.stderr.write(f"tap-sequentum: error: {exc}\n")
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
