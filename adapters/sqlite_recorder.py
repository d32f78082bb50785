"""The SQLite event recorder the ledger uses: the library's own, plus the
chunked insert the PostgreSQL one has (see pg_recorder.py), so that a
command can stream its events into one transaction on either store, with
the write-side snapshots of the people it changed (adapters/snapshots.py),
and the seals of the hash chain over the rows it wrote (projections/chain.py),
committed with them or not at all."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder
from uuid import UUID

from projections.chain import CREATE_CHAIN_TABLE, GENESIS, SELECT_HEAD, seals

from .snapshots import TABLE as SNAPSHOTS, SnapshotRow

SEAL_BATCH = 5000


class LedgerSqliteRecorder(SQLiteApplicationRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(),
                f"CREATE TABLE IF NOT EXISTS {SNAPSHOTS} (aggregate_id TEXT PRIMARY KEY, "
                "version INTEGER NOT NULL, modified_on TEXT NOT NULL, state BLOB NOT NULL)",
                CREATE_CHAIN_TABLE]

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's insert, with the seals of what it wrote."""
        with self.datastore.transaction(commit=True) as cursor:
            before = self._last_position(cursor)
            returning = self._insert_events(cursor, stored_events, **kwargs)
            self._seal_after(cursor, before)
            return returning

    def insert_events_resealing(self, stored_events: Sequence[StoredEvent]) -> None:
        """The events, and every stored row sealed anew from the start of the
        log, in one transaction (``ledger audit seal --existing``)."""
        with self.datastore.transaction(commit=True) as cursor:
            self._insert_events(cursor, stored_events)
            cursor.execute("DELETE FROM audit_chain")
            self._seal_after(cursor, 0)

    def insert_event_chunks(self, chunks: Iterable[tuple[Sequence[StoredEvent], Sequence[SnapshotRow]]]) -> int:
        """Every chunk's events and snapshots, and the seals of the events,
        in one transaction; an exception raised while the chunks are made
        rolls everything back. Returns the count of events."""
        count = 0
        with self.datastore.transaction(commit=True) as cursor:
            before = self._last_position(cursor)
            for events, snapshots in chunks:
                if events:
                    self._insert_events(cursor, events)
                    count += len(events)
                if snapshots:
                    cursor.executemany(
                        f"INSERT OR REPLACE INTO {SNAPSHOTS} VALUES (?, ?, ?, ?)",
                        [(s.aggregate_id.hex, s.version, s.modified_on, s.state) for s in snapshots])
            if count:
                self._seal_after(cursor, before)
        return count

    def _last_position(self, cursor) -> int:
        cursor.execute(f"SELECT max(rowid) FROM {self.events_table_name}")
        return cursor.fetchone()[0] or 0

    def _seal_after(self, cursor, before: int) -> None:
        """Seal the rows after ``before`` (the ones this transaction wrote:
        SQLite has one writer at a time, and this transaction is it), read
        back as stored, chained on from the last seal."""
        cursor.execute(SELECT_HEAD)
        head = cursor.fetchone()
        previous = head[1] if head else GENESIS
        while True:
            cursor.execute(f"SELECT rowid, originator_id, originator_version, topic, state "
                           f"FROM {self.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                           (before, SEAL_BATCH))
            rows = [(p, UUID(o), v, t, s) for p, o, v, t, s in cursor.fetchall()]
            if not rows:
                return
            sealed = seals(previous, rows)
            cursor.executemany("INSERT INTO audit_chain (position, hash) VALUES (?, ?)", sealed)
            before, previous = sealed[-1]
