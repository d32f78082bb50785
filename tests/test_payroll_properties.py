"""Payroll invariants over random histories of months, payrolls and agent
results (domain level: the same aggregates the commands use)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import example, given, settings, strategies as st

from adapters.rulefiles import default_ruleset
from ledger import citizen_id as cid
from ledger import payouts
from ledger import payroll as payroll_module
from ledger.beneficiary import Beneficiary
from ledger.decisions import Decision
from ledger.months import Month, month_range
from ledger.payouts import AgentResult
from ledger.payroll import payable_by_month, plan_line
from adapters.state_codec import state_from_bytes, state_to_bytes

RULES = default_ruleset()
START = Month.parse("2024-05")


def make_person(serial: int, birth: date, channel: str, start: Month, category: str) -> Beneficiary:
    decision = Decision(
        f"R{serial}", start.first_day, "register", cid.make(51, birth.year, "M", serial), start,
        full_name=f"P{serial}", birth_date=birth, sex="M", province_code="051", commune_code="1",
        categories=(category,),
        channel=channel, agent_code="BANK-1" if channel == "bank" else "VNPOST-1",
        bank_account="12345678" if channel == "bank" else "")
    return Beneficiary.register(decision, "t")


@st.composite
def person(draw, serial: int) -> Beneficiary:
    birth = draw(st.dates(date(1925, 1, 1), date(1960, 12, 31)))
    channel = draw(st.sampled_from(["cash", "bank"]))
    start = START + draw(st.integers(-3, 3))
    category = draw(st.sampled_from(["ELDERLY_POOR", "DISABLED_SEVERE", "ELDERLY_CARED"]))
    return make_person(serial, birth, channel, start, category)


# What happens to a person in a month: how they react to lines, and decisions.
month_action = st.fixed_dictionaries({
    "collect": st.sampled_from(["all", "none", "none", "reject", "late"]),
    "decision": st.sampled_from([None, None, None, "suspend", "resume", "raise_category"]),
})


def _result(line, status: str, on: date, code: str = "") -> AgentResult:
    return AgentResult(line.payroll_id, line.line_id, "", status, on, line.amount_vnd,
                       "beneficiary", reason_code=code, source="bank" if line.channel == "bank" else "postoffice")


def _decide(person: Beneficiary, kind: str, month: Month, serial: int) -> None:
    citizen = person.facts.citizen_id
    if kind == "raise_category":  # back-dated: effective two months ago
        person.decide(Decision(f"C{serial}", month.first_day, "change_category", citizen, month - 2,
                               categories=("ELDERLY_CARED",)), "t")  # 3.0: the highest
    else:
        person.decide(Decision(f"S{serial}", month.first_day, kind, citizen, month, reason="x"), "t")


def tricky_case() -> tuple:
    """A bank transfer rejected (AC04) then re-issued on the new account, and
    a cash person who collects nothing, is suspended, resumed with a
    back-dated raise, and collects late: held months paid once as arrears."""
    people = (make_person(1, date(1940, 5, 17), "bank", START, "ELDERLY_POOR"),
              make_person(2, date(1950, 1, 31), "cash", START - 2, "DISABLED_SEVERE"))
    act = lambda collect, decision=None: {"collect": collect, "decision": decision}  # noqa: E731
    plan = [[act("reject"), act("none")],
            [act("all"), act("none", "suspend")],
            [act("all", "raise_category"), act("late", "resume")],
            [act("all"), act("all", "raise_category")]]
    return people, plan


@settings(max_examples=120, deadline=None)
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(
    st.tuples(*[person(i + 1) for i in range(n)]),
    st.lists(st.lists(month_action, min_size=n, max_size=n), min_size=1, max_size=8))))
@example(tricky_case())
def test_payroll_invariants(case):
    """Catches: a month issued again although it was issued and not
    withdrawn (e.g. a planner that ignores the book), a held month paid
    while suspended, a rejected bank line never re-issued after the change
    of channel."""
    people, plan = case
    for offset, actions in enumerate(plan):
        month = START + offset
        for serial, (p, action) in enumerate(zip(people, actions)):
            if action["decision"]:
                _decide(p, action["decision"], month, offset * 100 + serial)
            before = p.state.book.net_issued_by_month()
            planned = plan_line(p.state, RULES, month)
            if planned is not None:
                payable = payable_by_month(p.state, RULES, month)
                for m, amount in zip(planned.months, planned.amounts):
                    # Nothing is issued for a month that is not due, or beyond what is due.
                    assert p.facts.first_month <= m <= month
                    assert 0 < amount == payable[m] - before.get(m, 0)
                p.issue(month, planned, RULES.id, "t")
            # Agent results for every line without one yet (and late collections).
            paid_on = month.first_day + timedelta(days=12)
            for line in p.state.book.open_lines():
                if line.status == payouts.UNPAID and action["collect"] != "late":
                    continue
                if action["collect"] in ("all", "late"):
                    p.record_result(_result(line, "credited" if line.channel == "bank" else "paid",
                                            paid_on), "t")
                elif action["collect"] == "reject" and line.channel == "bank":
                    p.record_result(_result(line, "rejected", paid_on, "AC04"), "t")
                    # The office decides a new channel: a fresh account.
                    p.decide(Decision(f"CH{offset}{serial}", month.first_day, "change_channel",
                                      p.facts.citizen_id, month + 1, channel="bank",
                                      agent_code="BANK-1", bank_account=f"99{offset}{serial}000"), "t")
                elif line.channel == "cash" and line.status == payouts.ISSUED:
                    p.record_result(_result(line, "unpaid", None), "t")
        for p in people:
            _check_book(p, month)


def _check_book(p: Beneficiary, last: Month) -> None:
    # The read model keeps this state as JSON and restores aggregates from it.
    assert state_from_bytes(state_to_bytes(p.state)) == p.state
    book = p.state.book
    payable = payable_by_month(p.state, RULES, last)
    for month in month_range(START - 3, last):
        figures = book.figures(month)
        # Conservation, month by month.
        assert figures.issued == figures.disbursed + figures.unclaimed + figures.cancelled
        # Never disbursed twice (or more than due): back-dated rises only add.
        assert figures.disbursed <= payable.get(month, 0) or figures.disbursed == 0
        assert figures.issued - figures.cancelled <= max(payable.get(month, 0), 0) or \
            p.facts.status_at(month) == "suspended"
    # Lines are unique.
    ids = [x.line_id for x in book.lines]
    assert len(ids) == len(set(ids))


@settings(max_examples=60, deadline=None)
@given(person(1), st.integers(1, 5), st.integers(1, 4))
@example(make_person(1, date(1944, 12, 31), "bank", START - 3, "ELDERLY_POOR"), 5, 1)
def test_suspended_months_are_paid_once_as_arrears_after_resumption(p, suspended_count, later):
    """A resumption pays every held month exactly once, and nothing twice.

    Catches: held months dropped at the resumption, or paid both while held
    and again as arrears."""
    suspend_at = START + 1
    months = month_range(START - 3, suspend_at + suspended_count + later)
    for month in months:
        if month == suspend_at:
            _decide(p, "suspend", month, 1)
        if month == suspend_at + suspended_count:
            _decide(p, "resume", month, 2)
        planned = plan_line(p.state, RULES, month)
        if planned:
            p.issue(month, planned, RULES.id, "t")
            line = p.state.book.lines[-1]
            p.record_result(_result(line, "credited" if line.channel == "bank" else "paid",
                                    month.first_day + timedelta(days=10)), "t")
    last = months[-1]
    payable = payable_by_month(p.state, RULES, last)
    net = p.state.book.net_issued_by_month()
    for month in month_range(p.facts.first_month, last):
        assert net.get(month, 0) == payable[month], month  # every month paid, exactly once
    assert plan_line(p.state, RULES, last) is None


def test_a_planner_that_ignores_what_was_issued_is_caught(monkeypatch):
    """Broken variant: every payable month is owed again at each payroll."""
    monkeypatch.setattr(payroll_module, "owed_months", lambda state, rules, last: [
        (m, a) for m, a in sorted(payable_by_month(state, rules, last).items()) if a > 0])
    with pytest.raises(AssertionError):
        test_payroll_invariants.hypothesis.inner_test(tricky_case())


def test_a_planner_without_arrears_is_caught(monkeypatch):
    """Broken variant: no arrears, only the payroll month itself is owed."""
    real = payroll_module.owed_months

    def broken(state, rules, last):
        return [(m, a) for m, a in real(state, rules, last) if m == last]

    monkeypatch.setattr(payroll_module, "owed_months", broken)
    with pytest.raises(AssertionError):
        test_suspended_months_are_paid_once_as_arrears_after_resumption.hypothesis.inner_test(
            make_person(1, date(1940, 5, 17), "cash", START, "ELDERLY_POOR"), 2, 1)
