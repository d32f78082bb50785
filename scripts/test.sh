#!/usr/bin/env bash
# Fresh machine -> the whole test suite, on SQLite and on a throwaway
# PostgreSQL started here on loopback and torn down afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh test

# pdftotext lets the report tests read the PDF they wrote (best effort: they
# skip that check without it); DejaVu is the font the printable lists embed.
if { ! command -v pdftotext >/dev/null 2>&1 || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; } \
    && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils fonts-dejavu-core) >/dev/null 2>&1 || true
fi

# The browser tests drive Debian's Chromium (Playwright's own browser download
# is not used); they fail rather than skip without it.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export LEDGER_REQUIRE_BROWSER=1

eval "$(scripts/pg-tmp.sh start)"
trap 'scripts/pg-tmp.sh stop "$PGTMP_DIR"' EXIT
export LEDGER_TEST_POSTGRES_URL
export LEDGER_REQUIRE_POSTGRES=1  # the suite fails rather than skips without it

"$PYTHON" -m pytest "$@"
