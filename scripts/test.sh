#!/usr/bin/env bash
# Fresh machine -> the whole test suite, on SQLite and on a throwaway
# PostgreSQL started here on loopback and torn down afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e ".[test]"

eval "$(scripts/pg-tmp.sh start)"
trap 'scripts/pg-tmp.sh stop "$PGTMP_DIR"' EXIT
export LEDGER_TEST_POSTGRES_URL
export LEDGER_REQUIRE_POSTGRES=1  # the suite fails rather than skips without it

python3 -m pytest "$@"
