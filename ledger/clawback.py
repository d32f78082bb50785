"""Corrections derived from the facts as known now, never typed in (the
NAV way): recompute what each month is due and compare with what was paid.

- An open cash line (still with the post office) that pays more than is now
  due for any of its months is cancelled: the agent returns the cash at
  settlement, and whatever is still due is issued again as arrears.
- Money already collected or credited beyond what is due is an overpayment
  to recover, month by month, from whoever received it.

Deaths and back-dated decisions go through the same mechanism."""
from __future__ import annotations

from dataclasses import dataclass

from .entitlement import segments
from .facts import BeneficiaryFacts
from .months import Month, month_range
from .payouts import OPEN, PAID, FUNERAL, PayLine
from .rules import RuleSet
from .state import BeneficiaryState


def due_by_month(state: BeneficiaryState, rules: RuleSet, last: Month) -> dict[Month, int]:
    """What each month is due as known now (held months included: a
    suspension holds payment, it does not take the entitlement away)."""
    due: dict[Month, int] = {}
    for run in segments(state.facts, rules):
        if run.first > last:
            break
        for month in month_range(run.first, min(run.last or last, last)):
            due[month] = run.amount_vnd
    return due


def _last_month(state: BeneficiaryState) -> Month | None:
    return max(state.book.months(), default=None)


def lines_to_cancel(state: BeneficiaryState, rules: RuleSet) -> list[PayLine]:
    last = _last_month(state)
    if last is None:
        return []
    due = due_by_month(state, rules, last)
    net = state.book.net_issued_by_month()
    return [line for line in state.book.allowance_lines()
            if line.status in OPEN and line.channel == "cash"
            and any(net.get(m, 0) > due.get(m, 0) for m in line.months)]


@dataclass(frozen=True, slots=True)
class Overpayment:
    months: tuple[Month, ...]
    amounts: tuple[int, ...]  # VND per month, disbursed beyond what is due
    received_by: tuple[str, ...]  # who collected: beneficiary, proxy, or the account credited

    @property
    def amount_vnd(self) -> int:
        return sum(self.amounts)


def overpayment(state: BeneficiaryState, rules: RuleSet) -> Overpayment:
    last = _last_month(state)
    if last is None:
        return Overpayment((), (), ())
    due = due_by_month(state, rules, last)
    months, amounts, receivers = [], [], set()
    for month, paid in sorted(state.book.disbursed_by_month().items()):
        excess = paid - due.get(month, 0)
        if excess > 0:
            months.append(month)
            amounts.append(excess)
            for line in state.book.allowance_lines():
                if line.status == PAID and month in line.months:
                    receivers.add(received_by(state.facts, line))
    return Overpayment(tuple(months), tuple(amounts), tuple(sorted(receivers)))


def received_by(facts: BeneficiaryFacts, line: PayLine) -> str:
    """Who got a paid line's money, named so the office can recover from
    them: the proxy in force when it was paid (name and citizen id), the
    account credited, or the beneficiary."""
    when = Month.containing(line.settled_on) if line.settled_on else line.payroll_month
    if line.channel == "bank":
        channel = facts.channels.at(line.payroll_month) or facts.channels.latest()
        account = channel.bank_account if channel and channel.agent_code == line.agent_code else ""
        return f"bank account {account} at {line.agent_code}" if account else f"bank account at {line.agent_code}"
    return named_receiver(facts, line.detail, when)


def named_receiver(facts: BeneficiaryFacts, role: str, month: Month) -> str:
    """The person behind an agent's "proxy": the proxy authorised in that
    month, by name and citizen id."""
    if role != "proxy":
        return role or "beneficiary"
    proxy = facts.proxies.at(month)
    if proxy is None or not proxy.proxy_name:
        return "proxy (none authorised)"
    return f"proxy {proxy.proxy_name} ({proxy.proxy_citizen_id})" if proxy.proxy_citizen_id \
        else f"proxy {proxy.proxy_name}"


def open_overpayment_vnd(state: BeneficiaryState, rules: RuleSet) -> int:
    return overpayment(state, rules).amount_vnd - state.book.recovered_vnd()


def funeral_to_issue_vnd(state: BeneficiaryState) -> int:
    """Funeral support granted and not yet issued, less what was offset
    against an overpayment by decision."""
    grant = state.book.funeral
    if grant is None:
        return 0
    issued = sum(x.amount_vnd for x in state.book.lines
                 if x.kind == FUNERAL and x.status not in ("cancelled", "rejected"))
    offsets = sum(r.amount_vnd for r in state.book.recoveries if r.method == "offset")
    return max(0, grant.amount_vnd - offsets - issued)
