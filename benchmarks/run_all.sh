#!/usr/bin/env bash
# The standard set of measurements for issue 9 (sync cost), in order, printing everything.
#   benchmarks/run_all.sh            # the whole set, about 25 minutes on the project's 2-core machine
#   benchmarks/run_all.sh --quick    # 150 x 20 and the 2M-row download only, about 5 minutes
# Results land in benchmarks/results-scale.json and benchmarks/results.json (merged, keyed by size).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
quick=false
[[ ${1:-} == --quick ]] && quick=true

step() { printf '\n==== %s\n' "$*"; "$python" "$@"; }

step benchmarks/requests_per_sync.py                 # 150 agents x 20 runs: discovery, full, unchanged, one new run
step benchmarks/run.py --no-sdk-path                 # 2M-row CSV over HTTP against the pyarrow + msgspec floor
if [[ $quick == false ]]; then
    step benchmarks/requests_per_sync.py --agents 1000   # 1000 agents x 2 runs
    step benchmarks/run.py --flatness --repeat 1 --no-sdk-path   # peak RSS at 200k, 1M, 5M rows
    step benchmarks/requests_per_sync.py --profile       # cProfile of the 150 x 20 full sync
fi
