"""What a rule change would have paid: every person's schedule under the
candidate rules beside the current ones, month by month, recording nothing."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from .entitlement import Segment, _compute_segments, segments
from .facts import BeneficiaryFacts
from .months import Month, month_range
from .rules import LevelEntry, RuleSet


@dataclass
class Change:
    citizen_id: str
    month: Month
    baseline: int
    candidate: int


@dataclass
class WhatIf:
    first: Month
    last: Month
    baseline_total: int = 0
    candidate_total: int = 0
    people: int = 0
    changed: list[Change] = field(default_factory=list)
    # month -> [current rules' total, candidate's total]
    by_month: dict[Month, list[int]] = field(default_factory=dict)

    @property
    def difference(self) -> int:
        return self.candidate_total - self.baseline_total

    @property
    def people_affected(self) -> int:
        return len({c.citizen_id for c in self.changed})

    def months(self) -> list[dict]:
        """Month by month: both totals, their difference, the people whose amount changes."""
        changed: dict[Month, set[str]] = {}
        for c in self.changed:
            changed.setdefault(c.month, set()).add(c.citizen_id)
        return [{"month": str(m), "baseline": b, "candidate": c, "difference": c - b,
                 "people_changed": len(changed.get(m, ()))}
                for m, (b, c) in sorted(self.by_month.items())]

    def as_dict(self) -> dict:
        return {"from": str(self.first), "to": str(self.last), "people": self.people,
                "baseline_total": self.baseline_total, "candidate_total": self.candidate_total,
                "difference": self.difference, "people_affected": self.people_affected,
                "months": self.months(),
                "changed": [{"citizen_id": c.citizen_id, "month": str(c.month), "baseline": c.baseline,
                             "candidate": c.candidate} for c in self.changed]}


def _amounts(runs: list[Segment], first: Month, last: Month) -> dict[Month, int]:
    out = {}
    for run in runs:
        start, end = max(run.first, first), min(run.last or last, last)
        for month in month_range(start, end) if start <= end else ():
            out[month] = run.amount_vnd
    return out


def compare(people: Iterable[BeneficiaryFacts], baseline: RuleSet, candidate: RuleSet,
            first: Month, last: Month) -> WhatIf:
    result = WhatIf(first, last, by_month={m: [0, 0] for m in month_range(first, last)})
    for facts in people:
        result.people += 1
        before = _amounts(segments(facts, baseline), first, last)
        # Not memoised on the facts: the memo keeps the schedule of the rules in force.
        after = _amounts(_compute_segments(facts, candidate), first, last)
        result.baseline_total += sum(before.values())
        result.candidate_total += sum(after.values())
        for month, amount in before.items():
            result.by_month[month][0] += amount
        for month, amount in after.items():
            result.by_month[month][1] += amount
        for month in sorted(set(before) | set(after)):
            if before.get(month, 0) != after.get(month, 0):
                result.changed.append(Change(facts.citizen_id, month, before.get(month, 0), after.get(month, 0)))
    return result


def with_level(rules: RuleSet, amount_vnd: int, first: Month) -> RuleSet:
    """The current rules with the national standard level set to the amount
    from ``first`` on (later national entries give way to it)."""
    kept = [e for e in rules.levels if not (e.province == "*" and e.effective_from >= first.first_day)]
    entry = LevelEntry(province="*", effective_from=first.first_day, amount_vnd=amount_vnd,
                       source=f"what-if: standard level {amount_vnd:,} VND from {first}")
    return rules.model_copy(update={"id": f"{rules.id}+level-{amount_vnd}", "levels": [*kept, entry]})
