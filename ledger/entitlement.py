"""The entitlement schedule: a pure function from a beneficiary's facts (as
known now) and a rule set to the amount due for each month.

Amount = standard level x coefficient (Decree 20/2021 Art 6(1)). With several
categories only the highest is paid, except additive ones (a single parent
who is also elderly, disabled or has HIV is paid both, Art 6(2)). Age bands are
applied from the birth date: they move by themselves as people age.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from . import facts as f
from .facts import BeneficiaryFacts
from .months import Month, month_range
from .rules import AgeConvention, RuleSet

NOT_YET = "not_registered"
AGE_LIMIT = "age_limit"


@dataclass(frozen=True, slots=True)
class MonthDue:
    month: Month
    amount_vnd: int
    # active, suspended (due but held), terminated, relocated_out, deceased,
    # age_limit (no category applies at this age), not_registered
    status: str
    categories: tuple[str, ...]  # the categories decided and in force
    paying: tuple[str, ...] = ()  # those of them that pay this month
    streams: tuple[tuple[str, int], ...] = ()

    @property
    def held(self) -> bool:
        return self.status == f.SUSPENDED

    @property
    def payable_vnd(self) -> int:
        """What may be issued for the month now (nothing while suspended)."""
        return 0 if self.held else self.amount_vnd


@dataclass(frozen=True, slots=True)
class Segment:
    """Consecutive months with the same entitlement; ``last`` None = open."""

    first: Month
    last: Month | None
    amount_vnd: int
    status: str
    categories: tuple[str, ...]

    def covers(self, month: Month) -> bool:
        return self.first <= month and (self.last is None or month <= self.last)


def birthday_in(birth_date: date, year: int) -> date:
    """The birthday in a year: 29 February falls on 28 February in a year
    that is not a leap year (domain.md, "Birthdays on 29 February")."""
    if birth_date.month == 2 and birth_date.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return birth_date.replace(year=year)


def age_in_month(birth_date: date, month: Month, convention: AgeConvention) -> int:
    """Age used for a month: with 'month_after' a birthday counts from the
    month after it; with 'birthday_month' from the month of the birthday."""
    day = month.last_day if convention == "birthday_month" else (month - 1).last_day
    years = day.year - birth_date.year
    if day < birthday_in(birth_date, day.year):
        years -= 1
    return years


def due_for_month(facts: BeneficiaryFacts, rules: RuleSet, month: Month) -> MonthDue:
    if month < facts.first_month:
        return MonthDue(month, 0, NOT_YET, ())
    status = facts.status_at(month)
    category_fact = facts.categories.at(month)
    decided = category_fact.categories if category_fact else ()
    if status in (f.TERMINATED, f.RELOCATED_OUT, f.DECEASED):
        return MonthDue(month, 0, status, decided)
    residence = facts.residences.at(month)
    table = rules.table(month)
    level = rules.level(residence.province_code, month) if residence else None
    if category_fact is None or table is None or level is None:
        return MonthDue(month, 0, status, decided)

    best: dict[str, tuple[int, str | None]] = {}  # stream -> (amount, code)
    additive: dict[str, int] = {}
    paying: list[str] = []
    implicit = [code for code, rule in table.categories.items()
                if rule.implicit_for and set(rule.implicit_for) & set(category_fact.categories)]
    for code in (*category_fact.categories, *implicit):
        rule = table.categories.get(code)
        if rule is None:
            continue  # a code the rules in force do not know pays nothing
        convention = rule.age_convention or rules.age_convention(month)
        coefficient = rule.coefficient_at(age_in_month(facts.birth_date, month, convention))
        if coefficient is None:
            continue  # outside the category's ages: it ends by itself
        times = category_fact.children_count if rule.per_child else 1
        amount = rules.amount_vnd(level, rule, coefficient, times)
        if rule.additive:
            additive[rule.stream] = additive.get(rule.stream, 0) + amount
            paying.append(code)
        elif amount > best.get(rule.stream, (-1, None))[0]:
            best[rule.stream] = (amount, code)

    paying += [code for _, code in best.values() if code is not None]
    stream_names = sorted(set(best) | set(additive))
    streams = tuple(
        (name, best.get(name, (0, None))[0] + additive.get(name, 0)) for name in stream_names
    )
    total = sum(amount for _, amount in streams)
    if total == 0 and status == f.ACTIVE:
        status = AGE_LIMIT
    ordered = tuple(code for code in (*decided, *implicit) if code in paying)
    return MonthDue(month, total, status, decided, ordered, streams)


def schedule(facts: BeneficiaryFacts, rules: RuleSet, first: Month, last: Month) -> list[MonthDue]:
    return [due_for_month(facts, rules, month) for month in month_range(first, last)]


def _birthday_months(birth_date: date, ages: set[int]) -> set[Month]:
    """The months in which an age boundary can take effect: the month of
    the birthday and the month after it (either convention)."""
    months = set()
    for age in ages:
        birthday_month = Month.containing(birthday_in(birth_date, birth_date.year + age))
        months |= {birthday_month, birthday_month + 1}
    return months


def change_months(facts: BeneficiaryFacts, rules: RuleSet) -> list[Month]:
    """Every month in which the schedule may change, from the first month on."""
    candidates = facts.fact_months() | rules.change_months()
    codes = frozenset(c for fact in facts.categories.facts for c in fact.categories)
    codes |= frozenset(code for table in rules.coefficient_tables for code, rule in table.categories.items()
                       if set(rule.implicit_for) & codes)
    candidates |= _birthday_months(facts.birth_date, rules.age_boundaries(codes))
    return sorted(m for m in candidates if m >= facts.first_month)


# The version of the schedule's own rules (this module and the facts' status
# rules): part of the memo's key, so a schedule memoised by an earlier
# version of the code (kept in a write-side snapshot) is computed again.
SCHEDULE_VERSION = "4"


def schedule_key(rules: RuleSet) -> str:
    """What a memoised schedule was computed under: code and rules."""
    return f"{SCHEDULE_VERSION}:{rules.fingerprint()}"


def segments(facts: BeneficiaryFacts, rules: RuleSet) -> list[Segment]:
    """The whole schedule, compressed into runs of equal months; the last run
    is open-ended. Equal to ``due_for_month`` for every month.

    Memoised on the facts value (facts never change in place; every change
    makes a new value without the memo), keyed by ``schedule_key``."""
    fingerprint = schedule_key(rules)
    memo = facts.schedule_memo
    if memo is not None and memo[0] == fingerprint:
        return list(memo[1])
    runs = _compute_segments(facts, rules)
    object.__setattr__(facts, "schedule_memo", (fingerprint, tuple(runs)))
    return runs


def _compute_segments(facts: BeneficiaryFacts, rules: RuleSet) -> list[Segment]:
    starts = change_months(facts, rules)
    runs: list[Segment] = []
    for index, start in enumerate(starts):
        due = due_for_month(facts, rules, start)
        last = starts[index + 1] - 1 if index + 1 < len(starts) else None
        previous = runs[-1] if runs else None
        if previous and (previous.amount_vnd, previous.status, previous.categories) == (
            due.amount_vnd, due.status, due.categories
        ):
            runs[-1] = Segment(previous.first, last, due.amount_vnd, due.status, due.categories)
        else:
            runs.append(Segment(start, last, due.amount_vnd, due.status, due.categories))
    return runs
