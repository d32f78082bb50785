"""What an auditor reads off each event: when it took effect, what it rests
on, and its money consequence."""
from __future__ import annotations

from .beneficiary import Beneficiary
from .clawback import due_by_month, named_receiver, received_by
from .money import effect_of
from .months import Month, month_range
from .rules import RuleSet
from .state import BeneficiaryState

B = Beneficiary


def effective_of(event) -> str:
    for name in ("effective", "checked_on", "date_of_death", "payroll_month", "paid_on", "booked_on", "on"):
        value = getattr(event, name, None)
        if value is not None:
            return str(value)
    return ""


def money_consequence(event, before: BeneficiaryState | None, after: BeneficiaryState,
                      rules: RuleSet) -> int | None:
    """Signed VND this event moves or changes; None when it moves no money.

    For a decision or a death notice: the change in what is due over the
    months it reaches, from its effective month through the last month paid
    for (or the effective month alone)."""
    effect = effect_of(event)
    if effect is not None:
        return effect.amount_vnd
    if isinstance(event, (B.DecisionEvent, B.DeathNotified)) and (before is None or after.facts is not before.facts):
        start = getattr(event, "effective", None) or Month.containing(event.date_of_death)
        last = max([start, *after.book.months()])
        new = due_by_month(after, rules, last)
        old = due_by_month(before, rules, last) if before is not None else {}
        return sum(new.get(m, 0) - old.get(m, 0) for m in month_range(start, last))
    return None


def detail_of(event, after: BeneficiaryState | None) -> str:
    """Who received the money, for a payment and an overpayment: named (the
    proxy by name and citizen id), since the office recovers from them."""
    if isinstance(event, B.PayoutPaid) and after is not None:
        return f"received by {named_receiver(after.facts, event.received_by, Month.containing(event.paid_on))}"
    if isinstance(event, B.OverpaymentChanged) and event.received_by:
        names: list[str] = []
        for receiver in event.received_by:
            if receiver == "proxy" and after is not None:  # recorded before proxies were named
                names += sorted({received_by(after.facts, line) for line in after.book.allowance_lines()
                                 if line.detail == "proxy" and line.status == "paid"
                                 and set(line.months) & set(event.months)}) or [receiver]
            else:
                names.append(receiver)
        return "received by " + "; ".join(dict.fromkeys(names))
    return ""
