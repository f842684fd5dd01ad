"""singer-sdk's standard tap test suite, run against the bundled sandbox over real HTTP.

The SDK builds the test class (one test per stream and per attribute) from the tap's streams, which needs a
running sandbox: conftest.py calls `standard_suite` with one when this module is collected.
"""

from __future__ import annotations

import contextlib
import io
import json

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from sequentum_emulator import Sandbox
from tap_sequentum.tap import TapSequentum


def standard_suite(sandbox: Sandbox) -> type:
    """The standard suite's test class against `sandbox`, with a complete discovered catalog."""
    # Sampling every run makes the discovered catalog complete, which the suite's schema checks need
    # (with the default sample, later files widen schemas at sync time instead).
    config = {"api_key": sandbox.api_key, "base_url": sandbox.base_url, "discovery_sample_runs": 50}
    with contextlib.redirect_stdout(io.StringIO()):
        catalog = json.loads(TapSequentum(config=config, setup_mapper=False).run_discovery())
    return get_tap_test_class(
        tap_class=TapSequentum,
        config=config,
        catalog=catalog,
        # file_errors has records only when a file cannot be read; the demo's files all can.
        suite_config=SuiteConfig(max_records_limit=None, ignore_no_records_for_streams=["file_errors"]),
    )
