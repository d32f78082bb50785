"""The payout book of one beneficiary: every payroll line issued to an
agent for them and what became of it. Month by month it answers what was
issued, disbursed, left unclaimed and cancelled, so that

    issued = disbursed + unclaimed + cancelled

holds for every month by construction (a rejected bank transfer counts as
cancelled: issued, then withdrawn)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from .months import Month

ISSUED = "issued"        # with the agent, no result yet
UNPAID = "unpaid"        # reported not collected: carried forward by the agent
PAID = "paid"            # collected in cash or credited
REJECTED = "rejected"    # bank transfer returned
CANCELLED = "cancelled"  # withdrawn by the office (e.g. months after a death)

OPEN = (ISSUED, UNPAID)


@dataclass(frozen=True, slots=True)
class PayLine:
    payroll_id: str
    line_id: str
    agent_code: str
    channel: str
    payroll_month: Month
    kind: str  # allowance, arrears, funeral_support
    months: tuple[Month, ...]
    amounts: tuple[int, ...]  # VND per month, same order as months
    status: str = ISSUED
    settled_on: date | None = None  # paid, rejected or cancelled on
    detail: str = ""  # who received it, or the reason code

    @property
    def amount_vnd(self) -> int:
        return sum(self.amounts)

    def amount_for(self, month: Month) -> int:
        return sum(a for m, a in zip(self.months, self.amounts) if m == month)


@dataclass(frozen=True, slots=True)
class MonthFigures:
    issued: int = 0
    disbursed: int = 0
    unclaimed: int = 0
    cancelled: int = 0


@dataclass(frozen=True, slots=True)
class PayoutBook:
    lines: tuple[PayLine, ...] = ()

    def line(self, line_id: str) -> PayLine | None:
        for pay_line in self.lines:
            if pay_line.line_id == line_id:
                return pay_line
        return None

    def with_line(self, pay_line: PayLine) -> PayoutBook:
        assert self.line(pay_line.line_id) is None, "a line is issued once"
        return PayoutBook(self.lines + (pay_line,))

    def settle(self, line_id: str, status: str, on: date | None, detail: str) -> PayoutBook:
        return PayoutBook(tuple(
            replace(x, status=status, settled_on=on, detail=detail) if x.line_id == line_id else x
            for x in self.lines))

    def figures(self, month: Month) -> MonthFigures:
        issued = disbursed = unclaimed = cancelled = 0
        for pay_line in self.lines:
            amount = pay_line.amount_for(month)
            if not amount:
                continue
            issued += amount
            if pay_line.status == PAID:
                disbursed += amount
            elif pay_line.status in OPEN:
                unclaimed += amount
            else:
                cancelled += amount
        return MonthFigures(issued, disbursed, unclaimed, cancelled)

    def net_issued(self, month: Month) -> int:
        """Issued and not withdrawn: paid, or still with the agent."""
        figures = self.figures(month)
        return figures.issued - figures.cancelled

    def months(self) -> set[Month]:
        return {m for pay_line in self.lines for m in pay_line.months}

    def open_lines(self) -> list[PayLine]:
        return [x for x in self.lines if x.status in OPEN]

    def last_payroll_month(self) -> Month | None:
        return max((x.payroll_month for x in self.lines), default=None)
