"""bank-result.csv (formats.md, "bank-result.csv"): a bank's credited and
rejected transfers as a table. The same facts sent as ISO 20022 camt.054
or camt.053 are read by camt.py into the same rows."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field

from ledger.payouts import AgentResult

from ..tabular import Layout, Table, read_table
from .agent_results import ParsedResults, ResultRow, parse_results
from .camt import read_camt054


class BankRow(ResultRow):
    status: Literal["credited", "rejected"]
    booked_on: date
    amount: int = Field(ge=0)
    reason_code: str = Field(default="", pattern=r"^([A-Z]{2}\d{2})?$")

    def kind_problems(self) -> list[tuple[str, str]]:
        if self.status == "rejected" and not self.reason_code:
            return [("reason_code", "reason_code is required when status is rejected")]
        return []

    def to_result(self, document: str) -> AgentResult:
        return AgentResult(self.payroll_id, self.line_id, "", self.status, self.booked_on,
                           self.amount, "beneficiary", False, "", self.reason_code, "bank", document)


BANK_LAYOUT = Layout(
    required=("payroll_id", "line_id", "status", "booked_on", "amount"), optional=("reason_code",),
    dates=("booked_on",), money=("amount",))


def parse_csv(path: str | Path, payroll_ids=None) -> ParsedResults:
    return parse_results(read_table(path, BANK_LAYOUT), BankRow, {})


def parse_camt(path: str | Path, payroll_ids=None) -> ParsedResults:
    """``payroll_ids``: line ids -> their payroll ids, for the transactions
    of a camt file that do not echo the payment-information id."""
    table: Table = read_camt054(path)
    missing = [row for row in table.rows if not row.cells["payroll_id"]]
    if missing and payroll_ids is not None:
        found = payroll_ids({row.cells["line_id"] for row in missing})
        for row in missing:
            row.cells["payroll_id"] = found.get(row.cells["line_id"], "")
    return parse_results(table, BankRow, {})
