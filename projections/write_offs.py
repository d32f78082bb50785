"""The write-offs read model: every write-off proposed, and what became of
it (awaiting approval, approved with the money moved, or rejected), with
both names. Folded from WriteOffProposed, WriteOffRejected and the
write-off RecoveryRecorded (one approved, or recorded directly by one
person before four eyes were asked for)."""
from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.beneficiary import Beneficiary as B

from .entitlements import citizens_of
from .runner import metadata

write_offs = sa.Table(
    "write_offs", metadata,
    sa.Column("citizen_id", sa.String(12), primary_key=True),
    sa.Column("receipt_no", sa.String(120), primary_key=True),
    sa.Column("decision_no", sa.String(120), nullable=False),
    sa.Column("amount_vnd", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("proposed_by", sa.String(120), nullable=False),
    sa.Column("proposed_at", sa.String(40), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending, approved, rejected
    sa.Column("decided_by", sa.String(120), nullable=False),
    sa.Column("decided_at", sa.String(40), nullable=False),
    sa.Column("decision_reason", sa.Text, nullable=False),  # why it was rejected
    sa.Index("ix_write_offs_status", "status"),
)

EVENTS = (B.WriteOffProposed, B.WriteOffRejected, B.RecoveryRecorded)


class WriteOffsProjection:
    name = "write_offs"
    tables = (write_offs,)

    def version(self) -> str:
        return "1"

    def process(self, conn: Connection, events: Sequence[tuple[int, object]]) -> None:
        changes = [e for _, e in events if isinstance(e, EVENTS)
                   and (not isinstance(e, B.RecoveryRecorded) or e.method == "write_off")]
        if not changes:
            return
        citizen_of = citizens_of(conn, {e.originator_id for e in changes})
        w = write_offs.c
        for event in changes:
            key = (w.citizen_id == citizen_of[event.originator_id]) & (w.receipt_no == event.receipt_no)
            at = event.timestamp.isoformat()
            if isinstance(event, B.WriteOffProposed):
                conn.execute(write_offs.delete().where(key))  # proposed again after a rejection
                conn.execute(write_offs.insert().values(
                    citizen_id=citizen_of[event.originator_id], receipt_no=event.receipt_no,
                    decision_no=event.decision_no, amount_vnd=event.amount_vnd, reason=event.reason,
                    proposed_by=event.actor, proposed_at=at, status="pending", decided_by="", decided_at="",
                    decision_reason=""))
            elif isinstance(event, B.WriteOffRejected):
                conn.execute(write_offs.update().where(key).values(
                    status="rejected", decided_by=event.actor, decided_at=at, decision_reason=event.reason))
            else:
                approved = conn.execute(write_offs.update().where(key).values(
                    status="approved", decided_by=event.actor, decided_at=at, decision_reason=""))
                if approved.rowcount:
                    continue
                conn.execute(write_offs.insert().values(
                    citizen_id=citizen_of[event.originator_id], receipt_no=event.receipt_no,
                    decision_no=event.decision_no, amount_vnd=event.amount_vnd, reason=event.reason,
                    proposed_by=event.proposed_by or event.actor, proposed_at=at, status="approved",
                    decided_by=event.actor, decided_at=at, decision_reason=""))


def listed(conn: Connection, status: str | None = None) -> list[dict]:
    query = sa.select(write_offs).order_by(write_offs.c.proposed_at.desc(), write_offs.c.citizen_id)
    if status:
        query = query.where(write_offs.c.status == status)
    return [dict(r._mapping) for r in conn.execute(query)]
