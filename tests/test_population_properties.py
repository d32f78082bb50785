"""The population database check as properties: the comparison rule
(pure), and what a reported death does to payment over random histories
(domain level: the same aggregates the commands use)."""
from __future__ import annotations

import unicodedata
from datetime import date, timedelta

from hypothesis import given, strategies as st

from adapters.rulefiles import default_ruleset
from adapters.state_codec import state_from_bytes, state_to_bytes
from ledger import citizen_id as cid
from ledger import payouts
from ledger import population as pop
from ledger.beneficiary import Beneficiary
from ledger.clawback import due_by_month
from ledger.decisions import Decision
from ledger.months import Month, month_range
from ledger.payouts import AgentResult
from ledger.payroll import plan_funeral, plan_line

RULES = default_ruleset()
FIRST = Month.parse("2024-05")

# --- the comparison ------------------------------------------------------------------

# Vietnamese letters with and without their marks, upper and lower case.
LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
words = st.text(st.sampled_from(LETTERS + LETTERS.upper()), min_size=1, max_size=7)
names = st.lists(words, min_size=1, max_size=4).map(" ".join)
identities = st.builds(pop.Identity, names, st.dates(date(1920, 1, 1), date(2020, 12, 31)),
                       st.sampled_from("MF"), st.sampled_from(["20101", "20102", "20103"]))
ON = date(2024, 9, 15)


def _answer(ours: pop.Identity, **changes) -> pop.Answer:
    values = dict(citizen_id="051044001234", status="alive", checked_on=ON, full_name=ours.full_name,
                  birth_date=ours.birth_date, sex=ours.sex, permanent_commune=ours.commune_code)
    values.update(changes)
    return pop.Answer(**values)


def _marks_changed(name: str) -> str:
    """The same letters with the marks stripped and the case flipped: what a
    database without diacritics, or typed in capitals, gives."""
    stripped = "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c))
    return stripped.replace("đ", "d").replace("Đ", "D").swapcase()


@given(identities)
def test_the_same_person_matches(ours):
    assert pop.compare(ours, _answer(ours)) == (pop.MATCHED, ())
    # spaces and the Unicode form in which the name was typed do not count
    typed = "  " + unicodedata.normalize("NFD", ours.full_name).replace(" ", "   ") + " "
    assert pop.compare(ours, _answer(ours, full_name=typed)) == (pop.MATCHED, ())


@given(identities)
def test_a_name_with_other_marks_or_case_is_said_to_differ_only_so(ours):
    other = _marks_changed(ours.full_name)
    result, found = pop.compare(ours, _answer(ours, full_name=other))
    if other == ours.full_name:
        assert (result, found) == (pop.MATCHED, ())
    else:
        assert (result, found) == (pop.DIFFERS, (pop.NAME_MARKS,))


@given(identities, names)
def test_a_name_is_listed_once_as_letters_or_marks_and_the_rule_is_symmetric(ours, theirs):
    found = pop.differences(ours, _answer(ours, full_name=theirs))
    name_fields = [f for f in found if f in (pop.NAME_LETTERS, pop.NAME_MARKS)]
    assert len(name_fields) <= 1
    assert (pop.NAME_LETTERS in found) == (pop.folded_name(theirs) != pop.folded_name(ours.full_name))
    swapped = pop.differences(pop.Identity(theirs, ours.birth_date, ours.sex, ours.commune_code),
                              _answer(ours, full_name=ours.full_name))
    assert swapped == found


@given(identities, st.dates(date(1920, 1, 1), date(2020, 12, 31)), st.sampled_from("MF"),
       st.sampled_from(["20101", "20102", "", "30101"]), st.booleans())
def test_each_field_differs_exactly_when_it_does(ours, born, sex, commune, blank_name):
    answer = _answer(ours, birth_date=born, sex=sex, permanent_commune=commune,
                     full_name="" if blank_name else ours.full_name)
    expected = tuple(f for f, differs in (("birth_date", born != ours.birth_date), ("sex", sex != ours.sex),
                                          ("commune", bool(commune) and commune != ours.commune_code))
                     if differs)
    result, found = pop.compare(ours, answer)
    assert found == expected
    assert result == (pop.DIFFERS if expected else pop.MATCHED)


@given(identities, names, st.booleans())
def test_not_found_and_deceased_come_first(ours, theirs, deceased):
    if deceased:
        result, found = pop.compare(ours, _answer(ours, full_name=theirs, status="deceased",
                                                  date_of_death=date(2024, 8, 1)))
        assert result == pop.DECEASED and found == pop.differences(ours, _answer(ours, full_name=theirs))
    else:
        assert pop.compare(ours, _answer(ours, full_name=theirs, status="not_found")) == (pop.NOT_FOUND, ())


# --- a reported death, held, then confirmed or rejected ---------------------------------------

def _register(channel: str) -> Beneficiary:
    return Beneficiary.register(Decision(
        "R1", FIRST.first_day, "register", cid.make(51, 1935, "F", 7), FIRST, full_name="Bà A",
        birth_date=date(1935, 2, 1), sex="F", province_code="051", commune_code="20101",
        categories=("ELDERLY_80",), channel=channel,
        agent_code="BANK-1" if channel == "bank" else "VNPOST-1",
        bank_account="1234567" if channel == "bank" else ""), "t")


def _pay_month(person: Beneficiary, month: Month, collects: bool) -> list[str]:
    """One payroll round: issue what is owed, the agent reports back;
    returns the ids of the lines issued."""
    issued = []
    for planned in (plan_line(person.state, RULES, month), plan_funeral(person.state, month)):
        if planned:
            person.issue(month, planned, RULES.id, "t")
            issued.append(person.state.book.lines[-1].line_id)
    on = month.first_day + timedelta(days=11)
    for line in person.state.book.lines:
        if line.status != payouts.ISSUED and not (line.status == payouts.UNPAID and collects):
            continue
        bank = line.channel == "bank"
        status = ("credited" if bank else "paid") if collects else ("unpaid" if not bank else None)
        if status is None:
            continue  # the bank keeps it pending
        person.record_result(AgentResult(line.payroll_id, line.line_id, "", status, on, line.amount_vnd,
                                         "beneficiary", source="bank" if bank else "postoffice"), "t")
    return issued


histories = st.fixed_dictionaries({
    "channel": st.sampled_from(["cash", "bank"]),
    "before": st.integers(1, 6),  # payroll rounds before the check
    "held": st.integers(1, 4),  # payroll rounds while the death awaits the officer
    "after": st.integers(1, 3),  # rounds after the decision
    "collects": st.lists(st.booleans(), min_size=13, max_size=13),
    "check_day": st.integers(1, 28),
    "died_days_before": st.integers(0, 400),
    "confirmed": st.booleans(),
})


@given(histories)
def test_a_held_month_is_paid_exactly_once_or_never_once_the_death_is_confirmed(h):
    person = _register(h["channel"])
    collects = iter(h["collects"])
    month = FIRST
    for _ in range(h["before"]):
        _pay_month(person, month, next(collects))
        month += 1
    # The check is made in the month of the last payroll run, after it.
    checked_on = (month - 1).first_day + timedelta(days=h["check_day"] - 1)
    died = max(FIRST.first_day, checked_on - timedelta(days=h["died_days_before"]))
    answer = pop.Answer(person.facts.citizen_id, "deceased", checked_on, "Bà A", date(1935, 2, 1), "F", died, "20101")
    assert pop.check(person, answer, "pop.csv", "t")
    assert not pop.check(person, answer, "pop.csv", "t")  # the same answer again records nothing
    assert pop.is_held(person.state)
    held_months = []
    for _ in range(h["held"]):
        assert _pay_month(person, month, next(collects)) == []  # nothing issued while held
        held_months.append(month)
        month += 1
    outcome = "deceased" if h["confirmed"] else "rejected"
    pop.resolve(person, pop.Resolution(person.facts.citizen_id, outcome, "checked", month.first_day), RULES, "t")
    assert not pop.is_held(person.state)
    after_decision = []
    for _ in range(h["after"]):
        after_decision += _pay_month(person, month, True)  # everything is collected from now on
        month += 1
    book = person.state.book
    allowance = [x for x in book.allowance_lines() if x.status not in (payouts.REJECTED, payouts.CANCELLED)]
    due = due_by_month(person.state, RULES, month)
    for held in held_months:
        covering = [x for x in allowance if held in x.months]
        if h["confirmed"]:
            assert covering == [] and due.get(held, 0) == 0, (held, covering)  # never issued, not due
        else:
            (line,) = covering  # issued once, after the rejection, and collected
            assert line.status == payouts.PAID and line.payroll_month >= held_months[-1] + 1
            assert line.amount_for(held) == due[held] > 0
    if h["confirmed"]:
        death_month = Month.containing(died)
        assert person.facts.death.source == pop.SOURCE
        for line_id in after_decision:
            line = book.line(line_id)
            assert line.kind == payouts.FUNERAL or all(m <= death_month for m in line.months), line
        # and no cash still with the post office pays a month after the death
        assert not [x for x in book.allowance_lines() if x.status in payouts.OPEN and x.channel == "cash"
                    and any(m > death_month for m in x.months)]
    # the snapshot a command restores the person from is this very state
    assert state_from_bytes(state_to_bytes(person.state)) == person.state


@given(st.sampled_from(["cash", "bank"]), st.integers(0, 60), st.integers(1, 3))
def test_a_confirmed_population_death_never_pays_after_the_month_of_death(channel, died_days, rounds):
    person = _register(channel)
    for month in month_range(FIRST, FIRST + 3):
        _pay_month(person, month, True)
    checked_on = (FIRST + 3).first_day + timedelta(days=20)
    died = checked_on - timedelta(days=died_days)
    pop.check(person, pop.Answer(person.facts.citizen_id, "deceased", checked_on, date_of_death=died), "p", "t")
    pop.resolve(person, pop.Resolution(person.facts.citizen_id, "deceased", "confirmed", checked_on), RULES, "t")
    death_month = Month.containing(died)
    for month in month_range(FIRST + 4, FIRST + 3 + rounds):
        for line_id in _pay_month(person, month, True):
            line = person.state.book.line(line_id)
            assert line.kind == payouts.FUNERAL or max(line.months) <= death_month
    disbursed_after = sum(a for m, a in person.state.book.disbursed_by_month().items() if m > death_month)
    recorded_over = person.state.book.overpaid_recorded_vnd
    assert disbursed_after <= recorded_over  # anything collected after the death is to recover
