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

# Bank reason codes (ISO 20022) that stop payment until the office decides:
# wrong or closed account until a change of channel; account holder deceased
# until the commune verifies (a resumption, or a death notice).
BANK_DETAILS = "bank_details"
DEATH_VERIFICATION = "death_verification"
REASON_HOLDS = {"AC01": BANK_DETAILS, "AC04": BANK_DETAILS, "MD07": DEATH_VERIFICATION}


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
    to_proxy_account: bool = False  # a bank line into the proxy's own account

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
class Recovery:
    """Money back on an overpayment: repaid, offset (with a decision) or
    written off (with a decision and a reason)."""

    receipt_no: str
    amount_vnd: int
    paid_on: date
    paid_by: str
    method: str  # cash, bank, offset, write_off
    decision_no: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class WriteOffProposal:
    """A write-off waiting for a second person's approval: no money has
    moved (the overpayment stays open) until it is approved."""

    receipt_no: str  # the key the write-off will be recorded under once approved
    amount_vnd: int
    decision_no: str
    reason: str
    proposed_on: date
    proposed_by: str


@dataclass(frozen=True, slots=True)
class FuneralGrant:
    amount_vnd: int
    date_of_death: date
    arranged_by: str
    notice_id: str


FUNERAL = "funeral_support"


@dataclass(frozen=True, slots=True)
class PayoutBook:
    lines: tuple[PayLine, ...] = ()
    holds: tuple[tuple[str, str], ...] = ()  # (hold kind, reason code)
    recoveries: tuple[Recovery, ...] = ()
    funeral: FuneralGrant | None = None
    overpaid_recorded_vnd: int = 0  # the overpayment as last derived and recorded
    proposals: tuple[WriteOffProposal, ...] = ()  # write-offs proposed, not yet approved or rejected

    def allowance_lines(self) -> tuple[PayLine, ...]:
        """Lines that pay months of the allowance (not funeral support)."""
        return tuple(x for x in self.lines if x.kind != FUNERAL)

    def recovered_vnd(self) -> int:
        return sum(r.amount_vnd for r in self.recoveries)

    def with_recovery(self, recovery: Recovery) -> PayoutBook:
        return replace(self, recoveries=self.recoveries + (recovery,))

    def with_proposal(self, proposal: WriteOffProposal) -> PayoutBook:
        return replace(self, proposals=self.proposals + (proposal,))

    def without_proposal(self, receipt_no: str) -> PayoutBook:
        return replace(self, proposals=tuple(p for p in self.proposals if p.receipt_no != receipt_no))

    def proposal(self, receipt_no: str) -> WriteOffProposal | None:
        return next((p for p in self.proposals if p.receipt_no == receipt_no), None)

    def with_funeral(self, grant: FuneralGrant) -> PayoutBook:
        return replace(self, funeral=grant)

    def with_hold(self, kind: str, code: str) -> PayoutBook:
        kept = tuple(h for h in self.holds if h[0] != kind)
        return replace(self, holds=kept + ((kind, code),))

    def without_hold(self, kind: str) -> PayoutBook:
        return replace(self, holds=tuple(h for h in self.holds if h[0] != kind))

    def line(self, line_id: str) -> PayLine | None:
        for pay_line in self.lines:
            if pay_line.line_id == line_id:
                return pay_line
        return None

    def with_line(self, pay_line: PayLine) -> PayoutBook:
        assert self.line(pay_line.line_id) is None, "a line is issued once"
        return replace(self, lines=self.lines + (pay_line,))

    def settle(self, line_id: str, status: str, on: date | None, detail: str) -> PayoutBook:
        return replace(self, lines=tuple(
            replace(x, status=status, settled_on=on, detail=detail) if x.line_id == line_id else x
            for x in self.lines))

    def net_issued_by_month(self) -> dict[Month, int]:
        """Per month, what was issued and not withdrawn (paid or with the agent)."""
        net: dict[Month, int] = {}
        for pay_line in self.allowance_lines():
            if pay_line.status in (REJECTED, CANCELLED):
                continue
            for month, amount in zip(pay_line.months, pay_line.amounts):
                net[month] = net.get(month, 0) + amount
        return net

    def unclaimed_run(self) -> tuple[int, int]:
        """(consecutive monthly rounds not collected, VND held unpaid); see
        ``unclaimed_run``."""
        return unclaimed_run((x.payroll_month, x.status, x.kind, x.amount_vnd) for x in self.lines)

    def figures(self, month: Month) -> MonthFigures:
        issued = disbursed = unclaimed = cancelled = 0
        for pay_line in self.allowance_lines():
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

    def months(self) -> set[Month]:
        return {m for pay_line in self.allowance_lines() for m in pay_line.months}

    def disbursed_by_month(self) -> dict[Month, int]:
        paid: dict[Month, int] = {}
        for pay_line in self.allowance_lines():
            if pay_line.status == PAID:
                for month, amount in zip(pay_line.months, pay_line.amounts):
                    paid[month] = paid.get(month, 0) + amount
        return paid

    def open_lines(self) -> list[PayLine]:
        return [x for x in self.lines if x.status in OPEN]

    def last_payroll_month(self) -> Month | None:
        return max((x.payroll_month for x in self.lines), default=None)


def unclaimed_run(lines) -> tuple[int, int]:
    """(consecutive monthly rounds not collected, VND held unpaid), from a
    person's lines as (payroll month, status, kind, amount) tuples.

    Counted by payroll round, not by months paid: a line carrying three
    months of arrears that was not collected is one missed round. Lines
    with no result yet do not count either way; funeral support is not a
    round."""
    lines = list(lines)
    rounds = 0
    expected: Month | None = None
    rounds_lines = sorted((x for x in lines if x[2] != FUNERAL), key=lambda x: x[0], reverse=True)
    for payroll_month, status, _, _ in rounds_lines:
        if status == ISSUED and rounds == 0 and expected is None:
            continue  # this round's results are not in yet
        if status != UNPAID:
            break
        if expected is not None and payroll_month != expected:
            break
        rounds += 1
        expected = payroll_month - 1
    held = sum(amount for _, status, _, amount in lines if status == UNPAID)
    return rounds, held


@dataclass(frozen=True, slots=True)
class AgentResult:
    """One line of what an agent reported back (post office or bank)."""

    payroll_id: str
    line_id: str
    citizen_id: str  # as reported; must match the line ("" if the file has none)
    status: str  # paid, unpaid (post office); credited, rejected (bank)
    on: date | None  # paid or booked on
    amount_vnd: int
    received_by: str = ""  # beneficiary or proxy
    at_home: bool = False
    note: str = ""
    reason_code: str = ""
    source: str = "postoffice"
    document: str = ""  # the file it came from
