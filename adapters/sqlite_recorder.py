"""The SQLite event recorder the ledger uses: the library's own, plus the
chunked insert the PostgreSQL one has (see pg_recorder.py), so that a
command can stream its events into one transaction on either store."""
from __future__ import annotations

from typing import Iterable, Sequence

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder


class LedgerSqliteRecorder(SQLiteApplicationRecorder):
    def insert_event_chunks(self, chunks: Iterable[Sequence[StoredEvent]]) -> int:
        """Every chunk's events in one transaction; an exception raised while
        the chunks are made rolls everything back. Returns the count."""
        count = 0
        with self.datastore.transaction(commit=True) as cursor:
            for chunk in chunks:
                if chunk:
                    self._insert_events(cursor, chunk)
                    count += len(chunk)
        return count
