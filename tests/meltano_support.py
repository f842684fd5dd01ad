"""Helpers for the Meltano tests: the installed project, and `meltano` run hermetically.

Shared by test_meltano.py and test_warehouse.py. ./scripts/test installs Meltano and the plugins into the
project's `.meltano/` before pytest starts (a test never installs them); each test gets its own system
database (state) and its own output files.
"""

from __future__ import annotations

import collections
import contextlib
import http.server
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support import environment, run_process

from sequentum_emulator import Sandbox

ROOT = Path(__file__).resolve().parent.parent
MELTANO = ROOT / ".meltano" / "venv" / "bin" / "meltano"
#: The tap's INFO line per downloaded data file (name, size, rows, seconds).
DOWNLOADED = re.compile(
    r"Downloaded (.+) \(file (\d+), run (\d+), agent (\d+)\): (\d+) bytes, (\d+) rows emitted"
)


@contextlib.contextmanager
def local_hub(definition: Path) -> Iterator[str]:
    """A Meltano Hub on loopback serving one extractor definition (a Hub YAML file, as JSON), as
    hub.meltano.com serves its definitions; yields the API root for MELTANO_HUB_API_ROOT. `meltano add` from
    it writes what a package user gets: the plugin by name and variant, its definition in a lock file."""
    spec = yaml.safe_load(definition.read_text())
    name, variant = spec["name"], spec["variant"]

    class Hub(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            root = f"http://127.0.0.1:{self.server.server_address[1]}/meltano/api/v1/plugins/extractors"
            pages = {
                "/meltano/api/v1/plugins/extractors/index": {
                    name: {
                        "logo_url": None,
                        "default_variant": variant,
                        "variants": {variant: {"ref": f"{root}/{name}--{variant}"}},
                    }
                },
                f"/meltano/api/v1/plugins/extractors/{name}--{variant}": spec,
            }
            body = json.dumps(pages[self.path]).encode() if self.path in pages else b"{}"
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/meltano/api/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def project() -> dict:
    return yaml.safe_load((ROOT / "meltano.yml").read_text())


def plugin(kind: str, name: str) -> dict:
    return next(p for p in project()["plugins"][kind] if p["name"] == name)


def installed_meltano() -> Path:
    """Meltano with every plugin of meltano.yml, as ./scripts/test installs them; else a skip saying so."""
    plugin_venvs = [
        ROOT / ".meltano" / kind / p["name"] / "venv"
        for kind, plugins in project()["plugins"].items()
        for p in plugins
    ]
    missing = [path for path in (MELTANO, *plugin_venvs) if not path.exists()]
    if missing:
        pytest.skip(
            f"Meltano or a plugin is not installed ({missing[0].relative_to(ROOT)}): "
            "./scripts/test installs them (or ./scripts/meltano-demo --install-only)"
        )
    return MELTANO


class Meltano:
    """`meltano` against a sandbox, with this session's system database and database files."""

    def __init__(self, executable: Path, home: Path, sandbox: Sandbox, project_root: Path = ROOT) -> None:
        self.executable = executable
        self.home = home
        self.sandbox = sandbox
        self.project_root = project_root

    def env(self, **extra: str | None) -> dict[str, str]:
        """The environment of a `meltano` call; an `extra` of None removes that variable."""
        own = {
            "MELTANO_DATABASE_URI": f"sqlite:///{self.home / 'meltano.db'}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_SEQUENTUM_API_KEY": self.sandbox.api_key,
            "TAP_SEQUENTUM_BASE_URL": self.sandbox.base_url,
            "TARGET_DUCKDB_FILEPATH": str(self.home / "sequentum.duckdb"),
            "TARGET_JSONL_DESTINATION_PATH": str(self.home / "jsonl"),
            # The jobs' dbt step: the file target-duckdb wrote, and dbt's own files in this session's folder.
            "DBT_DUCKDB_PATH": str(self.home / "sequentum.duckdb"),
            **{
                f"DBT_{adapter.upper()}_{kind.upper()}_PATH": str(self.home / "dbt" / adapter / kind)
                for adapter in ("duckdb", "postgres")
                for kind in ("target", "log")
            },
        }
        return environment("TAP_SEQUENTUM_", "TARGET_", "MELTANO_", "DBT_", **(own | extra))

    def __call__(
        self, *args: str, timeout: float = 600, check: bool = True, **env: str | None
    ) -> subprocess.CompletedProcess:
        command = [str(self.executable), *args]
        proc = run_process(command, cwd=self.project_root, env=self.env(**env), timeout=timeout)
        if check:
            assert proc.returncode == 0, f"meltano {' '.join(args)} failed:\n{proc.stderr[-5000:]}"
        return proc

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return self("--environment", "demo", "run", *args, **env)

    def state(self, state_id: str) -> dict:
        return json.loads(self("--environment", "demo", "state", "get", state_id).stdout)


def downloads(log: str) -> list[str]:
    """The data files a tap run says it downloaded, as `name (file id)`."""
    return [f"{m[1]} ({m[2]})" for m in DOWNLOADED.finditer(log)]


def record_counts(stdout: str) -> dict[str, int]:
    """RECORD messages per stream in a tap's output; an announced stream without records counts 0
    (a target creates its table, empty: file_errors when every file could be read)."""
    counts: collections.Counter[str] = collections.Counter()
    for line in stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            counts[message["stream"]] += 1
        elif message["type"] == "SCHEMA":
            counts[message["stream"]] += 0
    return dict(counts)


# -- the extractor's settings, as meltano.yml and the Hub definition declare them -------------------

KINDS = {
    "boolean": "boolean",
    "integer": "integer",
    "number": "decimal",
    "array": "array",
    "object": "object",
}


def _types(spec: dict) -> list[str]:
    types = spec.get("type") or []
    return [types] if isinstance(types, str) else types


def expected_kind(spec: dict) -> str:
    """The Meltano setting kind for a JSON Schema setting, as the Hub writes them."""
    if spec.get("secret"):
        return "password"
    if spec.get("format") == "date-time":
        return "date_iso8601"
    if spec.get("enum"):
        return "options"
    if "oneOf" in spec:  # a union (faker_config.seed, .locale): free text unless it may be a list
        return "array" if any("array" in _types(option) for option in spec["oneOf"]) else "string"
    return next((kind for json_type, kind in KINDS.items() if json_type in _types(spec)), "string")


def leaf_settings(properties: dict, prefix: str = "") -> dict[str, dict]:
    """Settings as Meltano names them: nested objects by their dotted leaves, stream_maps whole."""
    leaves: dict[str, dict] = {}
    for name, spec in properties.items():
        if spec.get("properties") and name != "stream_maps":
            leaves.update(leaf_settings(spec["properties"], f"{prefix}{name}."))
        else:
            leaves[prefix + name] = spec
    return leaves


def expected_settings(about: dict) -> list[dict]:
    """The extractor's `settings:` for meltano.yml, from `tap-sequentum --about --format=json`.

    Defaults become `value`, except user_agent's (it carries the version).
    """
    settings = []
    for name, spec in leaf_settings(about["settings"]["properties"]).items():
        setting = {"name": name, "label": spec["title"], "description": spec["description"]}
        setting["kind"] = expected_kind(spec)
        if spec.get("secret"):
            setting["sensitive"] = True
        if spec.get("enum"):
            setting["options"] = [{"label": v, "value": v} for v in spec["enum"] if v is not None]
        if "default" in spec and name != "user_agent":
            setting["value"] = spec["default"]
        settings.append(setting)
    return settings
