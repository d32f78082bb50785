#!/usr/bin/env bash
# Commands taking turns, tried many times on both stores: two payroll runs of
# one month at once, an import during a payroll, a command that gives up
# waiting (tests/test_concurrency.py). TRIALS (default 50) per store.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh test

eval "$(scripts/pg-tmp.sh start)"
trap 'scripts/pg-tmp.sh stop "$PGTMP_DIR"' EXIT
export LEDGER_TEST_POSTGRES_URL LEDGER_REQUIRE_POSTGRES=1
export LEDGER_CONCURRENCY_TRIALS="${TRIALS:-50}"

"$PYTHON" -m pytest -q -s -p no:cacheprovider tests/test_concurrency.py "$@"
