#!/usr/bin/env bash
# kill -9 of the `ledger` command at random points during decisions import,
# payroll, post office and bank results, on SQLite and on a throwaway
# PostgreSQL; then audit verify, replay, the command again, and the final
# state compared with a clean run (scripts/crash_trials.py). TRIALS per
# store (default 10); CRASH_PEOPLE people (default 600); NO_POSTGRES=1 for
# SQLite alone, CRASH_STORES=postgresql for PostgreSQL alone; figures so far
# every 10 trials.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=python3
[ -x .venv/bin/python ] && PYTHON=.venv/bin/python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ "${NO_POSTGRES:-0}" != 1 ]; then
  eval "$(bash scripts/pg-tmp.sh start)"
  trap 'bash scripts/pg-tmp.sh stop "$PGTMP_DIR"' EXIT
  export LEDGER_TEST_POSTGRES_URL
fi
"$PYTHON" scripts/crash_trials.py "${TRIALS:-10}"
