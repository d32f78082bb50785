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
amount); a trial balance over any set of postings sums to zero. Which
events post what is defined once, in ledger/money.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from .months import Month

DRAWN = "budget:drawn"
RETURNED = "budget:returned"
RECOVERED = "budget:recovered"
ALLOWANCES = "expense:allowances"
FUNERAL_SUPPORT = "expense:funeral_support"
FEES = "expense:fees"
WRITE_OFFS = "expense:write_offs"
RECEIVABLE = "receivable:overpayments"


# What an agent paid out to beneficiaries (the base of its fee).
PAID_KINDS = ("disbursed", "disbursed_after_cancellation")


def float_of(agent_code: str) -> str:
    return f"float:{agent_code}"


def period_of(natural: Month, last_closed: Month | None) -> Month:
    """The accounting month a posting lands in: the month the money moved
    in, unless that month is already closed; then the first open month, as
    a correction (a closed month's figures never change). ``last_closed``:
    the last month closed when the posting's event was recorded (None for
    a month close's own fees, which belong to the month it closes)."""
    if last_closed is not None and natural <= last_closed:
        return last_closed + 1
    return natural


@dataclass(frozen=True, slots=True)
class Posting:
    month: Month  # the month the money moved in (before any month close)
    debit: str
    credit: str
    amount_vnd: int
    kind: str  # advance, disbursed, returned, overpayment, recovered, fee, ...
    agent_code: str = ""
    line_id: str = ""


def trial_balance(postings: list[Posting]) -> dict[str, int]:
    """Balance per account, debits positive; sums to zero."""
    balances: dict[str, int] = {}
    for p in postings:
        balances[p.debit] = balances.get(p.debit, 0) + p.amount_vnd
        balances[p.credit] = balances.get(p.credit, 0) - p.amount_vnd
    return balances
