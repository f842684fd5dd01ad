"""singer-sdk's standard tap test suite, run against the bundled sandbox over real HTTP."""

from __future__ import annotations

import atexit
import contextlib
import io
import json

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_sequentum.sandbox import Sandbox
from tap_sequentum.tap import TapSequentum

# The SDK builds the test class at import time, so the sandbox must already be listening.
_SANDBOX = Sandbox()
_SANDBOX.start()
atexit.register(_SANDBOX.stop)

# Sampling every run makes the discovered catalog complete, which the suite's schema checks need
# (with the default sample, later files widen schemas at sync time instead).
CONFIG = {"api_key": _SANDBOX.api_key, "base_url": _SANDBOX.base_url, "discovery_sample_runs": 50}
with contextlib.redirect_stdout(io.StringIO()):
    CATALOG = json.loads(TapSequentum(config=CONFIG, setup_mapper=False).run_discovery())

TestTapSequentum = get_tap_test_class(
    tap_class=TapSequentum,
    config=CONFIG,
    catalog=CATALOG,
    # file_errors has records only when a file cannot be read; the demo's files all can.
    suite_config=SuiteConfig(max_records_limit=None, ignore_no_records_for_streams=["file_errors"]),
)
