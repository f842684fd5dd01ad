"""`python -m tap_sequentum.cli`: the same as the `sequentum` console script."""

from __future__ import annotations

import sys

from tap_sequentum.cli import main

sys.exit(main())
