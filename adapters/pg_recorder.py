"""The PostgreSQL event recorder the ledger uses: the library's own, with
changes to how events are sent, and none to what is stored.

- Not in pipeline mode. With eventsourcing 9.5.6 and psycopg 3.3, one
  pipelined INSERT of more than about 15,000 events (an office's decisions
  file, a month's payroll) deadlocks: the client waits on the pipeline sync
  while the server waits for the rest of the message. A plain transaction
  does not.
- Large batches by binary COPY, 25 to 40 times fewer round trips of Python
  work per row than the composite-type INSERT.
- A chunked insert (``insert_event_chunks``), so a command can stream a
  month's events into one transaction with bounded memory.

The guarantees are the library's: the same EXCLUSIVE table lock taken first
(insert order = commit order, so readers of the notification log never skip
a gap filled in later), the same NOTIFY, the same unique (aggregate, version)
key raising IntegrityError on a stale aggregate, all in one transaction; and
in that transaction, the seals of the hash chain over the rows it wrote
(projections/chain.py), committed with them or not at all."""
from __future__ import annotations

from contextlib import ExitStack
from typing import Any, Iterable, Sequence

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresAggregateRecorder
from psycopg.sql import SQL, Identifier

from projections.chain import GENESIS, seals

from .snapshots import TABLE as SNAPSHOTS, SnapshotRow

# Below this, one INSERT ... RETURNING; from it on, COPY.
COPY_FROM_EVENTS = 500
SEAL_BATCH = 5000
SETUP_LOCK_KEY = 0x4C6564676573  # creating the tables, types and functions


class LedgerPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {}.{} (aggregate_id uuid PRIMARY KEY, version bigint NOT NULL, "
            "modified_on text NOT NULL, state bytea NOT NULL)"
        ).format(Identifier(self.datastore.schema), Identifier(SNAPSHOTS)))
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {}.audit_chain (position bigint NOT NULL PRIMARY KEY, "
            "hash varchar(64) NOT NULL)").format(Identifier(self.datastore.schema)))

    def create_table(self) -> None:
        # Two processes opening the store at once would both run the library's
        # CREATE OR REPLACE FUNCTION and friends, and one of them fails with
        # "tuple concurrently updated": opening takes turns (a moment only,
        # not a command's turn: adapters/command_lock.py).
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK_KEY,))
            try:
                super().create_table()
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            before = self._last_position(curs)
            if len(stored_events) < COPY_FROM_EVENTS:
                # The library's composite-type INSERT ... RETURNING, sent plainly.
                PostgresAggregateRecorder._insert_stored_events(self, curs, stored_events)
                ids = self._fetch_ids_after_insert_events(curs, stored_events)
            else:
                ids = self._copy(curs, stored_events)
            self._seal_after(curs, before)
            return ids

    def insert_events_resealing(self, stored_events: Sequence[StoredEvent]) -> None:
        """The events, and every stored row sealed anew from the start of the
        log, in one transaction under the table lock (``ledger audit seal
        --existing``)."""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            PostgresAggregateRecorder._insert_stored_events(self, curs, stored_events)
            curs.execute(SQL("DELETE FROM {}.audit_chain").format(Identifier(self.datastore.schema)))
            self._seal_after(curs, 0)

    def insert_event_chunks(self, chunks: Iterable[tuple[Sequence[StoredEvent], Sequence[SnapshotRow]]]) -> int:
        """Every chunk's events, and the snapshots of the people they bring
        up to date, in one transaction, under the same lock, each chunk by
        COPY as it comes: a month's payroll never needs all its events in
        memory at once. An exception raised while the chunks are made rolls
        everything back. Returns how many events were written.

        The transaction (and the table lock) starts with the first chunk that
        has events: a file that changes nothing opens none, and the server's
        idle-in-transaction timeout only ever spans the making of one chunk."""
        count = 0
        with ExitStack() as transaction:
            curs = None
            for events, snapshots in chunks:
                if not events:
                    continue
                if curs is None:
                    conn = transaction.enter_context(self.datastore.get_connection())
                    transaction.enter_context(conn.transaction())
                    curs = transaction.enter_context(conn.cursor())
                    self._lock_table(curs)
                    self._notify_channel(curs)
                    before = self._last_position(curs)
                self._copy_rows(curs, events)
                self._upsert_snapshots(curs, snapshots)
                count += len(events)
            if curs is not None:
                self._seal_after(curs, before)
        return count

    def _last_position(self, curs) -> int:
        curs.execute(SQL("SELECT coalesce(max(notification_id), 0) AS last FROM {}").format(self._table()))
        return curs.fetchone()["last"]

    def _seal_after(self, curs, before: int) -> None:
        """Seal the rows after ``before``: under the table lock taken first,
        the ones this transaction wrote, read back as stored and chained on
        from the last seal; the seals go in by COPY."""
        chain_table = SQL("{}.audit_chain").format(Identifier(self.datastore.schema))
        curs.execute(SQL("SELECT position, hash FROM {} ORDER BY position DESC LIMIT 1").format(chain_table))
        head = curs.fetchone()
        previous = head["hash"] if head else GENESIS
        select = SQL("SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
                     "WHERE notification_id > %s ORDER BY notification_id LIMIT %s").format(self._table())
        while True:
            curs.execute(select, (before, SEAL_BATCH))
            rows = [(r["notification_id"], r["originator_id"], r["originator_version"], r["topic"], r["state"])
                    for r in curs.fetchall()]
            if not rows:
                return
            sealed = seals(previous, rows)
            with curs.copy(SQL("COPY {} (position, hash) FROM STDIN").format(chain_table)) as copy:
                for row in sealed:
                    copy.write_row(row)
            before, previous = sealed[-1]

    def _upsert_snapshots(self, curs, snapshots: Sequence[SnapshotRow]) -> None:
        """One COPY into a scratch table, one INSERT ... ON CONFLICT."""
        if not snapshots:
            return
        curs.execute(SQL("CREATE TEMP TABLE IF NOT EXISTS _snapshots_in (LIKE {}.{}) ON COMMIT DELETE ROWS"
                         ).format(Identifier(self.datastore.schema), Identifier(SNAPSHOTS)))
        curs.execute("TRUNCATE _snapshots_in")
        with curs.copy("COPY _snapshots_in FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["uuid", "int8", "text", "bytea"])
            for s in snapshots:
                copy.write_row((s.aggregate_id, s.version, s.modified_on, s.state))
        curs.execute(SQL(
            "INSERT INTO {}.{} SELECT * FROM _snapshots_in ON CONFLICT (aggregate_id) DO UPDATE "
            "SET version = EXCLUDED.version, modified_on = EXCLUDED.modified_on, state = EXCLUDED.state"
        ).format(Identifier(self.datastore.schema), Identifier(SNAPSHOTS)))

    def _table(self) -> SQL:
        return SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(self.events_table_name))

    def _copy_rows(self, curs, stored_events: Sequence[StoredEvent]) -> None:
        statement = SQL("COPY {} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)"
                        ).format(self._table())
        with curs.copy(statement) as copy:
            copy.set_types(["uuid", "int8", "text", "bytea"])
            for e in stored_events:
                copy.write_row((e.originator_id, e.originator_version, e.topic, e.state))

    def _copy(self, curs, stored_events: Sequence[StoredEvent]) -> list[int]:
        self._copy_rows(curs, stored_events)
        # Under the table lock nobody else takes numbers from the sequence, so
        # this transaction's notification ids are the last len(events) issued.
        curs.execute(SQL("SELECT max(notification_id) AS last FROM {}").format(self._table()))
        last = curs.fetchone()["last"]
        return list(range(last - len(stored_events) + 1, last + 1))
