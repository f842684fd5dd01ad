"""The one seam between tap-sequentum and singer-sdk's private internals.

singer-sdk offers no public hook for a few things this tap must do (count a row as emitted only once it
was written, widen a schema mid-sync, pace STATE, stop between whole messages on a signal). Each private
name is used here and nowhere else, listed in `INTERNALS` with the reason, and checked by
`tests/test_sdk_seam.py`, so an SDK release that changes one fails a named test rather than a sync.
Everything outside this module uses the public methods below.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, ClassVar, cast

import simplejson
from dotenv import load_dotenv
from singer_sdk import Stream, Tap
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._catalog import get_selected_schema
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.io_base import SingerWriter

if TYPE_CHECKING:
    from singer_sdk.helpers._batch import BatchConfig
    from singer_sdk.helpers.types import Context, Record

__all__ = ["INTERNALS", "BatchConfig", "OutputMeter", "PacedStateWriter", "SeamStream", "SeamTap"]

#: Every private singer-sdk name this module touches, and why there is no public way.
INTERNALS: dict[str, str] = {
    "Stream._tap": "the tap that owns a stream; streams reach the shared client and settings through it.",
    "Stream._increment_stream_state": "the SDK calls it right after it wrote a record: the moment a row "
    "counts as emitted, so interrupted syncs resume after the last row written, not read.",
    "Stream._write_state_message": "offers STATE after bookkeeping that happens outside records "
    "(a finished run, a finished file).",
    "Stream.state_manager.is_flushed": "marks that bookkeeping changed, so the next offer writes.",
    "Stream._write_schema_message": "singer-sdk 0.54 writes SCHEMA on every `Stream.sync(context)`, so once "
    "per parent record for a child stream (per run for run_files: 3,000 in a 150 x 20 organisation's sync); "
    "here once per stream, held back until a content stream has read its first files, again after widening.",
    "Stream._write_record_message": "writes a record (stream maps, selection, type conformance) for a "
    "stream that is not the one syncing: file_errors rows are written the moment a file is skipped.",
    "Stream._schema": "a content stream's schema widens mid-sync when a file holds more than the catalog.",
    "Stream._input_schema": "the catalog's schema, replaced by the widened one.",
    "Stream._stream_maps": "reset so stream maps are rebuilt for a widened schema.",
    "singer_sdk.helpers._batch.BatchConfig": "the type of a stream's batch_config (type hints only; the "
    "SDK names it nowhere public).",
    "singer_sdk.helpers._catalog.get_selected_schema": "the widened schema without deselected columns, "
    "computed exactly as the SDK does for the catalog.",
    "Tap._handle_termination": "the SDK's handler writes STATE inside the signal handler (possibly in the "
    "middle of a RECORD line) and exits 0; the tap stops between whole messages and exits 128+signal.",
    "Tap._validate_config": "the SDK validates settings after reading them and only warns during discovery; "
    "here values typed slightly off are read as meant first (`prepare_config`) and an invalid setting "
    "always stops with one line, in discovery as in a sync.",
    "Tap._config": "the settings as read, prepared in place before they are validated.",
    "Tap._streams": "discovery must build streams again in discovery mode (with samples) after a "
    "sync-mode build.",
    "Tap._state_writer": "the SDK writes the whole tap state after every context (per run for run_files); "
    "the paced writer writes it when it is worth its bytes.",
    "Tap._env_var_config": "`--config ENV` settings; the SDK loads .env over the environment (python-dotenv's"
    " DotEnv overrides by default), so a stale .env beat an exported variable: here .env is loaded first "
    "without overriding, and the environment wins, as for the `sequentum` command.",
    "singer_sdk.configuration._dict_config.parse_environment_config": "the SDK's own reading of "
    "TAP_SEQUENTUM_* variables (each converted by its schema type), given a .env path that holds nothing.",
    "singer_sdk.helpers._classproperty.classproperty": "`_env_var_config` is one (the SDK reads it on the "
    "class as on the instance).",
}

#: No file: python-dotenv reads a device as empty, so `parse_environment_config` loads no .env itself.
_NO_FILE = os.devnull


class OutputMeter:
    """Bytes written to stdout so far, by every writer (the SDK's and the fast path's)."""

    def __init__(self) -> None:
        self.bytes = 0

    def add(self, count: int) -> None:
        self.bytes += count


class MeteredWriter(SingerWriter):
    """singer-sdk's writer, counting what it writes (STATE pacing needs the bytes written between two)."""

    meter: OutputMeter | None = None

    def write_message(self, message: Any) -> None:
        self.write_line(self.format_message(message) + "\n")

    def write_line(self, line: str) -> None:
        """Write one serialized message (with its newline)."""
        sys.stdout.write(line)
        sys.stdout.flush()
        if self.meter is not None:
            self.meter.add(len(line))


@dataclass(eq=False)
class PacedStateWriter:
    """Writes the tap's STATE when it is worth its bytes, instead of after every context.

    A STATE is written once `min_bytes` (32 MiB) of other messages went out since the last one, and at
    least `ratio` (40) times its own size, or once `max_seconds` (60 s) passed; always at the end
    (`flush`), never when nothing changed. Why these: an interrupted sync replays what followed the last
    STATE, and 32 MiB is under a second of the tap's output at full speed (the 2M-row benchmark file's
    0.9 GB of RECORD lines gets 28 STATE lines, not the ~900 a 1 MiB pace wrote); a sync that writes
    little still checkpoints every minute (Meltano saves each STATE the target passes on); the ratio
    keeps a large organisation's STATE (about 450 bytes per agent) under 1/40 of the output. The state
    object is read at the moment of writing: the tap only changes it after the data it describes was
    written, so any moment is a consistent checkpoint.
    """

    write_line: Callable[[str], None]
    meter: OutputMeter
    _: KW_ONLY
    paced: bool = True
    ratio: float = 40.0
    min_bytes: int = 32 << 20
    max_seconds: float = 60.0
    clock: Callable[[], float] = time.monotonic
    #: STATE messages written so far.
    written: int = field(default=0, init=False)
    #: While positive, offered states are kept but not written: a stream's records wait for their BATCH.
    held: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._state: Mapping | None = None
        self._seed: str | None = None
        self._last_text: str | None = None
        self._last_bytes = 0
        self._last_time = self.clock()

    def write_state(self, state: Mapping) -> None:
        """The SDK's interface: offer the current state; it is written if due."""
        self._state = state
        if self.held:
            return
        since = self.meter.bytes - self._last_bytes
        due_bytes = since >= max(self.min_bytes, self.ratio * len(self._last_text or ""))
        due_time = self.clock() - self._last_time >= self.max_seconds
        if due_bytes or due_time or not self.paced:
            self.flush()

    def seed(self, state: Mapping) -> None:
        """The state the sync started from: written again only if something changed it."""
        self._seed = _meaning(state)

    def flush(self) -> None:
        """Write the latest offered state now if it differs from the last one written."""
        if self._state is None:
            return
        text = simplejson.dumps(self._state, sort_keys=True, separators=(",", ":"), use_decimal=True)
        if text == self._last_text or (self._last_text is None and _meaning(self._state) == self._seed):
            return
        self.write_line('{"type":"STATE","value":' + text + "}\n")
        self._last_text = text
        self._last_bytes = self.meter.bytes
        self._last_time = self.clock()
        self.written += 1


def _meaning(state: Mapping) -> str:
    """A state as text, without the empty bookmarks singer-sdk adds for streams that keep none."""
    bookmarks = {name: value for name, value in (state.get("bookmarks") or {}).items() if value}
    return simplejson.dumps({**state, "bookmarks": bookmarks}, sort_keys=True, use_decimal=True)


def _plain_write_line(line: str) -> None:
    sys.stdout.write(line)
    sys.stdout.flush()


class SeamTap(Tap):
    """Tap base: public methods over the SDK's private hooks (see `INTERNALS`)."""

    message_writer_class = MeteredWriter

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        #: Whether settings are read from the environment and .env too (`--config ENV`).
        self.reads_environment = bool(kwargs.get("parse_env_config"))
        super().__init__(*args, **kwargs)
        self.output_meter = OutputMeter()
        if isinstance(self.message_writer, MeteredWriter):
            self.message_writer.meter = self.output_meter
        writer = self.message_writer
        write_line = writer.write_line if isinstance(writer, MeteredWriter) else _plain_write_line
        self.paced_state = PacedStateWriter(write_line, self.output_meter)
        self._state_writer = self.paced_state  # type: ignore[assignment]

    def flush_state(self) -> None:
        """Write the latest state if it was not written yet (at the end, or when stopping)."""
        self.paced_state.flush()

    def run_sync_dry_run(self, *args: Any, **kwargs: Any) -> bool:
        """The SDK's dry run (its test suite uses it) bypasses `sync_all`: write the last state here too."""
        try:
            return super().run_sync_dry_run(*args, **kwargs)
        finally:
            self.flush_state()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        self.prepare_config(self._config)
        try:
            return super()._validate_config(raise_errors=True)
        except ConfigValidationError as exc:
            raise self.invalid_config(list(exc.errors)) from None

    @classproperty
    def _env_var_config(cls) -> dict[str, Any]:
        env_file = cls.env_file()
        if env_file is not None:
            load_dotenv(env_file, override=False)  # the environment beats .env
        schema = cls.config_jsonschema
        cls.append_builtin_config(schema)
        prefix = f"{cls.name.upper().replace('-', '_')}_"  # as singer-sdk names the variables
        return parse_environment_config(schema, prefix, dotenv_path=_NO_FILE)

    @classmethod
    def env_file(cls) -> Path | None:
        """The `.env` file `--config ENV` reads below the environment (default: none)."""
        return None

    def prepare_config(self, config: dict) -> None:
        """Adjust the settings in place before they are validated (default: nothing)."""

    def invalid_config(self, problems: list[str]) -> Exception:
        """The error for settings the JSON schema rejects (default: the SDK's own)."""
        return ConfigValidationError("Config validation failed", errors=problems)

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        self.on_termination(signum)

    def on_termination(self, signum: int) -> None:
        """A SIGINT/SIGTERM arrived; subclasses decide how to stop."""
        raise NotImplementedError

    def forget_streams(self) -> None:
        """Drop the streams built so far, so the next access builds them again."""
        self._streams = None


class SeamStream(Stream):
    """Stream base: public methods over the SDK's private hooks (see `INTERNALS`)."""

    #: Hold SCHEMA back until `release_schema` (content streams learn their schema from the files first:
    #: targets such as target-duckdb create the table from the first SCHEMA they see).
    defer_schema: ClassVar[bool] = False
    _schema_released = False
    _schema_written = False

    @property
    def tap(self) -> SeamTap:
        """The tap that runs this stream (always a SeamTap in this package)."""
        return cast("SeamTap", self._tap)

    def _increment_stream_state(self, latest_record: Record, *, context: Context | None = None) -> None:
        self.record_written(latest_record, context)

    def record_written(self, record: Record, context: Context | None) -> None:
        """Called right after the SDK wrote `record`. The default moves SDK bookmarks as usual."""
        super()._increment_stream_state(record, context=context)

    def offer_state(self) -> None:
        """Bookkeeping changed outside a record: offer STATE (written when due, see PacedStateWriter)."""
        self.state_manager.is_flushed = False
        self._write_state_message()

    def _write_schema_message(self) -> None:
        if self._schema_written or (self.defer_schema and not self._schema_released):
            return
        self._schema_written = True
        super()._write_schema_message()

    def get_batches(self, batch_config: BatchConfig, context: Context | None = None) -> Iterable[Any]:
        """singer-sdk's batches, with no STATE written while records of this stream wait for their BATCH.

        Child streams sync (and write BATCH and STATE) while their parent's records are still being
        collected; such a STATE would count the parent's records as sent. It is written after the
        parent's next BATCH instead.
        """
        writer = self.tap.paced_state
        writer.held += 1
        try:
            for batch in super().get_batches(batch_config, context):
                writer.held -= 1
                self.state_manager.is_flushed = False  # what the records handed over changed is due now
                try:
                    yield batch  # singer-sdk writes the BATCH, then the STATE
                finally:
                    writer.held += 1
        finally:
            writer.held -= 1

    def release_schema(self) -> None:
        """Write the stream's SCHEMA now if it was held back (see `defer_schema`)."""
        self._schema_released = True
        self._write_schema_message()

    def emit_record(self, record: Record) -> None:
        """Write a record of this stream outside its own sync (after its SCHEMA, through its stream maps)."""
        self._write_schema_message()
        self._write_record_message(record)
        self.record_written(record, None)
        self.state_manager.is_flushed = False

    def replace_schema(self, schema: dict) -> None:
        """Widen the stream's schema mid-sync and announce it (SCHEMA) before the next record.

        Called only when the schema changed: it always announces, so a change is never missed.
        """
        self._schema = schema
        if self._input_schema is not None:
            self._input_schema = schema
        mapper = self._tap.mapper
        if mapper is not None:
            # As singer-sdk does for the catalog: the announced schema leaves out deselected columns.
            selected = get_selected_schema(self.name, schema, self.mask)
            mapper.register_raw_stream_schema(self.name, selected, self.primary_keys)
            self._stream_maps = None
        self._schema_written = False
        self._write_schema_message()
