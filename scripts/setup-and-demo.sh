#!/usr/bin/env bash
# Fresh machine -> `ledger demo` on the embedded SQLite store.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e .
ledger demo "$@"
