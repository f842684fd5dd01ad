"""TapSequentum: settings, the stream list, and the entry point that turns errors into one line."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import sys
from collections import Counter
from functools import cached_property
from typing import Any

from singer_sdk import Stream
from singer_sdk.exceptions import MappingError

from tap_sequentum import errors
from tap_sequentum.billing import BILLING_STREAM_TYPES
from tap_sequentum.client import SequentumClient
from tap_sequentum.contents.cache import DiscoveryCache, file_name, folder_of
from tap_sequentum.contents.catalog import catalog_specs, raw_catalog, unmatched_warning
from tap_sequentum.contents.dialect import ReadOptions
from tap_sequentum.contents.discovery import (
    SampleSettings,
    StreamSpec,
    candidates,
    discover_agent,
    exported,
    learn_agent,
    stream_specs,
)
from tap_sequentum.contents.fetch import delivered
from tap_sequentum.contents.identity import (
    adopt,
    adoptions,
    catalog_identities,
    kept_streams,
    with_identities,
)
from tap_sequentum.contents.naming import Router
from tap_sequentum.contents.parse import ParseSettings
from tap_sequentum.contents.reuse import AgentMemory, Look, TableMemory, learned
from tap_sequentum.contents.runs import ContentSettings, FileProblem, strays, unrouted_warning
from tap_sequentum.contents.stream import ContentStream
from tap_sequentum.domain import format_timestamp, list_hint
from tap_sequentum.schedules import SCHEDULE_STREAM_TYPES
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
FIXED_STREAM_TYPES = [*STREAM_TYPES, *BILLING_STREAM_TYPES, *SCHEDULE_STREAM_TYPES]


class TapSequentum(SeamTap):
    """Singer tap for Sequentum Cloud: agents, versions, runs, run files, and the scraped data itself."""

    name = "tap-sequentum"

    config_jsonschema = SETTINGS_SCHEMA

    def __init__(self, *args: Any, catalog: Any = None, **kwargs: Any) -> None:
        #: What each content stream of the given catalog reads: singer-sdk keeps standard metadata only.
        self.catalog_identities = catalog_identities(raw_catalog(catalog))
        #: Agents some content stream of this run reads; data files this sync found no stream for.
        self.read_agents: set[int] = set()
        self.unrouted: list[FileProblem] = []
        super().__init__(*args, catalog=catalog, **kwargs)

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
        self._record_identities()
        self._assign_reporters()
        completed = False
        try:
            super().sync_all()
            completed = True
            self._say_unrouted()
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

    @property
    def catalog_dict(self) -> dict:
        """The catalog, each content stream's entry recording which agents and export table it reads."""
        identities = {
            stream.name: stream.identity
            for stream in self.streams.values()
            if isinstance(stream, ContentStream) and stream.identity is not None
        }
        return with_identities(super().catalog_dict, identities)

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
        """Names kept from the given catalog (a sync routes by them), else from discovery's memory."""
        if self.input_catalog is not None:
            kept = kept_streams(self.catalog_identities)
        else:
            kept = {agent_id: memory.streams() for agent_id, memory in self.memory.items()}
        return Router(
            {int(agent["id"]): agent.get("name") for agent in self.organisation},
            frozenset(stream_type.name for stream_type in FIXED_STREAM_TYPES),
            merge=self.settings.merge_export_tables,
            mapping=dict(self.settings.export_table_names),
            kept=kept,
        )

    @cached_property
    def discovery_cache(self) -> DiscoveryCache:
        """Discovery's memory file: one per address and naming settings, where `discovery_cache` says."""
        settings = self.settings
        naming = {
            "export_table_names": dict(settings.export_table_names),
            "merge_export_tables": settings.merge_export_tables,
        }
        folder = folder_of(settings.discovery_cache)
        path = folder / file_name(settings.base_url, naming) if folder is not None else None
        return DiscoveryCache(path, settings.base_url, naming)

    @cached_property
    def memory(self) -> dict[int, AgentMemory]:
        """What discovery learnt before, per agent id (nothing when it is off or gone)."""
        return self.discovery_cache.load()

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
        """Content streams from the given catalog (no request), from discovery (what changed since the last
        one), or, syncing without a catalog, from every listed run's files (no downloads)."""
        wanted = [int(agent["id"]) for agent in self.agent_summaries()]
        if self.input_catalog is not None:
            specs = self._catalog_specs(reserved, wanted)
        elif self._discovering:
            specs = self._learn(wanted)
        else:
            specs = self._listed_specs(wanted)
        streams = [
            ContentStream(
                self,
                name=spec.name,
                agent_ids=spec.agent_ids,
                columns=spec.columns,
                settings=self.content_settings,
                identity=spec.identity,
            )
            for spec in specs
        ]
        self.content_settings.stream_names = {stream.name for stream in streams}
        self.read_agents = {agent_id for stream in streams for agent_id in stream.agent_ids}
        return list(streams)

    def _catalog_specs(self, reserved: set[str], wanted: list[int]) -> list[StreamSpec]:
        assert self.input_catalog is not None
        entries = [entry for entry in self.input_catalog.streams if entry.tap_stream_id not in reserved]
        specs, unmatched = catalog_specs(
            entries,
            self.catalog_identities,
            self.router,
            visible={int(agent["id"]) for agent in self.organisation},
            wanted=set(wanted),
        )
        if unmatched:
            self.logger.warning(unmatched_warning(unmatched))
        return specs

    @cached_property
    def _sampling(self) -> SampleSettings:
        settings = self.settings
        return SampleSettings(
            parse=self.content_settings.parse,
            runs_max_records=settings.runs_max_records,
            sample_runs=settings.discovery_sample_runs,
            sample_bytes=settings.discovery_sample_bytes,
        )

    def _learn(self, wanted: list[int]) -> list[StreamSpec]:
        """Discovery: each agent read only as far as what changed needs (`reuse.py`), what was learnt kept."""
        summaries = {int(agent["id"]): agent for agent in self.agent_summaries()}
        learnt: dict[int, AgentMemory] = {}
        looks: Counter[Look] = Counter()
        for agent_id in sorted(wanted):
            before = self.memory.get(agent_id)
            learnt[agent_id], look = learn_agent(
                self.client, summaries[agent_id], before, self.router, self._sampling
            )
            looks[look] += 1
            self._log_learnt(agent_id, before, learnt[agent_id], look)
        self.discovery_cache.save({a: m for a, m in learnt.items() if self.memory.get(a) != m})
        self.logger.info(
            "Discovery of %d agents: %d unchanged (nothing read), %d checked (runs list only), %d sampled%s.",
            len(wanted),
            looks[Look.REUSE],
            looks[Look.RUNS],
            looks[Look.SAMPLE],
            "" if self.discovery_cache.path else " (discovery_cache is off)",
        )
        return stream_specs(learnt, merge=self.settings.merge_export_tables)

    def _log_learnt(self, agent_id: int, before: AgentMemory | None, after: AgentMemory, look: Look) -> None:
        if before is not None and before.name != after.name and before.tables:
            kept = ", ".join(sorted({t.stream for t in after.tables.values() if t.stream}))
            self.logger.info(
                "Agent %s was renamed %r -> %r: its streams keep their names (%s).",
                agent_id,
                before.name,
                after.name,
                kept,
            )
        if look is Look.SAMPLE and not after.tables:
            self.logger.info("Agent %s has no data files in its newest runs: no content stream.", agent_id)

    def _listed_specs(self, wanted: list[int]) -> list[StreamSpec]:
        """A sync without a catalog: every table of every listed run, named as discovery names them."""
        found: dict[int, AgentMemory] = {}
        for agent_id in sorted(wanted):
            tables = discover_agent(self.client, agent_id, self.router, self._sampling, read=False).tables
            streams = self.router.streams_of(agent_id, tables)
            found[agent_id] = AgentMemory(
                own=streams.own, tables={table: TableMemory(streams.streams[table]) for table in tables}
            )
        return stream_specs(found, merge=self.settings.merge_export_tables)

    # -- what a sync says about streams: renamed ones, and data no stream takes -----------------------

    def _record_identities(self) -> None:
        """Each selected content stream's state records which agent and export table it reads. A stream whose
        name changed (discovered again without memory of the old name) first takes the state the old stream
        left, found by them: the agent's history is not extracted twice."""
        if self.settings.merge_export_tables:
            return  # a merged stream is named after its table: an agent's rename does not change it
        identities = {
            stream.name: stream.identity
            for stream in self.streams.values()
            if isinstance(stream, ContentStream) and stream.identity is not None
        }
        selected = {name for name in identities if self.streams[name].selected}
        bookmarks = self.state.setdefault("bookmarks", {})
        found = [adoption for adoption in adoptions(bookmarks, identities) if adoption.stream in selected]
        for adoption in found:
            self.logger.warning(
                "Stream %s continues from the state of stream %s (agent %s, export table %s): the table's "
                "name changed, so its new rows land in %s while the rows already loaded stay in %s.",
                adoption.stream,
                adoption.source,
                identities[adoption.stream].agent_ids[0],
                identities[adoption.stream].export_table,
                adoption.stream,
                adoption.source,
            )
        adopt(bookmarks, found, identities)
        for name in sorted(selected):
            bookmarks.setdefault(name, {}).update(identities[name].state())

    def files_listed(self, agent_id: int, run_id: int, files: list[dict]) -> None:
        """`run_files` listed a run's files: those of an agent no content stream of the catalog reads are
        reported (a new agent's data would otherwise be left without a word)."""
        if self.input_catalog is None or not self.settings.content_streams or agent_id in self.read_agents:
            return
        stream_names = self.content_settings.stream_names
        for problem in strays(agent_id, delivered(agent_id, run_id, None, files), self.router, stream_names):
            self._report_file_problem(problem)

    def _say_unrouted(self) -> None:
        """One warning for the data files no stream of the catalog took, and the tables they belong to
        taught to the next discovery (no request)."""
        if self.input_catalog is None or not self.settings.content_streams:
            return
        summaries = self.agent_summaries()
        uncovered = [int(a["id"]) for a in summaries if int(a["id"]) not in self.read_agents]
        run_files = self.streams.get("run_files")
        looked = run_files is not None and run_files.selected
        runs = self._exported_runs([a for a in summaries if int(a["id"]) in uncovered]) if not looked else {}
        names = {int(agent["id"]): agent.get("name") for agent in summaries}
        line = unrouted_warning(self.unrouted, names, uncovered, runs)
        if line:
            self.logger.warning(line)
        tables: dict[int, set[str]] = {}
        for problem in self.unrouted:
            tables.setdefault(problem.item.agent_id, set()).add(problem.table)
        if tables:
            self.discovery_cache.save({a: learned(self.memory.get(a), t) for a, t in tables.items()})

    def _exported_runs(self, agents: list[dict]) -> dict[int, int]:
        """Without `run_files`, a look of its own at the agents no content stream reads: their runs list
        (shared with `runs` and `run_costs` when they read it), counting runs that exported rows."""
        counts = {}
        for agent in agents:  # a null lastActivity may mean "never ran" or "no hint": always look
            try:
                runs = self.client.list_runs(int(agent["id"]), self.settings.runs_max_records)
            except errors.SequentumError as exc:
                self.logger.warning("Could not look at agent %s's runs: %s", agent["id"], exc)
                continue
            counts[int(agent["id"])] = sum(1 for run in candidates(runs, None) if exported(run))
        return counts

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
        if problem.action == "no_stream":
            self.unrouted.append(problem)  # one warning for all of them at the end (`_say_unrouted`)
        log = self.logger.info if problem.action == "no_stream" else self.logger.warning
        log("%s %s%s: %s.", _ACTIONS[problem.action], item.describe(), where, problem.reason)
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
