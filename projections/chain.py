"""A tamper-evident seal over the event log: a SHA-256 hash chain.

Each recorded event (position, aggregate id, version, topic, stored bytes)
is hashed with the hash before it, in log order. The seals are written by
the event recorders themselves (adapters/*_recorder.py), in the transaction
that writes the events, from the rows that transaction stored: a row that
appears without a seal was written by something other than the ledger, and
is reported, never sealed later as if it were ours. The chain is never
rebuilt by a replay: recomputing it from the event rows and comparing finds
any row changed, deleted, inserted or reordered since, and names the first
bad position. What the chain alone cannot see (the last events deleted with
their seals, or everything from a position rewritten and sealed again) a
signed checkpoint kept elsewhere shows (adapters/checkpoints.py)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterator, Sequence
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import bulk
from .runner import metadata

chain = sa.Table(
    "audit_chain", metadata,
    sa.Column("position", sa.BigInteger, primary_key=True),
    sa.Column("hash", sa.String(64), nullable=False),
)

GENESIS = "0" * 64

# The same table, as the recorders create it before SQLAlchemy may have: a
# recorder writes seals even when no read model was ever set up.
CREATE_CHAIN_TABLE = ("CREATE TABLE IF NOT EXISTS audit_chain "
                      "(position BIGINT NOT NULL PRIMARY KEY, hash VARCHAR(64) NOT NULL)")
SELECT_HEAD = "SELECT position, hash FROM audit_chain ORDER BY position DESC LIMIT 1"


def link(previous: str, position: int, originator_id: UUID, version: int, topic: str, state: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(previous.encode())
    digest.update(f"|{position}|{originator_id.hex}|{version}|{topic}|".encode())
    digest.update(state)
    return digest.hexdigest()


def seals(previous: str, rows) -> list[tuple[int, str]]:
    """The seals of stored rows (position, aggregate id, version, topic,
    state), in log order, chained on from ``previous``."""
    out = []
    for pos, originator_id, version, topic, state in rows:
        previous = link(previous, pos, originator_id, version, topic, bytes(state))
        out.append((pos, previous))
    return out


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int  # events whose seal was recomputed
    unsealed: int  # rows after the last seal: appended outside the ledger
    first_bad_position: int | None
    problem: str
    snapshots_checked: int = 0  # write-side snapshots refolded from their events
    first_bad_snapshot: str | None = None  # the aggregate whose snapshot is not its fold

    def as_dict(self) -> dict:
        return dict(ok=self.ok, checked=self.checked, unsealed=self.unsealed,
                    first_bad_position=self.first_bad_position, problem=self.problem,
                    snapshots_checked=self.snapshots_checked, first_bad_snapshot=self.first_bad_snapshot)


class NotHistoryBeforeTheChain(Exception):
    """The unsealed rows are not a stretch of history from before the chain."""

    def __init__(self, position: int, problem: str):
        super().__init__(problem)
        self.position = position


@dataclass(frozen=True)
class UnsealedHistory:
    """Rows stored before the chain existed: every one before the first seal."""

    count: int
    first_position: int | None
    last_position: int | None
    seals_after: int  # the seals after them, all checked against their rows


class ChainKeeper:
    """Checks the chain the recorders wrote against the raw rows they stored
    (not decoded events), so what is checked is what is stored."""

    BATCH = 5000

    def __init__(self, engine: sa.Engine, rows):
        self.engine = engine
        self.rows = rows  # (after position, limit) -> [(position, originator_id, version, topic, state)]

    def head(self, conn: Connection | None = None) -> tuple[int, str]:
        """The last seal: (position, hash); (0, GENESIS) on an empty store."""
        if conn is None:
            with self.engine.connect() as own:
                return self.head(own)
        row = conn.execute(sa.select(chain.c.position, chain.c.hash)
                           .order_by(chain.c.position.desc()).limit(1)).first()
        return (row[0], row[1]) if row else (0, GENESIS)

    def verify(self) -> Verdict:
        """Recompute the chain from the stored rows and compare, position by
        position, walking the sealed positions alongside the stored ones."""
        with self.engine.connect() as conn:
            sealed = {p: h for p, h in conn.execute(sa.select(chain.c.position, chain.c.hash).order_by(chain.c.position))}
        expected = iter(sealed)  # sealed positions, in order
        previous, checked, after = GENESIS, 0, 0
        next_sealed = next(expected, None)
        for pos, originator_id, version, topic, state in self._all_rows():
            if next_sealed is None:
                if not after:
                    first_unsealed = pos
                after += 1  # no seal: not written by a ledger command
                continue
            if pos < next_sealed:
                return Verdict(False, checked, after, pos,
                               f"position {pos} has no seal: appended outside the ledger, or inserted "
                               "after the events around it were sealed")
            if pos > next_sealed:
                return Verdict(False, checked, after, next_sealed, f"position {next_sealed} was deleted")
            previous = link(previous, pos, originator_id, version, topic, state)
            if previous != sealed[pos]:
                return Verdict(False, checked, after, pos,
                               f"position {pos} does not match its seal: changed, or rows reordered")
            checked += 1
            next_sealed = next(expected, None)
        if next_sealed is not None:
            return Verdict(False, checked, after, next_sealed, f"position {next_sealed} was deleted")
        if after:
            return Verdict(False, checked, after, first_unsealed,
                           f"{after} event(s) from position {first_unsealed} on have no seal: appended "
                           "outside the ledger (every command seals its events as it writes them)")
        return Verdict(True, checked, after, None, "")

    def unsealed_history(self) -> UnsealedHistory:
        """The rows stored without a seal before the first sealed one (all of
        them, on a store written before the chain existed), the seals after
        them checked as ``verify`` does, chained from the first seal. Raises
        ``NotHistoryBeforeTheChain`` when a row without a seal comes after a
        sealed one (appended outside the ledger), or a seal does not match:
        those are reported, never sealed."""
        with self.engine.connect() as conn:
            sealed = {p: h for p, h in conn.execute(sa.select(chain.c.position, chain.c.hash).order_by(chain.c.position))}
        expected = iter(sealed)
        next_sealed = next(expected, None)
        first_sealed = next_sealed
        previous, count, first, last, checked = GENESIS, 0, None, None, 0
        for pos, originator_id, version, topic, state in self._all_rows():
            if first_sealed is None or pos < first_sealed:
                count, first, last = count + 1, first or pos, pos
                continue
            if next_sealed is None or pos < next_sealed:
                raise NotHistoryBeforeTheChain(pos, f"position {pos} has no seal but comes after sealed events: "
                                                    "appended outside the ledger")
            if pos > next_sealed:
                raise NotHistoryBeforeTheChain(next_sealed, f"position {next_sealed} was deleted")
            previous = link(previous, pos, originator_id, version, topic, state)
            if previous != sealed[pos]:
                raise NotHistoryBeforeTheChain(pos, f"position {pos} does not match its seal: changed, or rows "
                                                    "reordered")
            checked += 1
            next_sealed = next(expected, None)
        if next_sealed is not None:
            raise NotHistoryBeforeTheChain(next_sealed, f"position {next_sealed} was deleted")
        return UnsealedHistory(count, first, last, checked)

    def recomputed(self) -> Iterator[tuple[int, str]]:
        """(position, hash) of the chain recomputed from every stored row,
        whatever the seal table says: what a checkpoint is checked against."""
        previous = GENESIS
        for pos, originator_id, version, topic, state in self._all_rows():
            previous = link(previous, pos, originator_id, version, topic, state)
            yield pos, previous

    def _all_rows(self) -> Iterator[tuple]:
        position = 0
        while True:
            batch = self.rows(position, self.BATCH)
            if not batch:
                return
            yield from batch
            position = batch[-1][0]

    def month_seals(self, months: Sequence[tuple[str, int]]) -> dict[str, str]:
        """The chain's hash at each month's last position: (month, position) pairs in."""
        with self.engine.connect() as conn:
            out = {}
            for month, position in months:
                value = conn.execute(sa.select(chain.c.hash).where(chain.c.position <= position)
                                     .order_by(chain.c.position.desc()).limit(1)).scalar()
                out[month] = value or GENESIS
            return out
