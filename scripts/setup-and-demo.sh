#!/usr/bin/env bash
# Fresh machine -> `ledger demo` on the embedded SQLite store.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
ledger demo "$@"
