"""The entitlement schedule against the rules of domain.md (Decree 20/2021)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import random

import pytest
from hypothesis import example, given, settings, strategies as st

from adapters.rulefiles import default_ruleset, load_ruleset, DEFAULT_RULESET
from ledger import entitlement
from ledger.beneficiary import Beneficiary
from ledger.decisions import Decision
from ledger.entitlement import age_in_month, due_for_month, schedule, segments
from ledger.facts import DeathFact
from ledger.months import Month, month_range
from ledger.rules import LevelEntry, RuleSet

from .strategies import FIRST, LAST, history, months

RULES = default_ruleset()

# The coefficient table of domain.md, written out independently of the rule
# file: (code) -> list of (min_age, max_age or None, coefficient).
DOMAIN_TABLE = {
    "ORPHAN": [(0, 4, "2.5"), (4, 16, "1.5")],
    "STUDENT_16_22": [(16, 22, "1.5")],
    "HIV_CHILD": [(0, 4, "2.5"), (4, 16, "2.0")],
    "SINGLE_PARENT": [(0, None, "1.0")],
    "ELDERLY_POOR": [(60, 80, "1.5"), (80, None, "2.0")],
    "ELDERLY_75_MOUNTAIN": [(75, 80, "1.0")],
    "ELDERLY_80": [(80, None, "1.0")],
    "ELDERLY_CARED": [(60, None, "3.0")],
    "DISABLED_SPECIAL": [(0, 16, "2.5"), (16, 60, "2.0"), (60, None, "2.5")],
    "DISABLED_SEVERE": [(0, 16, "2.0"), (16, 60, "1.5"), (60, None, "2.0")],
    "CHILD_U3_MOUNTAIN": [(0, 3, "1.5")],
    "HIV_ADULT": [(16, None, "1.5")],
}


def domain_coefficient(code: str, age: int) -> Decimal | None:
    for low, high, coefficient in DOMAIN_TABLE[code]:
        if low <= age and (high is None or age < high):
            return Decimal(coefficient)
    return None


def build(reg: Decision, later: list[Decision]) -> Beneficiary:
    aggregate = Beneficiary.register(reg, "tester")
    for decision in later:
        aggregate.decide(decision, "tester")
    return aggregate


def expected_amount(facts, month: Month, rules: RuleSet = RULES) -> int:
    """level x the highest coefficient, plus the single-parent sum."""
    category_fact = facts.categories.at(month)
    level = rules.level(facts.residences.at(month).province_code, month)
    best, single_parent = Decimal(0), Decimal(0)
    for code in category_fact.categories:
        convention = "birthday_month" if code == "ELDERLY_80" else "month_after"
        coefficient = domain_coefficient(code, age_in_month(facts.birth_date, month, convention))
        if coefficient is None:
            continue
        if code == "SINGLE_PARENT":
            single_parent = coefficient * category_fact.children_count
        else:
            best = max(best, coefficient)
    return int(level * (best + single_parent))


def _reg(birth: str, start: str, categories: tuple[str, ...], children: int = 0, province: str = "051") -> Decision:
    born, first = date.fromisoformat(birth), Month.parse(start)
    from ledger import citizen_id as cid
    return Decision("R1", first.first_day, "register", cid.make(51, born.year, "F", 1), first,
                    full_name="X", birth_date=born, sex="F", province_code=province, commune_code="1",
                    categories=categories, children_count=children, channel="cash", agent_code="A")


def _later(kind: str, reg: Decision, number: int, effective: str, signed: str, **extra) -> Decision:
    return Decision(f"D{number}", date.fromisoformat(signed), kind, reg.citizen_id, Month.parse(effective),
                    reason="test" if kind in ("suspend", "resume", "terminate") else "", **extra)


ELDER_80 = _reg("1944-08-10", "2024-07", ("ELDERLY_80",))  # 80 in 2024-08: paid from that month
ORPHAN_TURNING_4 = _reg("2020-03-15", "2021-07", ("ORPHAN",))  # 2.5 -> 1.5 from 2024-04
SINGLE_PARENT_DISABLED = _reg("1990-01-01", "2024-07", ("SINGLE_PARENT", "DISABLED_SEVERE"), children=2)
# Suspended and resumed with the same effective month: signing order decides.
SUSPEND_RESUME = (ORPHAN_TURNING_4, [
    _later("resume", ORPHAN_TURNING_4, 2, "2024-09", "2024-09-20"),
    _later("suspend", ORPHAN_TURNING_4, 1, "2024-09", "2024-09-01")])
# Back-dated reassessment, relocated out and back in.
MOVED_AND_REASSESSED = (SINGLE_PARENT_DISABLED, [
    _later("reassess_disability", SINGLE_PARENT_DISABLED, 1, "2024-08", "2025-01-10",
           categories=("SINGLE_PARENT", "DISABLED_SPECIAL"), children_count=2),
    _later("relocate_out", SINGLE_PARENT_DISABLED, 2, "2024-11", "2024-10-20"),
    _later("relocate_in", SINGLE_PARENT_DISABLED, 3, "2025-03", "2025-03-01",
           province_code="051", commune_code="2")])


@settings(max_examples=300, deadline=None)
@given(history(), months)
@example((ELDER_80, []), Month.parse("2024-08"))
@example((ORPHAN_TURNING_4, []), Month.parse("2024-04"))
@example((SINGLE_PARENT_DISABLED, []), Month.parse("2024-07"))
def test_amount_is_level_times_highest_coefficient(hist, month):
    """Catches: ELDERLY_80 paid from the month after the 80th birthday
    instead of the birthday month (2024-08 due 500,000, not 0); the single
    parent's per-child amount not added on top (1,750,000)."""
    facts = build(*hist).facts
    due = due_for_month(facts, RULES, month)
    if due.status in ("active", "suspended", "age_limit"):
        assert due.amount_vnd == expected_amount(facts, month)
    else:
        assert due.amount_vnd == 0


@settings(max_examples=200, deadline=None)
@given(history(), st.dates(date(2021, 7, 1), date(2027, 12, 31)))
@example((ELDER_80, []), date(2024, 8, 31))
@example(MOVED_AND_REASSESSED, date(2024, 9, 1))
def test_nothing_due_before_first_month_or_after_month_of_death(hist, death_day):
    """Catches: the month after a death on the last day of a month still
    paid, or a back-dated decision reviving months after the death."""
    facts = build(*hist).facts
    facts = facts.with_death(DeathFact(death_day, "N1", "civil_registry", death_day))
    for due in schedule(facts, RULES, FIRST, LAST):
        if due.month < facts.first_month or due.month > Month.containing(death_day):
            assert due.amount_vnd == 0, due
        if due.month < facts.first_month:
            assert due.status == "not_registered"


def _with_level(rules: RuleSet, province: str, start: Month, amount: int) -> RuleSet:
    levels = [e for e in rules.levels if not (e.province == province and e.effective_from == start.first_day)]
    levels.append(LevelEntry(province=province, effective_from=start.first_day, amount_vnd=amount, source="test"))
    return rules.model_copy(update={"levels": levels})


@settings(max_examples=150, deadline=None)
@given(history(), months, st.integers(0, 400_000), st.sampled_from(["*", "051"]))
@example((ORPHAN_TURNING_4, []), Month.parse("2024-07"), 1, "051")
@example(MOVED_AND_REASSESSED, Month.parse("2021-07"), 400_000, "*")
def test_raising_the_level_never_lowers_an_amount(hist, start, raise_vnd, province):
    """Catches: a provincial level taken over the national one even when
    lower (the higher applies), or a raise applied to the wrong months."""
    facts = build(*hist).facts
    current = RULES.level(province if province != "*" else "001", start)
    raised = _with_level(RULES, province, start, current + raise_vnd)
    # Later entries stay in force: raising from `start` means every level
    # from then on, so raise the later ones too.
    for entry in RULES.levels:
        if entry.effective_from > start.first_day:
            raised = _with_level(raised, entry.province, Month.containing(entry.effective_from),
                                 entry.amount_vnd + raise_vnd)
    for month in month_range(FIRST, LAST):
        assert due_for_month(facts, raised, month).amount_vnd >= due_for_month(facts, RULES, month).amount_vnd


@settings(max_examples=150, deadline=None)
@given(history(), months, st.integers(100_000, 2_000_000), st.booleans())
@example((ORPHAN_TURNING_4, []), Month.parse("2024-07"), 100_000, True)
@example(MOVED_AND_REASSESSED, Month.parse("2024-08"), 2_000_000, False)
def test_a_rule_change_from_m_leaves_earlier_months_unchanged(hist, start, amount, change_table):
    """Catches: a coefficient table or level looked up by the latest entry
    instead of the one in force in the month."""
    facts = build(*hist).facts
    if change_table:
        table = RULES.coefficient_tables[0]
        shifted = {code: rule.model_copy(update={"bands": [b.model_copy(update={"coefficient": b.coefficient + 1})
                                                          for b in rule.bands]})
                   for code, rule in table.categories.items()}
        candidate = RULES.model_copy(update={"coefficient_tables": [
            *RULES.coefficient_tables,
            table.model_copy(update={"effective_from": start.first_day, "categories": shifted})]})
    else:
        candidate = _with_level(RULES, "*", start, amount)
    for month in month_range(FIRST, start - 1):
        assert due_for_month(facts, candidate, month) == due_for_month(facts, RULES, month)


@settings(max_examples=150, deadline=None)
@given(history(max_later=6), st.randoms(use_true_random=False))
@example(SUSPEND_RESUME, random.Random(1))  # Random(1) swaps two decisions
@example(MOVED_AND_REASSESSED, random.Random(1))
def test_schedule_does_not_depend_on_recording_order(hist, rnd):
    """Catches: facts ordered by arrival instead of (effective month,
    signing date, decision number): a suspension signed before a
    resumption of the same month, recorded after it, would win."""
    reg, later = hist
    shuffled = list(later)
    rnd.shuffle(shuffled)
    one, other = build(reg, later).facts, build(reg, shuffled).facts
    assert schedule(one, RULES, FIRST, LAST) == schedule(other, RULES, FIRST, LAST)


@settings(max_examples=200, deadline=None)
@given(history(max_later=6))
@example(MOVED_AND_REASSESSED)
@example(SUSPEND_RESUME)
def test_segments_equal_the_month_by_month_schedule(hist):
    """Catches: a run not split where an age band, a level or a status
    changes (the orphan's 2024-04 and 2024-07, the move out and back in)."""
    facts = build(*hist).facts
    runs = segments(facts, RULES)
    assert runs[-1].last is None
    for run, following in zip(runs, runs[1:]):
        assert run.last + 1 == following.first
    for due in schedule(facts, RULES, facts.first_month, LAST + 120):
        run = next(r for r in runs if r.covers(due.month))
        assert (run.amount_vnd, run.status, run.categories) == (due.amount_vnd, due.status, due.categories)


# --- worked examples ------------------------------------------------------------------

def _person(birth: str, categories: tuple[str, ...], start: str = "2021-07", **extra) -> Beneficiary:
    birth_date = date.fromisoformat(birth)
    from ledger import citizen_id as cid
    return Beneficiary.register(Decision(
        "1/QĐ", Month.parse(start).first_day, "register",
        cid.make(51, birth_date.year, "F", 1), Month.parse(start), full_name="X",
        birth_date=birth_date, sex="F", province_code="051", commune_code="1",
        categories=categories, channel="cash", agent_code="A", **extra), "t")


def _amounts(person: Beneficiary, *months: str) -> list[int]:
    return [due_for_month(person.facts, RULES, Month.parse(m)).amount_vnd for m in months]


def test_orphan_turning_4_and_16():
    orphan = _person("2020-03-15", ("ORPHAN",))
    # 2.5 x 360,000 until the month after the 4th birthday, then 1.5; the level rises in 2024-07.
    assert _amounts(orphan, "2024-03", "2024-04", "2024-07") == [900_000, 540_000, 750_000]
    assert _amounts(orphan, "2036-03", "2036-04") == [750_000, 0]
    assert due_for_month(orphan.facts, RULES, Month.parse("2036-04")).status == "age_limit"


def test_disabled_child_turning_16_and_elderly_turning_80():
    child = _person("2008-05-20", ("DISABLED_SEVERE",))
    assert _amounts(child, "2024-05", "2024-06", "2024-07") == [720_000, 540_000, 750_000]
    elder = _person("1944-08-10", ("ELDERLY_POOR",))
    assert _amounts(elder, "2024-08", "2024-09") == [750_000, 1_000_000]


def test_elderly_80_starts_in_the_birthday_month():
    person = _person("1944-08-10", ("ELDERLY_80",), start="2024-07")
    assert _amounts(person, "2024-07", "2024-08") == [0, 500_000]


def test_single_parent_who_is_disabled_is_paid_both():
    person = _person("1990-01-01", ("SINGLE_PARENT", "DISABLED_SEVERE"), start="2024-07", children_count=2)
    assert _amounts(person, "2024-07") == [500_000 * 2 + 750_000]
    other = _person("1950-01-01", ("ELDERLY_POOR", "DISABLED_SPECIAL"), start="2024-07")
    assert _amounts(other, "2024-07") == [1_250_000]  # only the highest


def test_back_dated_decision_changes_past_months():
    person = _person("1980-01-01", ("DISABLED_SEVERE",), start="2024-01")
    assert _amounts(person, "2024-03") == [540_000]
    person.decide(Decision("2/QĐ", date(2024, 9, 1), "reassess_disability", person.facts.citizen_id,
                           Month.parse("2024-02"), categories=("DISABLED_SPECIAL",)), "t")
    assert _amounts(person, "2024-01", "2024-03", "2024-09") == [540_000, 720_000, 1_000_000]


def test_suspended_months_are_due_but_held():
    person = _person("1940-01-01", ("ELDERLY_80",), start="2024-07")
    person.decide(Decision("2", date(2024, 9, 1), "suspend", person.facts.citizen_id,
                           Month.parse("2024-09"), reason="unclaimed"), "t")
    due = due_for_month(person.facts, RULES, Month.parse("2024-10"))
    assert (due.amount_vnd, due.held, due.payable_vnd) == (500_000, True, 0)


def test_shipped_rule_file_validates_and_a_bad_one_is_refused(tmp_path):
    assert load_ruleset(DEFAULT_RULESET).level("051", Month.parse("2024-07")) == 500_000
    bad = tmp_path / "bad.toml"
    bad.write_text(DEFAULT_RULESET.read_text().replace('amount_vnd = 500000', 'amount_vnd = -5'))
    from adapters.rulefiles import RuleFileError
    with pytest.raises(RuleFileError, match="amount_vnd"):
        load_ruleset(bad)


def test_a_copied_rule_set_does_not_share_lookups():
    month = Month.parse("2025-01")
    assert RULES.level("051", month) == 500_000
    copy = _with_level(RULES, "*", month, 600_000)
    assert (copy.level("051", month), RULES.level("051", month)) == (600_000, 500_000)


def test_an_age_convention_ignored_is_caught(monkeypatch):
    """Broken variant: every category counts a birthday from the month after."""
    real = entitlement.age_in_month
    monkeypatch.setattr(entitlement, "age_in_month", lambda born, month, convention: real(born, month, "month_after"))
    with pytest.raises(AssertionError):
        test_amount_is_level_times_highest_coefficient.hypothesis.inner_test((ELDER_80, []), Month.parse("2024-08"))


def test_the_suspend_resume_example_does_depend_on_signing_order():
    """The example is a real trap: by arrival the schedule would differ."""
    reg, later = SUSPEND_RESUME
    assert later[0].signed_on > later[1].signed_on  # recorded first, signed last
    resumed = build(reg, later).facts
    assert due_for_month(resumed, RULES, Month.parse("2024-09")).status == "active"
    suspended_only = build(reg, later[1:]).facts
    assert due_for_month(suspended_only, RULES, Month.parse("2024-09")).status == "suspended"
