"""Write-side snapshots: each beneficiary's folded state at a version, kept
beside the event store and written by the recorder in the same transaction
as the events that brought the person to that version.

Commands load people from here plus any events recorded after the snapshot
(``SnapshotLoader``), never from a read model: a view is a cache for reading,
and whoever can edit one must not be able to decide a payment. A snapshot is
part of the write side: ``SnapshotAudit`` refolds every person's events and
reports a snapshot that is not their fold (``ledger audit verify``).

With a cipher key the snapshot is encrypted by the event store's own cipher,
like the events."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Iterator, Sequence
from uuid import UUID

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.beneficiary import Beneficiary
from ledger.entitlement import schedule_key, segments
from ledger.rules import RuleSet
from ledger.state import BeneficiaryState

from .store import as_uuid, events_of
from .state_codec import state_from_bytes, state_to_bytes

TABLE = "aggregate_snapshots"
REGISTERED = get_topic(Beneficiary.Registered)


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    aggregate_id: UUID
    version: int
    modified_on: str  # the last event's recorded time, ISO
    state: bytes  # the state codec's bytes, encrypted with a cipher key


class SnapshotCodec:
    """State to stored bytes and back, through the event store's cipher."""

    def __init__(self, mapper) -> None:
        self.cipher = getattr(mapper, "cipher", None)

    def row(self, person: Beneficiary) -> SnapshotRow:
        data = state_to_bytes(person.state)
        if self.cipher is not None:
            data = self.cipher.encrypt(data)
        return SnapshotRow(person.id, person.version, person.modified_on.isoformat(), data)

    def state(self, data: bytes) -> BeneficiaryState:
        if self.cipher is not None:
            data = self.cipher.decrypt(data)
        return state_from_bytes(data)


class SnapshotLoader:
    """Restores many beneficiaries with two queries per batch of ids: their
    snapshots, and the events recorded after them (none, normally). A person
    with no snapshot (a store from before snapshots) is folded from all of
    their events. The versions are the event store's, so a command racing
    another writer fails on the unique (aggregate, version) key and is
    retried, never doubled."""

    BATCH_IDS = 500

    def __init__(self, store, engine: sa.Engine, mapper) -> None:
        self.store, self.engine, self.mapper = store, engine, mapper
        self.codec = SnapshotCodec(mapper)
        events = store.events_table
        self._snapshots = sa.text(
            f"SELECT aggregate_id, version, modified_on, state FROM {TABLE} WHERE aggregate_id IN :ids"
        ).bindparams(sa.bindparam("ids", expanding=True))
        self._tails = sa.text(
            f"SELECT e.originator_id, e.originator_version, e.topic, e.state FROM {events} e "
            f"LEFT JOIN {TABLE} s ON s.aggregate_id = e.originator_id "
            "WHERE e.originator_id IN :ids AND e.originator_version > COALESCE(s.version, 0) "
            "ORDER BY e.originator_id, e.originator_version"
        ).bindparams(sa.bindparam("ids", expanding=True))
        self._registered = sa.text(
            f"SELECT originator_id FROM {events} WHERE originator_version = 1 AND topic = :topic "
            "AND originator_id > :after ORDER BY originator_id LIMIT :limit")

    def __call__(self, ids: Sequence[UUID]) -> dict[UUID, Beneficiary]:
        found: dict[UUID, Beneficiary] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), self.BATCH_IDS):
                keys = [self.store.key(i) for i in ids[start:start + self.BATCH_IDS]]
                for aggregate_id, version, modified_on, data in conn.execute(self._snapshots, {"ids": keys}):
                    oid = as_uuid(aggregate_id)
                    found[oid] = Beneficiary.restore(oid, version, datetime.fromisoformat(modified_on),
                                                     self.codec.state(bytes(data)))
                for originator_id, version, topic, data in conn.execute(self._tails, {"ids": keys}):
                    oid = as_uuid(originator_id)
                    event = self.mapper.to_domain_event(StoredEvent(oid, version, topic, bytes(data)))
                    found[oid] = event.mutate(found.get(oid))
        return found

    def all(self, batch_size: int = 2000) -> Iterator[Beneficiary]:
        """Every beneficiary, a batch at a time in aggregate-id order."""
        after: object = "" if self.store.kind == "sqlite" else UUID(int=0)
        while True:
            with self.engine.connect() as conn:
                ids = [row[0] for row in conn.execute(
                    self._registered, {"topic": REGISTERED, "after": after, "limit": batch_size})]
            if not ids:
                return
            loaded = self([as_uuid(i) for i in ids])
            for i in ids:
                yield loaded[as_uuid(i)]
            after = ids[-1]


@dataclass(frozen=True)
class SnapshotVerdict:
    ok: bool
    checked: int
    first_bad: str | None  # the aggregate id of the first snapshot that is not its fold
    problem: str


class SnapshotAudit:
    """Refolds each snapshotted person's events up to the snapshot's version
    and compares the result with the snapshot, person by person."""

    BATCH = 500

    def __init__(self, store, engine: sa.Engine, mapper, rules: RuleSet) -> None:
        self.store, self.engine, self.mapper, self.rules = store, engine, mapper, rules
        self.codec = SnapshotCodec(mapper)

    def verify(self) -> SnapshotVerdict:
        checked = 0
        for batch in self._batches():
            events = self._events_of([aggregate_id for aggregate_id, *_ in batch])
            for aggregate_id, version, data in batch:
                problem = self._compare(aggregate_id, version, data, events.get(aggregate_id, []))
                if problem:
                    return SnapshotVerdict(False, checked, str(aggregate_id), problem)
                checked += 1
        return SnapshotVerdict(True, checked, None, "")

    def _compare(self, aggregate_id: UUID, version: int, data: bytes, events: list) -> str:
        if not events or events[-1].originator_version < version:
            return f"the snapshot of {aggregate_id} is at version {version}, beyond its recorded events"
        state = None
        for event in events:
            if event.originator_version > version:
                break
            state = event.fold(state)
        try:
            kept = self.codec.state(data)
        except (ValueError, KeyError, TypeError, IndexError, InvalidTag) as exc:
            # Bytes that do not decode are a finding, not a crash.
            return f"the snapshot of {aggregate_id} cannot be read: {exc}"
        memo = kept.facts.schedule_memo
        if memo is not None and memo[0] == schedule_key(self.rules) and \
                tuple(memo[1]) != tuple(segments(state.facts, self.rules)):
            return f"the snapshot of {aggregate_id} carries a schedule that its facts do not give"
        if _without_memo(kept) != _without_memo(state):
            return f"the snapshot of {aggregate_id} is not the fold of its events"
        return ""

    def _batches(self) -> Iterator[list[tuple[UUID, int, bytes]]]:
        query = sa.text(f"SELECT aggregate_id, version, state FROM {TABLE} WHERE aggregate_id > :after "
                        "ORDER BY aggregate_id LIMIT :limit")
        after: object = "" if self.store.kind == "sqlite" else UUID(int=0)
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(query, {"after": after, "limit": self.BATCH}).all()
            if not rows:
                return
            yield [(as_uuid(a), v, bytes(s)) for a, v, s in rows]
            after = rows[-1][0]

    def _events_of(self, ids: list[UUID]) -> dict[UUID, list]:
        found: dict[UUID, list] = {}
        for oid, event in events_of(self.store, self.engine, self.mapper, ids, self.BATCH):
            found.setdefault(oid, []).append(event)
        return found



def _without_memo(state: BeneficiaryState) -> bytes:
    return state_to_bytes(replace(state, facts=replace(state.facts, schedule_memo=None)))
