"""recoveries.csv / .xlsx (formats.md, "Recovery file"): repayments, offsets
and write-offs of overpayments, one receipt per row."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field

from ledger.payouts import Recovery

from ..tabular import Layout
from .notices import CitizenRow, Parsed, parse_keyed


class RecoveryRow(CitizenRow):
    receipt_no: str = Field(min_length=1, max_length=64)
    amount: int = Field(gt=0)
    paid_on: date
    paid_by: str = Field(min_length=1)
    method: Literal["cash", "bank", "offset", "write_off"]
    decision_no: str = ""  # required for offset and write_off
    reason: str = ""  # required for write_off

    def problems(self) -> list[tuple[str, str]]:
        out = []
        if self.method in ("offset", "write_off") and not self.decision_no:
            out.append(("decision_no", f"decision_no is required for method {self.method}"))
        if self.method == "write_off" and not self.reason:
            out.append(("reason", "reason is required for method write_off"))
        return out

    def to_domain(self) -> tuple[str, Recovery]:
        return self.citizen_id, Recovery(self.receipt_no, self.amount, self.paid_on, self.paid_by,
                                         self.method, self.decision_no, self.reason)


RECOVERY_LAYOUT = Layout(
    required=("receipt_no", "citizen_id", "amount", "paid_on", "paid_by", "method"),
    optional=("decision_no", "reason"),
    dates=("paid_on",), money=("amount",), text=("paid_by", "reason"),
    zero_pad={"citizen_id": 12})


def parse(path: str | Path) -> Parsed:
    return parse_keyed(path, RecoveryRow, RECOVERY_LAYOUT, "receipt_no", {})
