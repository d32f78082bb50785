"""Every age band and age limit, for birth dates on the 28th, 29th, 30th and
31st (29 February above all: the birthday falls on 28 February in a year
that is not a leap year): the month an age takes effect is exactly what the
month convention says, and the compressed schedule equals the month-by-month
one."""
from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import assume, given, settings, strategies as st

from adapters.rulefiles import default_ruleset
from ledger import citizen_id as cid
from ledger.beneficiary import Beneficiary
from ledger.decisions import Decision
from ledger.entitlement import AGE_LIMIT, age_in_month, due_for_month, segments
from ledger.months import Month, month_range

from .test_entitlement_rules import DOMAIN_TABLE, domain_coefficient

RULES = default_ruleset()

# (code, age) for every age at which a category changes band or ends.
BOUNDARIES = sorted({(code, age) for code, bands in DOMAIN_TABLE.items()
                     for low, high, _ in bands for age in (low, high) if age})


@st.composite
def late_in_month_births(draw, age: int) -> date:
    """A birth date on the 28th to the 31st whose birthday at ``age`` falls
    in 2022-2030 (rules in force); half of them on 29 February."""
    year = draw(st.integers(2022, 2030)) - age
    if draw(st.booleans()):
        leap = next(y for y in range(year, year + 4) if calendar.isleap(y))
        return date(leap, 2, 29)
    month = draw(st.integers(1, 12))
    day = draw(st.integers(28, 31))
    assume(day <= calendar.monthrange(year, month)[1])
    return date(year, month, day)


def _birthday(birth: date, age: int) -> date:
    """Written out apart from the ledger: 29 February is 28 February in a common year."""
    year = birth.year + age
    if (birth.month, birth.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return birth.replace(year=year)


def _convention(code: str, month: Month) -> str:
    rule = RULES.table(month).categories[code]
    return rule.age_convention or RULES.age_convention(month)


def _person(code: str, birth: date, first: Month):
    decision = Decision(
        decision_no="R1", signed_on=first.first_day + timedelta(days=2), kind="register",
        citizen_id=cid.make(51, birth.year, "F", 1), effective=first, full_name="Test Person",
        birth_date=birth, sex="F", province_code="051", commune_code="20101", categories=(code,),
        children_count=1 if code == "SINGLE_PARENT" else 0, channel="cash", agent_code="VNPOST-1")
    return Beneficiary.register(decision, "tester").facts


@settings(max_examples=400, deadline=None)
@given(data=st.data(), boundary=st.sampled_from(BOUNDARIES))
def test_every_age_boundary_takes_effect_in_the_month_the_convention_says(data, boundary):
    code, age = boundary
    birth = data.draw(late_in_month_births(age))
    birthday = _birthday(birth, age)
    convention = _convention(code, Month.containing(birthday))
    # The first month at the new age: the birthday's month, or the month after.
    first_at_age = Month.containing(birthday) + (0 if convention == "birthday_month" else 1)
    assert age_in_month(birth, first_at_age, convention) == age
    assert age_in_month(birth, first_at_age - 1, convention) == age - 1

    first = max(Month.containing(birth), first_at_age - 14)
    facts = _person(code, birth, first)
    before, at = due_for_month(facts, RULES, first_at_age - 1), due_for_month(facts, RULES, first_at_age)
    for due, at_age in ((before, age - 1), (at, age)):
        coefficient = domain_coefficient(code, at_age)
        level = RULES.level("051", due.month)
        assert due.amount_vnd == (int(level * coefficient) if coefficient else 0), (due, at_age)
        if coefficient is None:  # an age limit: the category ends by itself
            assert due.status == AGE_LIMIT
    # The compressed schedule gives the same, month by month.
    runs = segments(facts, RULES)
    for month in month_range(first, first_at_age + 13):
        (run,) = [r for r in runs if r.covers(month)]
        due = due_for_month(facts, RULES, month)
        assert (run.amount_vnd, run.status, run.categories) == (due.amount_vnd, due.status, due.categories), month


def test_a_22nd_birthday_on_28_february_pays_through_february():
    facts = _person("STUDENT_16_22", date(2000, 2, 29), Month.parse("2021-12"))
    feb, mar = (due_for_month(facts, RULES, Month.parse(m)) for m in ("2022-02", "2022-03"))
    assert (feb.amount_vnd, mar.amount_vnd, mar.status) == (int(360_000 * Decimal("1.5")), 0, AGE_LIMIT)
