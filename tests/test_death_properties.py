"""Deaths notified late and back-dated corrections, over random histories
(domain level: the same aggregates the commands use)."""
from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings, strategies as st

from adapters.rulefiles import default_ruleset
from ledger import citizen_id as cid
from ledger import payouts
from ledger.beneficiary import Beneficiary
from ledger.clawback import due_by_month, overpayment
from ledger.decisions import DeathNotice, Decision
from ledger.months import Month, month_range
from ledger.payouts import AgentResult, Recovery
from ledger.payroll import owed_months, plan_funeral, plan_line

RULES = default_ruleset()
FIRST = Month.parse("2024-05")


def _register(channel: str, category: str = "ELDERLY_80") -> Beneficiary:
    return Beneficiary.register(Decision(
        "R1", FIRST.first_day, "register", cid.make(51, 1935, "F", 7), FIRST, full_name="Bà A",
        birth_date=date(1935, 2, 1), sex="F", province_code="051", commune_code="1",
        categories=(category,), channel=channel,
        agent_code="BANK-1" if channel == "bank" else "VNPOST-1",
        bank_account="1234567" if channel == "bank" else ""), "t")


def _pay_month(person: Beneficiary, month: Month, collects: bool) -> None:
    """One payroll round: issue what is owed, the agent reports back."""
    for planned in (plan_line(person.state, RULES, month), plan_funeral(person.state, month)):
        if planned:
            person.issue(month, planned, RULES.id, "t")
    on = month.first_day + timedelta(days=11)
    for line in person.state.book.lines:
        if line.status != payouts.ISSUED and not (line.status == payouts.UNPAID and collects):
            continue
        bank = line.channel == "bank"
        status = ("credited" if bank else "paid") if collects else ("unpaid" if not bank else None)
        if status is None:
            continue  # the bank keeps it pending
        person.record_result(AgentResult(line.payroll_id, line.line_id, "", status, on, line.amount_vnd,
                                         "proxy", source="bank" if bank else "postoffice"), "t")


def _notice(person: Beneficiary, died: date, reported: date, notice_id="N1", corrects="") -> DeathNotice:
    return DeathNotice(notice_id, person.facts.citizen_id, died, "civil_registry", reported,
                       funeral_arranged_by="Con trai", corrects=corrects)


histories = st.fixed_dictionaries({
    "channel": st.sampled_from(["cash", "bank"]),
    "months": st.integers(3, 10),
    "death_offset": st.integers(0, 6),  # month of death, counted from FIRST
    "death_day": st.integers(1, 28),
    "delay": st.integers(0, 6),  # months until the notice reaches the office
    "collects": st.lists(st.booleans(), min_size=10, max_size=10),
})


def _simulate(h: dict, notify_at: int | None = None) -> Beneficiary:
    person = _register(h["channel"])
    died = (FIRST + h["death_offset"]).first_day.replace(day=h["death_day"])
    notify_at = h["death_offset"] + h["delay"] if notify_at is None else notify_at
    for index, month in enumerate(month_range(FIRST, FIRST + h["months"] - 1)):
        if index == notify_at:
            person.notify_death(_notice(person, died, month.first_day), RULES, "t")
        _pay_month(person, month, h["collects"][index])
    if notify_at >= h["months"]:
        person.notify_death(_notice(person, died, (FIRST + h["months"]).first_day), RULES, "t")
    return person


@settings(max_examples=200, deadline=None)
@given(histories)
def test_overpayment_is_what_was_disbursed_after_the_month_of_death(h):
    person = _simulate(h)
    death_month = person.facts.death_month
    book = person.state.book
    disbursed_after = sum(a for m, a in book.disbursed_by_month().items() if m > death_month)
    over = overpayment(person.state, RULES)
    assert over.amount_vnd == disbursed_after
    assert all(m > death_month for m in over.months)
    # Every month after death: cancelled, overpaid, or never issued, exactly once;
    # money still out with a bank (no result yet) is the only other place.
    for month in month_range(death_month + 1, FIRST + h["months"]):
        figures = book.figures(month)
        pending = figures.issued - figures.disbursed - figures.cancelled
        assert figures.disbursed + figures.cancelled + pending == figures.issued
        assert figures.issued in (0, figures.disbursed + figures.cancelled + pending)
        if h["channel"] == "cash":
            assert figures.unclaimed == 0  # open cash is withdrawn once the death is known
        assert figures.disbursed <= 500_000  # never more than one month's amount


@settings(max_examples=150, deadline=None)
@given(histories, st.integers(0, 9))
def test_outcome_does_not_depend_on_when_the_death_became_known(h, early):
    """Known at once or months later: the same amounts stay with the person;
    only the split between cancelled and overpaid differs."""
    h = dict(h, collects=[True] * 10)  # everything issued is collected
    late = _simulate(h)
    at_once = _simulate(h, notify_at=min(early, h["death_offset"] + h["delay"]))
    death_month = late.facts.death_month
    for person in (late, at_once):
        over = dict(zip(overpayment(person.state, RULES).months, overpayment(person.state, RULES).amounts))
        kept = {m: a - over.get(m, 0) for m, a in person.state.book.disbursed_by_month().items()}
        due = due_by_month(person.state, RULES, FIRST + 12)
        for month, amount in kept.items():
            assert amount == (due[month] if month <= death_month else 0)
    assert late.state.book.funeral == at_once.state.book.funeral


@settings(max_examples=150, deadline=None)
@given(histories, st.lists(st.integers(1, 2_000_000), max_size=4))
def test_recovered_never_exceeds_the_overpayment(h, repayments):
    person = _simulate(h)
    from ledger.errors import Refused
    for number, amount in enumerate(repayments):
        try:
            person.record_recovery(Recovery(f"RC{number}", amount, date(2025, 6, 1), "family", "cash"),
                                   RULES, "t")
        except Refused:
            pass
    assert person.state.book.recovered_vnd() <= overpayment(person.state, RULES).amount_vnd


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["cash", "bank"]), st.integers(2, 8), st.integers(1, 6),
       st.sampled_from(["DISABLED_SPECIAL", "ELDERLY_POOR", "ELDERLY_75_MOUNTAIN", "ELDERLY_CARED"]))
def test_back_dated_change_gives_arrears_minus_overpayment_equal_to_the_schedule_difference(
        channel, paid_months, back, category):
    person = _register(channel, category="ELDERLY_POOR")
    months = month_range(FIRST, FIRST + paid_months - 1)
    for month in months:
        _pay_month(person, month, True)
    old_due = due_by_month(person.state, RULES, months[-1])
    effective = months[-1] - min(back, paid_months - 1)
    person.decide(Decision("C1", months[-1].last_day, "change_category", person.facts.citizen_id,
                           effective, categories=(category,)), "t")
    person.correct_payouts(RULES, "C1", "t", on=months[-1].last_day)
    new_due = due_by_month(person.state, RULES, months[-1])
    disbursed = person.state.book.disbursed_by_month()
    arrears = sum(a for _, a in owed_months(person.state, RULES, months[-1]))
    over = overpayment(person.state, RULES).amount_vnd
    assert arrears - over == sum(new_due[m] - old_due[m] for m in disbursed)
