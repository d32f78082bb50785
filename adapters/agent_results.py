"""What the agents report back: postoffice-result.csv (or the .xlsx they
were sent, filled in) and bank-result.csv or camt.054 XML. Rows are
validated with pydantic and become domain AgentResults; any problem rejects
the whole file."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ledger import citizen_id as cid
from ledger.payouts import AgentResult

from .payroll_files import english_headers
from .tabular import Layout, Problem, Table, read_table, validated_rows


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    payroll_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}/\d{4}-(0[1-9]|1[0-2])$")
    # 35 characters: the most an ISO 20022 end-to-end id holds.
    line_id: str = Field(min_length=1, max_length=35)


class PostOfficeRow(_Row):
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


class BankRow(_Row):
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


POSTOFFICE_LAYOUT = Layout(
    required=("payroll_id", "line_id", "citizen_id", "status"),
    optional=("paid_on", "amount_paid", "received_by", "at_home", "note"),
    dates=("paid_on",), money=("amount_paid",), text=("note",), zero_pad={"citizen_id": 12})
BANK_LAYOUT = Layout(
    required=("payroll_id", "line_id", "status", "booked_on", "amount"), optional=("reason_code",),
    dates=("booked_on",), money=("amount",))


@dataclass
class ParsedResults:
    table: Table
    results: list[AgentResult]
    lines: list[int]
    # The domain names the amount "amount"; a post office file calls it amount_paid.
    columns: dict[str, str]

    def problem(self, index: int, field: str, message: str) -> Problem:
        return self.table.problem(self.lines[index], self.columns.get(field, field), message)


# A post office may return the .xlsx list it was sent, with the result
# columns filled in: the list's own columns (Vietnamese titles, as on the
# list sent) are read past.
LIST_COLUMNS = ("full_name", "commune_code", "months", "kind", "amount", "receiver",
                "bank_account", "home_delivery", "signature")
RETURNED_LIST_LAYOUT = replace(POSTOFFICE_LAYOUT, ignored=LIST_COLUMNS, rename=english_headers)


def _parse(table: Table, model: type[_Row], aliases: dict[str, str]) -> ParsedResults:
    document = Path(table.path).name
    results, lines = [], []
    first_seen: dict[tuple[str, str], tuple[int, AgentResult]] = {}
    for row, parsed in validated_rows(table, model, default_column="line_id"):
        broken = parsed.kind_problems()
        for column, message in broken:
            table.report(row.line, column, message)
        if broken:
            continue
        result = parsed.to_result(document)
        key = (result.payroll_id, result.line_id)
        seen_line, seen = first_seen.setdefault(key, (row.line, result))
        if seen != result:
            table.report(row.line, "line_id", f"duplicate key: line {result.line_id} is on line "
                                              f"{seen_line} with different content")
            continue
        if seen_line != row.line:
            continue  # the same line twice: once is enough
        results.append(result)
        lines.append(row.line)
    table.reject_if_problems()
    return ParsedResults(table, results, lines, aliases)


def parse_postoffice(path: str | Path) -> ParsedResults:
    returned_list = Path(path).suffix.lower() in (".xlsx", ".xlsm")
    table = read_table(path, RETURNED_LIST_LAYOUT if returned_list else POSTOFFICE_LAYOUT)
    return _parse(table, PostOfficeRow, {"amount": "amount_paid"})


def parse_bank(path: str | Path, payroll_ids=None) -> ParsedResults:
    """``payroll_ids``: line ids -> their payroll ids, for the transactions
    of a camt file that do not echo the payment-information id."""
    if Path(path).suffix.lower() == ".xml":
        from .bank_files import read_camt054

        table = read_camt054(path)
        missing = [row for row in table.rows if not row.cells["payroll_id"]]
        if missing and payroll_ids is not None:
            found = payroll_ids({row.cells["line_id"] for row in missing})
            for row in missing:
                row.cells["payroll_id"] = found.get(row.cells["line_id"], "")
    else:
        table = read_table(path, BANK_LAYOUT)
    return _parse(table, BankRow, {})


class AgentReportRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    agent_code: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    advance_received: int = Field(ge=0)
    paid_total: int = Field(ge=0)
    unpaid_total: int = Field(ge=0)
    fee_claimed: int = Field(ge=0)
    balance_remaining: int


REPORT_LAYOUT = Layout(
    required=("agent_code", "month", "advance_received", "paid_total", "unpaid_total",
              "fee_claimed", "balance_remaining"),
    months=("month",), money=("advance_received", "paid_total", "unpaid_total", "fee_claimed"),
    signed_money=("balance_remaining",))


def parse_agent_report(path: str | Path) -> list:
    """agent-report.csv: one summary per agent and month."""
    from ledger.application import AgentReport
    from ledger.months import Month

    table = read_table(path, REPORT_LAYOUT)
    reports, seen = [], {}
    for row, parsed in validated_rows(table, AgentReportRow, default_column="agent_code"):
        key = (parsed.agent_code, parsed.month)
        if key in seen and seen[key] != parsed:
            table.report(row.line, "agent_code", f"{parsed.agent_code} {parsed.month} is reported twice")
            continue
        seen[key] = parsed
        reports.append(AgentReport(parsed.agent_code, Month.parse(parsed.month), parsed.advance_received,
                                   parsed.paid_total, parsed.unpaid_total, parsed.fee_claimed,
                                   parsed.balance_remaining, Path(path).name))
    table.reject_if_problems()
    return reports


def evidence_lines(path: str | Path) -> list[dict]:
    """An agent's result file as evidence for a reconciliation: shape-checked
    like an import, but compared with the payroll rather than recorded."""
    parsed = parse_bank(path) if "bank" in Path(path).name.lower() or Path(path).suffix == ".xml" \
        else parse_postoffice(path)
    return [dict(line_id=r.line_id, payroll_id=r.payroll_id, citizen_id=r.citizen_id, status=r.status,
                 on=r.on, amount=r.amount_vnd) for r in parsed.results]
