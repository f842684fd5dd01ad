"""singer-sdk's standard tap test suite, run against the bundled sandbox over real HTTP."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_sequentum.sandbox import Sandbox
from tap_sequentum.tap import TapSequentum

# The SDK builds the test class at import time, so the sandbox must already be listening.
_SANDBOX = Sandbox()
_SANDBOX.start()
atexit.register(_SANDBOX.stop)

TestTapSequentum = get_tap_test_class(
    tap_class=TapSequentum,
    config={"api_key": _SANDBOX.api_key, "base_url": _SANDBOX.base_url},
    suite_config=SuiteConfig(max_records_limit=None),
)
