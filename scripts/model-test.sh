#!/usr/bin/env bash
# The model-based test of the whole ledger (tests/test_ledger_model.py) with
# the "long" Hypothesis profile: thousands of fresh random sequences.
# Extra arguments go to pytest (e.g. --hypothesis-seed=N to replay a run);
# MODEL_SEQUENCES=N runs N sequences instead of 2,000.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python=.venv/bin/python
[ -x "$python" ] || python=python3
exec "$python" -m pytest -q -p no:cacheprovider tests/test_ledger_model.py -k TestLedgerModel \
    --hypothesis-profile=long --hypothesis-show-statistics "$@"
