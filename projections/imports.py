"""The history of imports, folded from the import receipts (ledger/imports.py):
file name, SHA-256, who, when, and what each recorded."""
from __future__ import annotations

import json
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.imports import ImportReceipt

from .runner import metadata

imports = sa.Table(
    "import_history", metadata,
    sa.Column("position", sa.BigInteger, primary_key=True),  # the receipt's notification id
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(120), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("people", sa.Integer, nullable=False),
    sa.Column("events", sa.Text, nullable=False),  # JSON: event type -> count
    sa.Column("money", sa.Text, nullable=False),  # JSON: posting kind -> VND
)


class ImportsProjection:
    name = "imports"
    tables = (imports,)

    def version(self) -> str:
        return "1"

    def process(self, conn: Connection, events: Sequence[tuple[int, object]]) -> None:
        rows = [dict(position=position, recorded_at=e.timestamp.isoformat(), actor=e.actor, kind=e.kind,
                     file_name=e.file_name, sha256=e.sha256, size_bytes=e.size_bytes, people=e.people,
                     events=json.dumps(e.events, sort_keys=True), money=json.dumps(e.money, sort_keys=True))
                for position, e in events if isinstance(e, ImportReceipt.Recorded)]
        if rows:
            conn.execute(imports.insert(), rows)


def history(conn: Connection, limit: int = 500) -> list[dict]:
    query = sa.select(imports).order_by(imports.c.position.desc()).limit(limit)
    return [dict(r._mapping, events=json.loads(r.events), money=json.loads(r.money)) for r in conn.execute(query)]
