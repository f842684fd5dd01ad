"""Fixtures: every test talks real HTTP to the bundled Sequentum sandbox."""

from __future__ import annotations

import pytest

from tap_sequentum.sandbox import Sandbox


@pytest.fixture(scope="session")
def demo_sandbox():
    """A shared sandbox with the demo data; tests must not change it."""
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox():
    """A fresh sandbox per test, free to mutate, fault and reconfigure."""
    with Sandbox() as sandbox:
        yield sandbox
