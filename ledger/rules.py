"""Rule sets as data: standard levels, coefficients, age conventions,
unclaimed thresholds and funeral support, each entry with the date it takes
effect and its legal source. A new decree is a new entry in a rule file.

The models validate rule files (pydantic); lookups pick the entry in force.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Literal, Sequence, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .months import Month

AgeConvention = Literal["birthday_month", "month_after"]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LevelEntry(_Rule):
    """Standard level (mức chuẩn) in VND per month, for a province or all ('*')."""

    province: str = "*"
    effective_from: date
    amount_vnd: int = Field(gt=0)
    source: str

    @field_validator("province")
    @classmethod
    def _province(cls, value: str) -> str:
        if value != "*" and not (len(value) == 3 and value.isdigit()):
            raise ValueError("province must be '*' or a 3-digit code")
        return value


class Band(_Rule):
    """An age band inside a category: ages in [min_age, max_age)."""

    min_age: int = Field(default=0, ge=0)
    max_age: int | None = Field(default=None, gt=0)
    coefficient: Decimal = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.max_age is not None and self.max_age <= self.min_age:
            raise ValueError("max_age must be above min_age")
        return self

    def covers(self, age: int) -> bool:
        return self.min_age <= age and (self.max_age is None or age < self.max_age)


class CategoryRule(_Rule):
    title: str
    source: str
    bands: list[Band] = Field(min_length=1)
    # Paid per child being raised (SINGLE_PARENT).
    per_child: bool = False
    # Paid on top of the highest other category instead of competing with it
    # (Decree 20 Art 6(2): a single parent who is also elderly, disabled, HIV).
    additive: bool = False
    # Several streams may be paid side by side (the allowance, care support).
    stream: str = "allowance"
    # Overrides the rule set's age convention for this category (ELDERLY_80
    # starts in the month of the 80th birthday).
    age_convention: AgeConvention | None = None
    # A fixed monthly amount instead of level x coefficient (e.g. the social
    # pension of Decree 176/2025).
    fixed_vnd: int | None = Field(default=None, gt=0)
    # Applies by itself to anyone holding one of these categories, with no
    # decision of its own (a benefit the law gives by age to those people).
    implicit_for: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bands_disjoint(self) -> CategoryRule:
        ordered = sorted(self.bands, key=lambda b: b.min_age)
        for lower, upper in zip(ordered, ordered[1:]):
            if lower.max_age is None or lower.max_age > upper.min_age:
                raise ValueError("age bands overlap")
        return self

    def coefficient_at(self, age: int) -> Decimal | None:
        """The coefficient for this age, or None when the age is outside
        every band (the category does not apply at that age)."""
        for band in self.bands:
            if band.covers(age):
                return band.coefficient
        return None

    def age_boundaries(self) -> set[int]:
        ages = set()
        for band in self.bands:
            ages.add(band.min_age)
            if band.max_age is not None:
                ages.add(band.max_age)
        return ages


class CoefficientTable(_Rule):
    effective_from: date
    source: str
    categories: dict[str, CategoryRule] = Field(min_length=1)


class AgeConventionRule(_Rule):
    effective_from: date
    # When an age-band change (or an age limit) takes effect: the month of the
    # birthday, or the month after it (the default in practice).
    band_change: AgeConvention
    source: str


# The unclaimed queue's flags.
UNCLAIMED_VERIFY = "verify"
UNCLAIMED_SUSPENDED = "suspended"


class UnclaimedRule(_Rule):
    effective_from: date
    verify_after_months: int = Field(ge=1)
    suspend_after_months: int = Field(ge=1)
    source: str

    @model_validator(mode="after")
    def _ordered(self) -> UnclaimedRule:
        if self.suspend_after_months < self.verify_after_months:
            raise ValueError("suspend_after_months must not be below verify_after_months")
        return self

    def flag(self, consecutive_months: int, *, suspended: bool) -> str | None:
        """Where a person with this many consecutive uncollected rounds stands
        in the unclaimed queue: not in it (None) below the verify threshold;
        ``suspended`` when already suspended or at the suspend threshold;
        otherwise ``verify``."""
        if consecutive_months < self.verify_after_months:
            return None
        if suspended or consecutive_months >= self.suspend_after_months:
            return UNCLAIMED_SUSPENDED
        return UNCLAIMED_VERIFY


class FuneralRule(_Rule):
    province: str = "*"
    effective_from: date
    multiplier: Decimal = Field(gt=0)
    source: str


_Dated = TypeVar("_Dated", bound=_Rule)


def in_force(entries: Sequence[_Dated], day: date, province: str | None = None) -> _Dated | None:
    """The entry in force on ``day``: the latest effective_from not after it,
    a province's own entry taking precedence over the all-provinces one."""
    best: _Dated | None = None
    best_key: tuple[int, date] | None = None
    for entry in entries:
        if entry.effective_from > day:  # type: ignore[attr-defined]
            continue
        entry_province = getattr(entry, "province", "*")
        if entry_province not in ("*", province):
            continue
        key = (0 if entry_province == "*" else 1, entry.effective_from)  # type: ignore[attr-defined]
        if best_key is None or key > best_key:
            best, best_key = entry, key
    return best


class RuleSet(_Rule):
    """Everything the entitlement schedule needs, with effective dates."""

    id: str
    title: str
    levels: list[LevelEntry] = Field(min_length=1)
    coefficient_tables: list[CoefficientTable] = Field(min_length=1)
    age_conventions: list[AgeConventionRule] = Field(min_length=1)
    unclaimed: list[UnclaimedRule] = Field(min_length=1)
    funeral: list[FuneralRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_duplicate_dates(self) -> RuleSet:
        for name in ("levels", "coefficient_tables", "age_conventions", "unclaimed", "funeral"):
            seen = set()
            for entry in getattr(self, name):
                key = (getattr(entry, "province", "*"), entry.effective_from)
                if key in seen:
                    raise ValueError(f"{name}: two entries for {key[0]} from {key[1]}")
                seen.add(key)
        return self

    # --- lookups (a month is looked up by its first day) ---------------------
    # Memoised per rule set object: the schedule asks the same few questions
    # for every person and month, and a rule set never changes once loaded
    # (frozen). A copy with other entries is another object, with its own memo.

    def _remember(self, key: tuple, compute):
        memo = _MEMOS.get(id(self))
        if memo is None or memo[0] is not self:
            memo = _MEMOS[id(self)] = (self, {})  # holding the object keeps its id unique
        try:
            return memo[1][key]
        except KeyError:
            value = memo[1][key] = compute()
            return value

    def amount_vnd(self, level: int, rule: CategoryRule, coefficient: Decimal, times: int) -> int:
        """level x coefficient x times (or the fixed amount), whole VND."""
        def compute() -> int:
            base = Fraction(rule.fixed_vnd) if rule.fixed_vnd else Fraction(level) * Fraction(coefficient)
            return round_vnd(base * times)
        return self._remember(("amount", level, rule.fixed_vnd, coefficient, times), compute)

    def level(self, province: str, month: Month) -> int | None:
        return self._remember(("level", province, month.index),
                              lambda: self.level_on(province, month.first_day))

    def level_on(self, province: str, day: date) -> int | None:
        """A province may set a level above the national one (Decree 20/2021
        Art 4(3)), never below it: the higher of the two in force applies, so
        a national rise above an old provincial level reaches that province."""
        national = in_force([e for e in self.levels if e.province == "*"], day)
        own = in_force([e for e in self.levels if e.province == province], day, province)
        amounts = [e.amount_vnd for e in (national, own) if e is not None]
        return max(amounts) if amounts else None

    def table(self, month: Month) -> CoefficientTable | None:
        return self._remember(("table", month.index),
                              lambda: in_force(self.coefficient_tables, month.first_day))

    def age_convention(self, month: Month) -> AgeConvention:
        def compute() -> AgeConvention:
            entry = in_force(self.age_conventions, month.first_day)
            return entry.band_change if entry else "month_after"
        return self._remember(("convention", month.index), compute)

    def unclaimed_rule(self, month: Month) -> UnclaimedRule:
        entry = in_force(self.unclaimed, month.first_day)
        assert entry is not None, "rule set has no unclaimed rule in force"
        return entry

    def funeral_support(self, province: str, day: date) -> int:
        """Funeral support: multiplier x the level in force on the date of death."""
        rule = in_force(self.funeral, day, province)
        level = self.level_on(province, day)
        if rule is None or level is None:
            return 0
        return round_vnd(Fraction(rule.multiplier) * level)

    def category_codes(self) -> set[str]:
        return {code for table in self.coefficient_tables for code in table.categories}

    def change_months(self) -> set[Month]:
        """Months in which some entry takes effect: the schedule can only
        change there (besides the beneficiary's own facts and birthdays)."""
        def compute() -> frozenset[Month]:
            entries = [*self.levels, *self.coefficient_tables, *self.age_conventions]
            return frozenset(Month.containing(e.effective_from) for e in entries)
        return self._remember(("change_months",), compute)

    def age_boundaries(self, codes: frozenset[str]) -> frozenset[int]:
        """The ages at which any of these categories changes band or ends."""
        def compute() -> frozenset[int]:
            ages: set[int] = set()
            for table in self.coefficient_tables:
                for code in codes & table.categories.keys():
                    ages |= table.categories[code].age_boundaries()
            return frozenset(ages)
        return self._remember(("ages", codes), compute)

    def all_age_boundaries(self) -> frozenset[int]:
        return self.age_boundaries(frozenset(self.category_codes()))

    def fingerprint(self) -> str:
        """A short hash of the rule content: read models computed under
        other rules know they must be rebuilt."""
        def compute() -> str:
            payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
            return hashlib.sha256(payload.encode()).hexdigest()[:16]
        return self._remember(("fingerprint",), compute)


_MEMOS: dict[int, tuple[RuleSet, dict]] = {}


def round_vnd(amount: Fraction) -> int:
    """Whole VND, half rounded up (levels times coefficients are whole in the
    shipped rules; a province level may not be)."""
    return int(amount + Fraction(1, 2)) if amount >= 0 else -round_vnd(-amount)
