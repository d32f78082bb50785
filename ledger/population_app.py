"""The population database's commands over ``LedgerApp``: record an answer
file (all or nothing, nothing twice) and resolve a review. The rules are in
ledger/population.py; this module only loads the people and saves."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from . import population as pop
from .application import ChunkedApply, LedgerApp, Rejected, RowProblem
from .beneficiary import Beneficiary
from .errors import Refused
from .outcomes import Consequences


@dataclass(frozen=True)
class CheckOutcome:
    rows: int
    recorded_events: int
    unchanged_rows: int
    results: dict[str, int]  # result -> people whose answer was recorded now
    held: list[str]  # citizen ids whose payment is now held (reported deceased)
    not_in_ledger: list[int] = field(default_factory=list)  # rows whose citizen id is not registered


class _Checks(ChunkedApply):
    """Answers for citizen ids the ledger does not know are set aside (the
    command reports them), not refused and not recorded as people."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.not_in_ledger: list[int] = []

    def _apply(self, person, citizen, problems):
        if person is None:
            self.not_in_ledger.extend(self.rows_of[citizen])
            return None
        return super()._apply(person, citizen, problems)


def record_checks(app: LedgerApp, answers: Sequence[pop.Answer], document: str, actor: str) -> CheckOutcome:
    results: dict[str, int] = {}
    held: list[str] = []

    def record(person: Beneficiary, answer: pop.Answer) -> bool:
        was_held = pop.is_held(person.state)
        if not pop.check(person, answer, document, actor):
            return False
        result = person.state.population.latest.result
        results[result] = results.get(result, 0) + 1
        if pop.is_held(person.state) and not was_held:
            held.append(answer.citizen_id)
        return True

    applied = _Checks(app, answers, lambda a: a.citizen_id, record)
    recorded = app.save_in_chunks(applied.chunks())
    return CheckOutcome(len(answers), recorded, applied.unchanged, dict(sorted(results.items())),
                        sorted(held), sorted(applied.not_in_ledger))


@dataclass(frozen=True)
class ResolveOutcome:
    citizen_id: str
    outcome: str
    recorded_events: int
    changed: bool
    consequences: dict


def resolve(app: LedgerApp, resolution: pop.Resolution, actor: str) -> ResolveOutcome:
    person = app.beneficiary(resolution.citizen_id)
    if person is None:
        raise Rejected([RowProblem(0, "citizen_id", f"{resolution.citizen_id} is not registered")])
    try:
        changed = pop.resolve(person, resolution, app.rules, actor)
    except Refused as exc:
        raise Rejected([RowProblem(0, exc.field, exc.message)]) from None
    consequences = Consequences()
    consequences.add(person.pending_events)
    recorded = app.save_in_chunks([[person]]) if changed else 0
    return ResolveOutcome(resolution.citizen_id, resolution.outcome, recorded, changed, consequences.as_dict())
