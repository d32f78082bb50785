"""The office's own record of sealing history written before the hash chain
existed (``ledger audit seal --existing``): who sealed how many events, up to
which position. The chain itself lives beside the events (projections/chain.py);
this event makes the sealing part of the history it seals, and sealed with it."""
from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

HISTORY_SEALS_ID = uuid5(NAMESPACE_URL, "urn:allowance-ledger:history-seals")


class HistorySeals(Aggregate):
    @staticmethod
    def create_id() -> UUID:
        return HISTORY_SEALS_ID

    def __init__(self) -> None:
        self.sealings: list[dict] = []

    class Opened(Aggregate.Created):
        pass

    class ExistingSealed(Aggregate.Event):
        """Events stored without a seal, all before the first sealed one (or
        with none sealed at all), sealed from the start of the log; the
        seals after them, checked first, chained on from them anew."""

        actor: str
        events_sealed: int
        first_position: int
        last_position: int
        seals_rechained: int
        previous_head_position: int
        previous_head_hash: str

        def apply(self, aggregate: HistorySeals) -> None:
            aggregate.sealings.append(dict(actor=self.actor, events_sealed=self.events_sealed,
                                           first_position=self.first_position, last_position=self.last_position))

    @classmethod
    def open(cls) -> HistorySeals:
        return cls._create(cls.Opened, id=HISTORY_SEALS_ID)

    def record_sealing(self, actor: str, events_sealed: int, first_position: int, last_position: int,
                       seals_rechained: int, previous_head: tuple[int, str]) -> None:
        self.trigger_event(self.ExistingSealed, actor=actor, events_sealed=events_sealed,
                           first_position=first_position, last_position=last_position,
                           seals_rechained=seals_rechained, previous_head_position=previous_head[0],
                           previous_head_hash=previous_head[1])
