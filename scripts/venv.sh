#!/usr/bin/env bash
# Sourced by the other scripts: the project's own virtual environment in
# .venv (stock Debian refuses `pip install` into the system Python, PEP 668),
# created on first use, with the package and the given extras installed.
#   . scripts/venv.sh [EXTRAS]      -> PATH and PYTHON point into .venv
set -euo pipefail
_extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  if ! python3 -m venv .venv >/dev/null 2>&1; then
    # Debian ships venv separately.
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv) >/dev/null
      rm -rf .venv
      python3 -m venv .venv
    else
      echo "python3 -m venv failed: install python3-venv" >&2
      exit 1
    fi
  fi
fi
# The printable payment lists embed a TrueType font with every Vietnamese
# letter (DejaVu Sans; the copy in matplotlib's package data is the fallback).
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core) >/dev/null 2>&1 || true
fi
PYTHON="$PWD/.venv/bin/python"
"$PYTHON" -m pip install --quiet --disable-pip-version-check -e ".${_extras:+[$_extras]}"
export PATH="$PWD/.venv/bin:$PATH"
export PYTHON
