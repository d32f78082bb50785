"""The ledger application: a thin service whose methods are the commands.

Each command loads the aggregates it touches, decides, and saves every new
event in one call, which the recorder writes in one transaction: a command
records everything or nothing, and re-running it records nothing twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable, Iterable, Mapping, Sequence
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder, Transcoding

from .beneficiary import Beneficiary, beneficiary_id
from .decisions import Decision, DecisionRejected
from .months import Month
from .rules import RuleSet

LoadMany = Callable[[Sequence[UUID]], Mapping[UUID, Beneficiary]]


class MonthAsText(Transcoding):
    type = Month
    name = "month"

    def encode(self, obj: Month) -> str:
        return str(obj)

    def decode(self, data: str) -> Month:
        return Month.parse(data)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True)
class RowProblem:
    """A rejected input row: its position in the input and the field at fault."""

    row: int
    field: str
    message: str


class Rejected(Exception):
    """The whole input is rejected; nothing was recorded."""

    def __init__(self, problems: Sequence[RowProblem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = list(problems)


@dataclass(frozen=True)
class RecordOutcome:
    rows: int
    recorded_events: int
    unchanged_rows: int


class LedgerApp(Application):
    name = "Ledger"

    def __init__(self, env: Mapping[str, str] | None = None, *, rules: RuleSet,
                 load_many: LoadMany | None = None) -> None:
        super().__init__(env)
        self.rules = rules
        self._load_many = load_many or self._load_one_by_one

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(MonthAsText())
        transcoder.register(DateAsISO())

    # --- loading ------------------------------------------------------------

    def use_loader(self, load_many: LoadMany) -> None:
        """Install a faster way to load many aggregates (see adapters.store)."""
        self._load_many = load_many

    def _load_one_by_one(self, ids: Sequence[UUID]) -> dict[UUID, Beneficiary]:
        found = {}
        for aggregate_id in ids:
            try:
                found[aggregate_id] = self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                pass
        return found

    def beneficiaries(self, citizen_ids: Iterable[str]) -> dict[str, Beneficiary]:
        """The registered ones among the given citizens, by citizen id."""
        ids = {beneficiary_id(c): c for c in citizen_ids}
        loaded = self._load_many(list(ids))
        return {ids[agg_id]: agg for agg_id, agg in loaded.items()}

    def beneficiary(self, citizen_id: str) -> Beneficiary | None:
        return self.beneficiaries([citizen_id]).get(citizen_id)

    # --- commands -----------------------------------------------------------

    def record_decisions(self, decisions: Sequence[Decision], actor: str) -> RecordOutcome:
        """Record a file's decisions, in file order, all or nothing.

        Raises ``Rejected`` listing every row that cannot be recorded (row =
        index in ``decisions``); then nothing is saved."""
        known = self.beneficiaries({d.citizen_id for d in decisions})
        touched: dict[str, Beneficiary] = {}
        problems: list[RowProblem] = []
        unchanged = 0
        for row, decision in enumerate(decisions):
            aggregate = touched.get(decision.citizen_id) or known.get(decision.citizen_id)
            try:
                if aggregate is None:
                    if decision.kind != "register":
                        raise DecisionRejected(
                            "citizen_id",
                            f"{decision.citizen_id} is not registered: "
                            f"a {decision.kind} decision needs a registration first",
                        )
                    aggregate = Beneficiary.register(decision, actor)
                elif aggregate.already_has(decision):
                    unchanged += 1
                    continue
                else:
                    aggregate.decide(decision, actor)
            except DecisionRejected as exc:
                problems.append(RowProblem(row, exc.field, exc.message))
                continue
            touched[decision.citizen_id] = aggregate
        if problems:
            raise Rejected(problems)
        recordings = self.save(*touched.values())
        return RecordOutcome(len(decisions), len(recordings), unchanged)
