"""The SQLite event recorder the ledger uses: the library's own, plus the
chunked insert the PostgreSQL one has (see pg_recorder.py), so that a
command can stream its events into one transaction on either store, with
the write-side snapshots of the people it changed (adapters/snapshots.py)."""
from __future__ import annotations

from typing import Iterable, Sequence

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder

from .snapshots import TABLE as SNAPSHOTS, SnapshotRow


class LedgerSqliteRecorder(SQLiteApplicationRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(),
                f"CREATE TABLE IF NOT EXISTS {SNAPSHOTS} (aggregate_id TEXT PRIMARY KEY, "
                "version INTEGER NOT NULL, modified_on TEXT NOT NULL, state BLOB NOT NULL)"]

    def insert_event_chunks(self, chunks: Iterable[tuple[Sequence[StoredEvent], Sequence[SnapshotRow]]]) -> int:
        """Every chunk's events and snapshots in one transaction; an
        exception raised while the chunks are made rolls everything back.
        Returns the count of events."""
        count = 0
        with self.datastore.transaction(commit=True) as cursor:
            for events, snapshots in chunks:
                if events:
                    self._insert_events(cursor, events)
                    count += len(events)
                if snapshots:
                    cursor.executemany(
                        f"INSERT OR REPLACE INTO {SNAPSHOTS} VALUES (?, ?, ?, ?)",
                        [(s.aggregate_id.hex, s.version, s.modified_on, s.state) for s in snapshots])
        return count
