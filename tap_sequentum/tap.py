"""TapSequentum: settings, the stream list, and the entry point that turns errors into one line."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import sys
from functools import cached_property

from singer_sdk import Stream
from singer_sdk.exceptions import MappingError

from tap_sequentum import errors
from tap_sequentum.billing import BILLING_STREAM_TYPES
from tap_sequentum.client import SequentumClient
from tap_sequentum.contents.dialect import ReadOptions
from tap_sequentum.contents.discovery import Sample, SampleSettings, discover_agent
from tap_sequentum.contents.infer import Kind, widen
from tap_sequentum.contents.naming import Router
from tap_sequentum.contents.parse import ParseSettings
from tap_sequentum.contents.runs import ContentSettings, FileProblem
from tap_sequentum.contents.schema import columns_of
from tap_sequentum.contents.stream import ContentStream
from tap_sequentum.domain import format_timestamp, list_hint
from tap_sequentum.sdk import SeamTap
from tap_sequentum.settings import (
    DOTENV_START,
    SETTINGS_SCHEMA,
    Settings,
    check_secrets,
    dotenv_file,
    hide_secrets,
    known_settings,
    normalize_settings,
    unknown_settings,
)
from tap_sequentum.streams import STREAM_TYPES, FileErrorsStream
from tap_sequentum.trigger import run_triggers

#: The streams every catalog lists, whatever the key may read; content streams come after them.
FIXED_STREAM_TYPES = [*STREAM_TYPES, *BILLING_STREAM_TYPES]


class TapSequentum(SeamTap):
    """Singer tap for Sequentum Cloud: agents, versions, runs, run files, and the scraped data itself."""

    name = "tap-sequentum"

    config_jsonschema = SETTINGS_SCHEMA

    def prepare_config(self, config: dict) -> None:
        """Before the schema sees them: secrets checked without showing them, a setting the tap does not know
        said once (Meltano passes extras: a warning, not an error), values typed slightly off read as meant;
        what cannot be read is one line, before any request."""
        check_secrets(config)
        if not str(config.get("api_key") or "").strip():
            raise errors.ConfigurationError(errors.missing_api_key(self._where_keys_are_read()))
        for line in unknown_settings(config, known_settings(type(self))):
            self.logger.warning("%s.", line)
        normalize_settings(config)

    @classmethod
    def env_file(cls) -> pathlib.Path | None:
        """`--config ENV` reads the same .env as the `sequentum` command, below the environment."""
        return dotenv_file()

    def _where_keys_are_read(self) -> str:
        """Where this run looked for api_key: the config, and the environment and .env with --config ENV."""
        if not self.reads_environment:
            return (
                "the config has no api_key; give it in the --config file, or as TAP_SEQUENTUM_API_KEY in the "
                "environment or .env together with --config ENV"
            )
        found = dotenv_file()
        dotenv = str(found) if found else f"a .env file (none from {DOTENV_START} upwards)"
        return f"no api_key in the config, nor TAP_SEQUENTUM_API_KEY in the environment or in {dotenv}"

    def invalid_config(self, problems: list[str]) -> Exception:
        return errors.ConfigurationError("Invalid settings: " + "; ".join(hide_secrets(problems)) + ".")

    @cached_property
    def settings(self) -> Settings:
        """The settings, typed and checked once; everything reads them from here."""
        return Settings.of(self.config)

    @cached_property
    def client(self) -> SequentumClient:
        """One client per tap run, so every stream shares its answer cache and rate-limit pacing."""
        settings = self.settings
        return SequentumClient(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.request_timeout,
            max_retries=settings.max_retries,
            user_agent=settings.user_agent,
        )

    _discovering = False
    #: The signal that asked the sync to stop, if one did.
    stop_signal: int | None = None

    def on_termination(self, signum: int) -> None:
        """Ask the sync to stop at the next message boundary instead of exiting mid-write.

        singer-sdk's handler writes STATE from inside the signal handler, which can land in the middle
        of a RECORD line blocked on a slow target, and then exits 0. Here the sync stops between two
        whole messages, the last STATE written stays the checkpoint, and the exit code says it was
        interrupted. A second signal stops at once.
        """
        if self.stop_signal is not None:
            sys.stderr.write(f"tap-sequentum: stopped by a second signal {signum}\n")
            os._exit(128 + signum)
        self.stop_signal = signum
        self.logger.warning("Signal %s received: stopping after the current batch.", signum)

    def check_stop(self, detail: str = "") -> None:
        """Raise `SyncInterrupted` if a stop was asked for; called between whole messages."""
        if self.stop_signal is not None:
            raise errors.SyncInterrupted(self.stop_signal, detail)

    def sync_all(self) -> None:
        """Run the configured triggers first, so this same sync extracts what they produced."""
        settings = self.settings
        if settings.trigger:
            run_triggers(
                self.client,
                settings.trigger,
                fail_on_error=settings.trigger_fail_on_error,
                poll_interval=settings.trigger_poll_interval,
                logger=self.logger,
                should_stop=self.check_stop,
            )
            self.client.clear_cache()  # run and file lists read before the trigger are stale now
            self._triggered = frozenset(int(item["agent_id"]) for item in settings.trigger)
        # With BATCH output the SDK offers STATE right after each BATCH message: write it then. With
        # records, STATE is paced by its size; whatever was not written yet goes out at the end.
        paced = not settings.batch_config
        self.paced_state.paced = paced
        self.paced_state.seed(self.state)  # nothing changed, nothing written
        self._assign_reporters()
        completed = False
        try:
            super().sync_all()
            completed = True
        finally:
            if completed or paced:
                self.flush_state()
        stopped = self.content_settings.stopped
        if stopped:
            raise errors.ContentError(
                f"{len(stopped)} stream(s) stopped at a file they could not read, after every other stream "
                f"synced: {'; '.join(stopped)}. Their state stays before that file, so the next sync starts "
                "there (see the file_errors stream; on_bad_file: skip would skip such files)."
            )

    def run_discovery(self) -> str:
        """Discovery proper samples data files for column types; a sync without a catalog does not."""
        self._discovering = True
        self.forget_streams()
        return super().run_discovery()

    def discover_streams(self) -> list[Stream]:
        streams: list[Stream] = [stream_type(tap=self) for stream_type in FIXED_STREAM_TYPES]
        if self.settings.content_streams:
            streams += self._content_streams({stream.name for stream in streams})
        return streams

    # -- the organisation ---------------------------------------------------------------------------

    @cached_property
    def organisation(self) -> list[dict]:
        """Every agent this key can see, listed once per run (names never depend on the shard)."""
        return self.client.list_agents(page_size=self.settings.agents_page_size)

    def agent_summaries(self) -> list[dict]:
        """The agents this run syncs: all of them, or those of `agent_ids`, in that order."""
        wanted = self.settings.agent_ids
        if not wanted:
            return self.organisation
        by_id = {int(agent["id"]): agent for agent in self.organisation}
        missing = [agent_id for agent_id in wanted if agent_id not in by_id]
        if missing:
            raise errors.NotFoundError(
                f"Agent {missing[0]} from agent_ids does not exist or this API key cannot see it: fix "
                "agent_ids / TAP_SEQUENTUM_AGENT_IDS."
            )
        return [by_id[agent_id] for agent_id in wanted]

    #: Agents started by `trigger` this sync: the agent list, read before, says nothing of their new runs.
    _triggered: frozenset[int] = frozenset()

    def list_hint(self, agent_id: int) -> str | None:
        """What the agent list says about an agent's runs (`domain.list_hint`); None: it says nothing."""
        return None if agent_id in self._triggered else self._hints.get(int(agent_id))

    @cached_property
    def _hints(self) -> dict[int, str | None]:
        return {int(agent["id"]): list_hint(agent) for agent in self.organisation}

    @cached_property
    def router(self) -> Router:
        return Router(
            {int(agent["id"]): agent.get("name") for agent in self.organisation},
            frozenset(stream_type.name for stream_type in FIXED_STREAM_TYPES),
            merge=self.settings.merge_export_tables,
            mapping=dict(self.settings.export_table_names),
        )

    # -- content streams ----------------------------------------------------------------------------

    @cached_property
    def content_settings(self) -> ContentSettings:
        settings = self.settings
        return ContentSettings(
            router=self.router,
            parse=ParseSettings(
                options=ReadOptions(encoding=settings.csv_encoding, delimiter=settings.csv_delimiter),
                infer_types=settings.infer_types,
                temp_dir=settings.temp_dir,
            ),
            on_bad_file=settings.on_bad_file,
            fast_path=settings.content_fast_path,
            report=self._report_file_problem,
        )

    def _content_streams(self, reserved: set[str]) -> list[Stream]:
        """Content streams from the given catalog (no downloads) or from a sample of each agent."""
        settings = self.content_settings
        wanted = {int(agent["id"]) for agent in self.agent_summaries()}
        streams: list[ContentStream] = []
        if self.input_catalog is not None:
            for entry in self.input_catalog.streams:
                if entry.tap_stream_id in reserved:
                    continue
                owners = self.router.agents_of(entry.tap_stream_id)
                if not owners and entry.metadata.resolve_selection()[()]:
                    raise errors.ConfigurationError(
                        f"Catalog stream '{entry.tap_stream_id}' is selected but matches no agent this "
                        "key can see (renamed or deleted?): refresh the catalog (run --discover "
                        "again, or meltano's --refresh-catalog) or deselect it."
                    )
                agents = [agent_id for agent_id in owners if agent_id in wanted]
                if agents:  # else: another shard's agent (agent_ids)
                    columns = columns_of(entry.schema.to_dict())
                    streams.append(self._content_stream(entry.tap_stream_id, agents, columns))
        else:
            found: dict[str, tuple[list[int], Sample]] = {}
            for agent_id in sorted(wanted):
                for name, sample in self._discover_agent(agent_id).items():
                    agents, merged = found.setdefault(name, ([], Sample()))
                    agents.append(agent_id)
                    for column, kind in sample.columns.items():
                        merged.columns[column] = widen(merged.columns.get(column, Kind.NULL), kind)
            streams = [
                self._content_stream(name, agents, sample.columns) for name, (agents, sample) in found.items()
            ]
        settings.stream_names = {stream.name for stream in streams}
        return list(streams)

    def _content_stream(self, name: str, agents: list[int], columns: dict[str, Kind]) -> ContentStream:
        return ContentStream(
            self, name=name, agent_ids=agents, columns=columns, settings=self.content_settings
        )

    def _discover_agent(self, agent_id: int) -> dict[str, Sample]:
        settings = self.settings
        sampling = SampleSettings(
            runs_max_records=settings.runs_max_records,
            sample_runs=settings.discovery_sample_runs,
            sample_bytes=settings.discovery_sample_bytes,
            options=self.content_settings.parse.options,
            infer_types=settings.infer_types,
            temp_dir=settings.temp_dir,
        )
        samples = discover_agent(self.client, agent_id, self.router, sampling, read=self._discovering)
        if not samples:
            self.logger.info("Agent %s has no data files in its newest runs: no content stream.", agent_id)
        return samples

    def _assign_reporters(self) -> None:
        """Per agent, the one selected content stream that reports the files no stream takes."""
        reporters: dict[int, str] = {}
        for stream in sorted(self.streams.values(), key=lambda s: s.name):
            if isinstance(stream, ContentStream) and stream.selected:
                for agent_id in stream.agent_ids:
                    reporters.setdefault(agent_id, stream.name)
        self.content_settings.reporters = reporters

    def _report_file_problem(self, problem: FileProblem) -> None:
        """One line on stderr, and a `file_errors` row, the moment a file is not extracted."""
        item = problem.item
        where = f" for stream {problem.stream}" if problem.stream else ""
        self.logger.warning("%s %s%s: %s.", _ACTIONS[problem.action], item.describe(), where, problem.reason)
        stream = self.streams.get(FileErrorsStream.name)
        if isinstance(stream, FileErrorsStream):
            stream.report(
                {
                    "file_id": item.file_id,
                    "stream": problem.stream,
                    "agent_id": item.agent_id,
                    "run_id": item.run_id,
                    "file_name": item.name,
                    "action": problem.action,
                    "reason": problem.reason,
                    "detected_at": format_timestamp(dt.datetime.now(dt.UTC)),
                }
            )


_ACTIONS = {
    "skipped": "Skipped",
    "stopped": "Stopped at",
    "no_stream": "No stream takes",
    "unsupported": "Not extracted:",
}


def main() -> None:
    """Console entry point: the SDK's CLI, with our errors shown as one actionable line."""
    try:
        check_files(sys.argv[1:])
        TapSequentum.cli()
    except errors.SequentumError as exc:
        sys.stderr.write(f"tap-sequentum: error: {exc}\n")
        sys.exit(exc.exit_code)
    except MappingError as exc:
        sys.stderr.write(f"tap-sequentum: error: stream_maps: {exc}\n")
        sys.exit(1)


def check_files(argv: list[str]) -> None:
    """The files named by --config, --state and --catalog exist and hold a JSON object, or one line says
    which does not (singer-sdk would answer with a traceback)."""
    for index, argument in enumerate(argv):
        option, _, value = argument.partition("=")
        if option not in ("--config", "--state", "--catalog"):
            continue
        value = value or (argv[index + 1] if index + 1 < len(argv) else "")
        if not value or (option == "--config" and value == "ENV"):
            continue
        what = {"--config": "config", "--state": "state", "--catalog": "catalog"}[option]
        try:
            data = json.loads(pathlib.Path(value).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise errors.ConfigurationError(f"The {what} file {value} does not exist ({option}).") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            detail = " ".join(str(exc).split())
            raise errors.ConfigurationError(f"The {what} file {value} is not valid JSON: {detail}.") from None
        if not isinstance(data, dict):
            raise errors.ConfigurationError(f"The {what} file {value} must hold a JSON object.")


if __name__ == "__main__":
    main()
