"""agent-report.csv (formats.md, beside "postoffice-result.csv"): an agent's own summary
of a month, compared with the ledger's settlement."""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..tabular import Layout, read_table, validated_rows


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
