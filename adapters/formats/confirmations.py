"""confirmations.csv / .xlsx (formats.md, "confirmations"): the communes'
checks that a payment made into a proxy's account reached the beneficiary,
one row per person and payroll month (the key)."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from ledger.decisions import CONFIRMATION_METHODS, ReceiptConfirmation
from ledger.months import Month

from ..tabular import Layout, read_table, validated_rows
from .notices import CitizenRow, Parsed

LAYOUT = Layout(
    required=("citizen_id", "month", "confirmed_on", "confirmed_by", "method"),
    dates=("confirmed_on",), months=("month",), text=("confirmed_by",),
    zero_pad={"citizen_id": 12})


class ConfirmationRow(CitizenRow):
    month: str
    confirmed_on: date
    confirmed_by: str = Field(min_length=1, max_length=200)
    method: Literal[CONFIRMATION_METHODS]  # type: ignore[valid-type]

    @field_validator("month")
    @classmethod
    def _month(cls, value: str) -> str:
        Month.parse(value)
        return value

    def problems(self) -> list[tuple[str, str]]:
        if self.confirmed_on < Month.parse(self.month).first_day:
            return [("confirmed_on", f"confirmed_on {self.confirmed_on} is before the month {self.month}")]
        return []

    def to_domain(self) -> ReceiptConfirmation:
        return ReceiptConfirmation(self.citizen_id, Month.parse(self.month), self.confirmed_on,
                                   self.confirmed_by, self.method)


def parse(path: str | Path) -> Parsed:
    """The file's confirmations in order, or InputRejected naming each
    problem's line and column. The key is two columns (citizen and month),
    so this reader keeps its own record of the keys seen."""
    table = read_table(path, LAYOUT)
    items, lines = [], []
    seen: dict[tuple[str, str], tuple[int, ConfirmationRow]] = {}
    for row, parsed in validated_rows(table, ConfirmationRow, default_column="citizen_id"):
        broken = parsed.problems()
        for column, message in broken:
            table.report(row.line, column, message)
        if broken:
            continue
        key = (parsed.citizen_id, str(Month.parse(parsed.month)))
        first_line, first = seen.setdefault(key, (row.line, parsed))
        if first != parsed:
            table.report(row.line, "month", f"duplicate key: {key[0]} {key[1]} is on line {first_line} "
                                            "with different content")
        elif first_line == row.line:
            items.append(parsed.to_domain())
            lines.append(row.line)
    table.reject_if_problems()
    return Parsed(table, items, lines, {})
