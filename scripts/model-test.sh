#!/usr/bin/env bash
# The model-based test of the whole ledger (tests/test_ledger_model.py) with
# the "long" Hypothesis profile: thousands of fresh random sequences.
# Extra arguments go to pytest (e.g. --hypothesis-seed=N to replay a run).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec python3 -m pytest -q -p no:cacheprovider tests/test_ledger_model.py -k TestLedgerModel \
    --hypothesis-profile=long --hypothesis-show-statistics "$@"
