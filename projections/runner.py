"""Runs projections by polling the notification log.

SQLite recorders cannot subscribe, so one runner that reads
``recorder.select_notifications`` in batches serves SQLite and PostgreSQL
alike. Each batch is decoded once and handed to every projection that has
not seen it; all their rows and their new positions are written in one
transaction, so a view is never ahead of or behind its own position.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Protocol, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

metadata = sa.MetaData()

tracking = sa.Table(
    "projection_tracking", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    # What the rows were computed with (code version and rule fingerprint):
    # when it differs from the running projection's, the view is rebuilt.
    sa.Column("version", sa.String(64), nullable=False),
)


class Projection(Protocol):
    name: str
    tables: Sequence[sa.Table]

    def version(self) -> str: ...

    def process(self, conn: Connection, events: Sequence[tuple[int, object]]) -> None:
        """Fold events (notification id, domain event) into the view."""


ProgressFn = Callable[[int], None]


class ProjectionRunner:
    BATCH = 5000

    def __init__(self, engine: sa.Engine, recorder, mapper, projections: Sequence[Projection]):
        self.engine = engine
        self.recorder = recorder
        self.mapper = mapper
        self.projections = list(projections)

    def create_tables(self) -> None:
        metadata.create_all(self.engine)

    def positions(self, conn: Connection) -> dict[str, int]:
        """Each projection's position, resetting views computed under another
        version (e.g. a changed rule file) so that they are rebuilt."""
        rows = {r.name: r for r in conn.execute(sa.select(tracking))}
        positions = {}
        for projection in self.projections:
            row = rows.get(projection.name)
            if row is None or row.version != projection.version():
                self._reset(conn, projection)
                positions[projection.name] = 0
            else:
                positions[projection.name] = row.position
        return positions

    def _reset(self, conn: Connection, projection: Projection) -> None:
        # Dropped and made anew, not just emptied: a new version of a view
        # may have another shape (a column added), and the rows are derived.
        for table in reversed(projection.tables):
            table.drop(conn, checkfirst=True)
        for table in projection.tables:
            table.create(conn)
        conn.execute(tracking.delete().where(tracking.c.name == projection.name))
        conn.execute(tracking.insert().values(
            name=projection.name, position=0, version=projection.version()))

    def _moved_by_another_runner(self, conn: Connection, positions: dict[str, int]) -> bool:
        """Lock our tracking rows (PostgreSQL) and check nobody else advanced
        them since we read them: two commands catching up at once must not
        fold the same events twice."""
        query = sa.select(tracking.c.name, tracking.c.position).with_for_update()
        current = {name: position for name, position in conn.execute(query)}
        return any(current.get(name) != position for name, position in positions.items())

    def rebuild(self, progress: ProgressFn | None = None) -> int:
        with self.engine.begin() as conn:
            for projection in self.projections:
                self._reset(conn, projection)
        return self.catch_up(progress)

    def pending(self) -> int:
        """How many notifications the most lagging projection has yet to see."""
        last = self.recorder.max_notification_id() or 0
        with self.engine.begin() as conn:
            positions = self.positions(conn)
        return max((last - p for p in positions.values()), default=0)

    def catch_up(self, progress: ProgressFn | None = None, stop: int | None = None,
                 until: datetime | None = None) -> int:
        """Fold every recorded event not yet seen; returns how many were read.
        With ``until``, the fold ends at the first event recorded after that
        time: the views become what the ledger knew then, at a cost that
        grows with the events recorded before it, not with the whole log."""
        seen = 0
        with self.engine.begin() as conn:
            positions = self.positions(conn)
        while True:
            start = min(positions.values(), default=0)
            notifications = self.recorder.select_notifications(
                start=start, limit=self.BATCH, stop=stop, inclusive_of_start=False)
            if not notifications:
                return seen
            decoded = [(n.id, self.mapper.to_domain_event(n)) for n in notifications]
            later = False
            if until is not None:
                # The log is in recorded order: from the first event recorded
                # after ``until`` on, everything is later still.
                cut = next((k for k, (_, e) in enumerate(decoded) if e.timestamp > until), None)
                if cut is not None:
                    decoded, later = decoded[:cut], True
            last_id = notifications[-1].id
            with self.engine.begin() as conn:
                if self._moved_by_another_runner(conn, positions):
                    positions = self.positions(conn)
                    continue
                for projection in self.projections:
                    position = positions[projection.name]
                    fresh = [(i, e) for i, e in decoded if i > position]
                    if fresh:
                        projection.process(conn, fresh)
                    # The position moves past the whole batch even when nothing
                    # in it was for this view (or known by ``until``).
                    conn.execute(tracking.update()
                                 .where(tracking.c.name == projection.name)
                                 .values(position=last_id))
                    positions[projection.name] = last_id
            seen += len(notifications)
            if progress:
                progress(len(notifications))
            if later:
                return seen


def checksums(engine: sa.Engine, projections: Sequence[Projection]) -> dict[str, str]:
    """A SHA-256 per projection over its rows in a canonical order and form,
    the same whichever database holds them."""
    import hashlib

    import orjson

    out = {}
    with engine.connect() as conn:
        for projection in projections:
            digest = hashlib.sha256()
            for table in projection.tables:
                rows = sorted(orjson.dumps([int(v) if isinstance(v, bool) else v for v in row])
                              for row in conn.execute(sa.select(table)))
                digest.update(f"{table.name}:{len(rows)}\n".encode())
                for row in rows:
                    digest.update(row)
                    digest.update(b"\n")
            out[projection.name] = digest.hexdigest()
    return out
