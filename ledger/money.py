"""Each event's money consequence, defined once.

One table keyed by event class says, for every event that moves money,
its signed amount (what the audit timeline shows), its balanced postings
(the books and so the settlement with each agent) and, for a result on a
payroll line, the line's new status (the payout view). Every other event
class is listed in ``MOVES_NO_MONEY``, so that a new event class is a
decision someone has to make here (tests/test_money.py walks them all).

A decision or a death notice moves no money by itself: what it changes is
what is due, which the audit timeline derives from the facts before and
after (ledger/audit.py); the money follows through the payroll, the
cancellations and the overpayments it causes, which are events here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable

from . import payouts
from .beneficiary import Beneficiary
from .imports import ImportReceipt
from .months import Month
from .history import HistorySeals
from .payroll import PayrollCalendar
from .population import IdentityCorrected, PopulationChecked, PopulationReviewed
from .postings import (ALLOWANCES, DRAWN, FEES, FUNERAL_SUPPORT, RECEIVABLE, RECOVERED, RETURNED, WRITE_OFFS,
                       Posting, float_of)

B = Beneficiary


@dataclass(frozen=True, slots=True)
class LineResult:
    """What a result does to its payroll line."""

    line_id: str
    status: str
    settled_on: date | None
    detail: str  # who received it, or the reason code or note
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MoneyEffect:
    amount_vnd: int  # signed: out of the budget positive, back negative
    postings: tuple[Posting, ...] = ()
    line: LineResult | None = None


def _expense(kind: str) -> str:
    return FUNERAL_SUPPORT if kind == payouts.FUNERAL else ALLOWANCES


def _issued(e: B.PayoutIssued) -> MoneyEffect:
    amount = sum(e.amounts)
    return MoneyEffect(amount, (Posting(e.payroll_month, float_of(e.agent_code), DRAWN, amount, "advance",
                                        e.agent_code, e.line_id),))


def _paid(e: B.PayoutPaid) -> MoneyEffect:
    month = Month.containing(e.paid_on)
    if "paid_after_cancellation" in e.flags:
        # The office had taken the money back (returned); the agent paid it
        # out anyway: it is disbursed after all, from the returns.
        posting = Posting(month, _expense(e.kind), RETURNED, e.amount_vnd, "disbursed_after_cancellation",
                          e.agent_code, e.line_id)
    else:
        posting = Posting(month, _expense(e.kind), float_of(e.agent_code), e.amount_vnd, "disbursed",
                          e.agent_code, e.line_id)
    return MoneyEffect(e.amount_vnd, (posting,),
                       LineResult(e.line_id, payouts.PAID, e.paid_on, e.received_by, tuple(e.flags)))


def _unpaid(e: B.PayoutUnpaid) -> MoneyEffect:
    # The cash stays with the post office, still owed to the person: no movement.
    return MoneyEffect(0, (), LineResult(e.line_id, payouts.UNPAID, None, e.note))


def _returned(e, on: date, status: str, detail: str) -> MoneyEffect:
    return MoneyEffect(-e.amount_vnd, (Posting(Month.containing(on), RETURNED, float_of(e.agent_code),
                                               e.amount_vnd, "returned", e.agent_code, e.line_id),),
                       LineResult(e.line_id, status, on, detail))


def _rejected(e: B.PayoutRejected) -> MoneyEffect:
    return _returned(e, e.booked_on, payouts.REJECTED, e.reason_code)


def _cancelled(e: B.LineCancelled) -> MoneyEffect:
    return _returned(e, e.on, payouts.CANCELLED, e.reason)


def _overpayment(e: B.OverpaymentChanged) -> MoneyEffect:
    month = Month.containing(e.on)
    if e.delta_vnd > 0:
        posting = Posting(month, RECEIVABLE, ALLOWANCES, e.delta_vnd, "overpayment")
    else:
        posting = Posting(month, ALLOWANCES, RECEIVABLE, -e.delta_vnd, "overpayment_reduced")
    return MoneyEffect(e.delta_vnd, (posting,) if e.delta_vnd else ())


def _recovered(e: B.RecoveryRecorded) -> MoneyEffect:
    debit = {"offset": FUNERAL_SUPPORT, "write_off": WRITE_OFFS}.get(e.method, RECOVERED)
    return MoneyEffect(e.amount_vnd, (Posting(Month.containing(e.paid_on), debit, RECEIVABLE, e.amount_vnd,
                                              f"recovered_{e.method}"),))


def _funeral_granted(e: B.FuneralSupportGranted) -> MoneyEffect:
    # Owed to the estate from now on; the money moves when a line pays it.
    return MoneyEffect(e.amount_vnd)


def _month_closed(e: PayrollCalendar.MonthClosed) -> MoneyEffect:
    entries = tuple(p for code, figures in sorted(e.agents.items())
                    for p in fee_postings(e.month, code, figures["fee"]))
    return MoneyEffect(sum(p.amount_vnd for p in entries if p.kind == "fee"), entries)


def fee_postings(month: Month, agent_code: str, fee_vnd: int) -> list[Posting]:
    """The fee is advanced to the agent and taken by it in the same month:
    its float is unchanged, so the fee never eats into money owed."""
    if fee_vnd <= 0:
        return []
    return [Posting(month, float_of(agent_code), DRAWN, fee_vnd, "fee_advance", agent_code),
            Posting(month, FEES, float_of(agent_code), fee_vnd, "fee", agent_code)]


EFFECTS: dict[type, Callable[[object], MoneyEffect]] = {
    B.PayoutIssued: _issued,
    B.PayoutPaid: _paid,
    B.PayoutUnpaid: _unpaid,
    B.PayoutRejected: _rejected,
    B.LineCancelled: _cancelled,
    B.OverpaymentChanged: _overpayment,
    B.RecoveryRecorded: _recovered,
    B.FuneralSupportGranted: _funeral_granted,
    PayrollCalendar.MonthClosed: _month_closed,
}

MOVES_NO_MONEY: frozenset[type] = frozenset({
    # Decisions and notices change what is due (ledger/audit.py), not the books.
    B.Registered, B.CategoryChanged, B.DisabilityReassessed, B.RelocatedOut, B.RelocatedIn,
    B.ChannelChanged, B.ProxyAuthorised, B.ProxyRevoked, B.Suspended, B.Resumed, B.Terminated,
    B.DeathNotified,
    B.DeathVerificationRequested,  # a hold on payment until the commune verifies
    ImportReceipt.Recorded,  # the record of a file imported; its events carry the money
    B.WriteOffProposed, B.WriteOffRejected,  # a write-off moves money once approved (a RecoveryRecorded)
    B.ReceiptConfirmed,  # a check that money already credited reached the person
    # The population database's answer (a reported death holds payment: the
    # months stay due), the officer's review, a corrected identity (a decision).
    PopulationChecked, PopulationReviewed, IdentityCorrected,
    PayrollCalendar.Opened, PayrollCalendar.MonthIssued,  # the lines carry the money
    PayrollCalendar.PayrollPrepared,  # nothing is issued until a release
    PayrollCalendar.AgentReportFiled, PayrollCalendar.VarianceAccepted,
    HistorySeals.Opened, HistorySeals.ExistingSealed,  # the hash chain's own record
})


def effect_of(event: object) -> MoneyEffect | None:
    """The event's money consequence; None for an event that moves none."""
    make = EFFECTS.get(type(event))
    return make(event) if make is not None else None


def citizen_of(event: object) -> str:
    """The person an event's postings are about: its own citizen id, or the
    one its payroll line names ("YYYY-MM-<citizen id>[-F]"); "" if none."""
    line = getattr(event, "line_id", "")
    return getattr(event, "citizen_id", "") or (line[8:20] if line else "")
