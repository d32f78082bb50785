"""postoffice-result.csv, or the .xlsx list the post office was sent with
the result columns filled in (formats.md, "postoffice-result.csv"): which lines
were paid, when, to whom, and which were not."""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from ledger import citizen_id as cid
from ledger.payouts import AgentResult

from ..tabular import Layout, read_table
from .agent_results import ParsedResults, ResultRow, parse_results
from .payroll_list import english_headers


class PostOfficeRow(ResultRow):
    citizen_id: str
    status: Literal["paid", "unpaid"]
    paid_on: date | None = None
    amount_paid: int | None = Field(default=None, ge=0)
    received_by: Literal["beneficiary", "proxy"] | None = None
    at_home: bool = False
    note: str = ""

    @field_validator("citizen_id")
    @classmethod
    def _id(cls, value: str) -> str:
        return cid.check_format(value)

    @field_validator("at_home", mode="before")
    @classmethod
    def _yes_no(cls, value):
        if isinstance(value, str):
            if value.lower() not in ("y", "n"):
                raise ValueError("at_home must be y or n")
            return value.lower() == "y"
        return value

    def kind_problems(self) -> list[tuple[str, str]]:
        if self.status != "paid":
            return []
        return [(name, f"{name} is required when status is paid")
                for name in ("paid_on", "amount_paid", "received_by") if getattr(self, name) is None]

    def to_result(self, document: str) -> AgentResult:
        return AgentResult(self.payroll_id, self.line_id, self.citizen_id, self.status, self.paid_on,
                           self.amount_paid or 0, self.received_by or "", self.at_home, self.note,
                           "", "postoffice", document)


POSTOFFICE_LAYOUT = Layout(
    required=("payroll_id", "line_id", "citizen_id", "status"),
    optional=("paid_on", "amount_paid", "received_by", "at_home", "note"),
    dates=("paid_on",), money=("amount_paid",), text=("note",), zero_pad={"citizen_id": 12})

# A post office may return the .xlsx list it was sent, with the result
# columns filled in: the list's own columns (Vietnamese titles, as on the
# list sent) are read past.
LIST_COLUMNS = ("full_name", "commune_code", "months", "kind", "amount", "receiver",
                "bank_account", "home_delivery", "signature")
RETURNED_LIST_LAYOUT = replace(POSTOFFICE_LAYOUT, ignored=LIST_COLUMNS, rename=english_headers)


def parse_csv(path: str | Path) -> ParsedResults:
    return parse_results(read_table(path, POSTOFFICE_LAYOUT), PostOfficeRow, {"amount": "amount_paid"})


def parse_returned_list(path: str | Path) -> ParsedResults:
    return parse_results(read_table(path, RETURNED_LIST_LAYOUT), PostOfficeRow, {"amount": "amount_paid"})
