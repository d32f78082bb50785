"""Today's date: the system clock, or LEDGER_TODAY=YYYY-MM-DD for demos,
tests and catching up."""
from __future__ import annotations

import os
from datetime import date

from ledger.months import Month


def today() -> date:
    fixed = os.environ.get("LEDGER_TODAY")
    return date.fromisoformat(fixed) if fixed else date.today()


def this_month() -> Month:
    return Month.containing(today())
