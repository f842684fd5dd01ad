"""Fixtures: every test talks real HTTP to the bundled Sequentum sandbox.

Tests that use the `meltano_installed` or `postgres` fixtures run the installed Meltano or a real PostgreSQL:
they get the `external` marker here, so the inner loop (`pytest -m "not external"`) leaves them out.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from meltano_support import installed_meltano
from postgres_support import cluster
from support import running

from sequentum_emulator import Sandbox

#: Sandboxes shared by many tests: far above the 1000 a minute a real-size test session would hit, so no test
#: waits for another's requests (tests of the rate limit set their own).
SHARED_RATE_LIMIT = 1_000_000


#: Fixtures that need what ./scripts/test sets up on the machine (Meltano and its plugins, PostgreSQL).
EXTERNAL_FIXTURES = {"meltano_installed", "postgres"}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if EXTERNAL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.external)


class StandardSuiteModule(pytest.Module):
    """tests/test_core.py: singer-sdk parametrizes its standard suite with the tap's streams when the test
    class is built, and listing them takes a running sandbox. So the sandbox starts when the module is
    collected (not when it is imported) and stops when the session ends."""

    def collect(self):
        sandbox = Sandbox(rate_limit=SHARED_RATE_LIMIT)
        sandbox.start()
        self.config.add_cleanup(sandbox.stop)
        self.obj.TestTapSequentum = self.obj.standard_suite(sandbox)
        return super().collect()


def pytest_pycollect_makemodule(module_path, parent):
    if module_path.name == "test_core.py":
        return StandardSuiteModule.from_parent(parent, path=module_path)
    return None


@pytest.fixture(autouse=True)
def discovery_memory(tmp_path_factory, monkeypatch) -> Path:
    """Each test's own user cache folder (`discovery_cache: auto`), for the tap in this process and in the
    processes it starts: a test never reads what another test's discovery remembered (sandboxes reuse ports
    and agent ids), nor a developer's own."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder / "tap-sequentum"


@pytest.fixture(scope="session")
def meltano_installed() -> Path:
    """The `meltano` executable of .meltano/venv, with the plugins installed (skipped when they are not)."""
    return installed_meltano()


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL cluster per test module (postgres_support.py)."""
    yield from cluster()


@pytest.fixture(scope="session")
def demo_sandbox():
    """A shared sandbox with the demo data; tests must not change it."""
    yield from running(rate_limit=SHARED_RATE_LIMIT)


@pytest.fixture
def sandbox():
    """A fresh sandbox per test, free to mutate, fault and reconfigure."""
    yield from running()
