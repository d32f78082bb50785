#!/usr/bin/env bash
# Damaged files through every importer (tests/test_import_fuzz.py):
# FUZZ_EXAMPLES (default 1000) per importer, with fresh random examples
# (HYPOTHESIS_PROFILE=long; FUZZ_PROFILE=ci for the fixed seed). SQLite only.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=python3
[ -x .venv/bin/python ] && PYTHON=.venv/bin/python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-1000}" HYPOTHESIS_PROFILE="${FUZZ_PROFILE:-long}"
start=$(date +%s)
"$PYTHON" -m pytest -q -s -p no:cacheprovider tests/test_import_fuzz.py "$@"
echo "fuzz: $FUZZ_EXAMPLES examples per importer, profile $HYPOTHESIS_PROFILE, $(( $(date +%s) - start )) s"
