"""Fixtures of the emulator's own tests: raw HTTP to one demo emulator per module (no tap involved)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sequentum_emulator import DEFAULT_API_KEY, Sandbox


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """The demo emulator a module's tests share; runs started through its API finish in 0.3 s."""
    with Sandbox(run_duration=0.3) as sandbox:
        yield sandbox


@pytest.fixture
def http(sb: Sandbox) -> Iterator[requests.Session]:
    """A requests session that sends the demo API key; afterwards `sb` gets back the settings and faults
    a test may have changed."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"ApiKey {DEFAULT_API_KEY}"
        yield session
    sb.clear_faults()
    sb.redirect_downloads, sb.latency, sb.list_hints, sb.date_form = False, 0.0, True, "z"
    sb.listing_order = "documented"
    sb.schedule_type_text = False


@pytest.fixture
def api(sb: Sandbox) -> str:
    """The root of `sb`'s API."""
    return f"{sb.base_url}/api/v1"
