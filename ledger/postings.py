"""Double-entry postings derived from the money-moving events.

Accounts (the office's books):
  budget:drawn            money drawn from the State Treasury (credit)
  budget:returned         money agents handed back (debit)
  budget:recovered        overpayments repaid to the office (debit)
  float:<agent>           cash or transfers advanced to an agent and not yet
                          paid out: exactly what the agent owes beneficiaries
  expense:allowances      allowances paid (and arrears)
  expense:funeral_support
  expense:fees            agents' fees (on top: never out of the float)
  expense:write_offs      overpayments written off by decision
  receivable:overpayments money paid beyond what is due, to recover

Every posting is balanced by construction (one debit, one credit, the same
amount); a trial balance over any set of postings sums to zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from .beneficiary import Beneficiary
from .months import Month
from .payouts import FUNERAL

DRAWN = "budget:drawn"
RETURNED = "budget:returned"
RECOVERED = "budget:recovered"
ALLOWANCES = "expense:allowances"
FUNERAL_SUPPORT = "expense:funeral_support"
FEES = "expense:fees"
WRITE_OFFS = "expense:write_offs"
RECEIVABLE = "receivable:overpayments"


def float_of(agent_code: str) -> str:
    return f"float:{agent_code}"


@dataclass(frozen=True, slots=True)
class Posting:
    month: Month  # the month the money moved in (before any month close)
    debit: str
    credit: str
    amount_vnd: int
    kind: str  # advance, disbursed, returned, overpayment, recovered, fee, ...
    agent_code: str = ""
    line_id: str = ""


def _expense(kind: str) -> str:
    return FUNERAL_SUPPORT if kind == FUNERAL else ALLOWANCES


def postings_for(event: object) -> list[Posting]:
    """The postings of one event (none for events that move no money)."""
    B = Beneficiary
    if isinstance(event, B.PayoutIssued):
        return [Posting(event.payroll_month, float_of(event.agent_code), DRAWN, sum(event.amounts),
                        "advance", event.agent_code, event.line_id)]
    if isinstance(event, B.PayoutPaid):
        month = Month.containing(event.paid_on)
        if "paid_after_cancellation" in event.flags:
            # The office had taken the money back (returned); the agent paid
            # it out anyway: it is disbursed after all, from the returns.
            return [Posting(month, _expense(event.kind), RETURNED, event.amount_vnd,
                            "disbursed_after_cancellation", event.agent_code, event.line_id)]
        return [Posting(month, _expense(event.kind), float_of(event.agent_code), event.amount_vnd,
                        "disbursed", event.agent_code, event.line_id)]
    if isinstance(event, (B.PayoutRejected, B.LineCancelled)):
        on = event.booked_on if isinstance(event, B.PayoutRejected) else event.on
        return [Posting(Month.containing(on), RETURNED, float_of(event.agent_code), event.amount_vnd,
                        "returned", event.agent_code, event.line_id)]
    if isinstance(event, B.OverpaymentChanged):
        month = Month.containing(event.on)
        if event.delta_vnd > 0:
            return [Posting(month, RECEIVABLE, ALLOWANCES, event.delta_vnd, "overpayment")]
        return [Posting(month, ALLOWANCES, RECEIVABLE, -event.delta_vnd, "overpayment_reduced")]
    if isinstance(event, B.RecoveryRecorded):
        debit = {"offset": FUNERAL_SUPPORT, "write_off": WRITE_OFFS}.get(event.method, RECOVERED)
        return [Posting(Month.containing(event.paid_on), debit, RECEIVABLE, event.amount_vnd,
                        f"recovered_{event.method}")]
    return []


def fee_postings(month: Month, agent_code: str, fee_vnd: int) -> list[Posting]:
    """The fee is advanced to the agent and taken by it in the same month:
    its float is unchanged, so the fee never eats into money owed."""
    if fee_vnd <= 0:
        return []
    return [Posting(month, float_of(agent_code), DRAWN, fee_vnd, "fee_advance", agent_code),
            Posting(month, FEES, float_of(agent_code), fee_vnd, "fee", agent_code)]


def trial_balance(postings: list[Posting]) -> dict[str, int]:
    """Balance per account, debits positive; sums to zero."""
    balances: dict[str, int] = {}
    for p in postings:
        balances[p.debit] = balances.get(p.debit, 0) + p.amount_vnd
        balances[p.credit] = balances.get(p.credit, 0) - p.amount_vnd
    return balances
