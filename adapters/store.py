"""Store selection: one URL names where the events and the read models live.

``sqlite:///path.db`` (the embedded default) or
``postgresql://user:pass@host:port/dbname``. The event store is the
eventsourcing library's recorder; read models use SQLAlchemy on the same
database, so a projection can write its rows and its position together.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence
from urllib.parse import unquote, urlparse
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy import event as sa_event

DEFAULT_URL = "sqlite:///ledger.db"


class StoreURLError(ValueError):
    pass


@dataclass(frozen=True)
class Store:
    url: str
    kind: str  # "sqlite" or "postgresql"
    env: Mapping[str, str]  # eventsourcing persistence settings
    sqlalchemy_url: str
    events_table: str
    cipher_key: str | None = field(default=None, repr=False)  # also encrypts the views' personal columns (projections/personal.py)

    def key(self, aggregate_id: UUID):
        """An aggregate id as this store keeps it (SQLite: 32 hex digits)."""
        return aggregate_id.hex if self.kind == "sqlite" else aggregate_id

    def engine(self) -> sa.Engine:
        engine = sa.create_engine(self.sqlalchemy_url, future=True)
        if self.kind == "sqlite":
            sa_event.listen(engine, "connect", _sqlite_pragmas)
        if self.cipher_key:
            from projections.personal import DIALECT_ATTRIBUTE

            from .personal_cipher import ViewCipher

            # Each engine has its own dialect: the key stays with this store.
            setattr(engine.dialect, DIALECT_ATTRIBUTE, ViewCipher(self.cipher_key))
        return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _cipher_settings(key: str | None) -> dict[str, str]:
    """Personal data at rest (names, citizen ids, bank accounts, in every
    stored event and snapshot) is encrypted with AES-GCM when a cipher key is
    set, through the event store's own cipher support."""
    if not key:
        return {}
    return {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher", "CIPHER_KEY": key}


def _common_settings(cipher_key: str | None) -> dict[str, str]:
    # The same stored format as the library's transcoder, on orjson.
    return {"TRANSCODER_TOPIC": "adapters.transcoder:OrjsonTranscoder", **_cipher_settings(cipher_key)}


def resolve_url(url: str | None) -> str:
    return url or os.environ.get("LEDGER_DATABASE_URL") or DEFAULT_URL


def open_store(url: str | None = None, cipher_key: str | None = None) -> Store:
    """The store a URL names (without one: $LEDGER_DATABASE_URL, then the
    embedded default); ``cipher_key`` encrypts its events and snapshots."""
    url = resolve_url(url)
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute/path.db, as SQLAlchemy.
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        if not path:
            raise StoreURLError(f"expected sqlite:///PATH, got {url!r}")
        path = str(Path(path).resolve())
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": "adapters.sqlite_recorder:LedgerSqliteRecorder",
            **_common_settings(cipher_key),
        }
        return Store(url, "sqlite", env, f"sqlite:///{path}", "stored_events", cipher_key or None)
    if parsed.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        dbname = parsed.path.lstrip("/")
        if not dbname:
            raise StoreURLError(f"no database name in {url!r}")
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": parsed.hostname or "localhost",
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            "POSTGRES_CONNECT_TIMEOUT": "10",
            "POSTGRES_POOL_SIZE": "2",
            # A streaming command keeps its transaction open while it makes
            # the next chunk of events (see pg_recorder.py): more than the
            # library's 5 s, in case a chunk is slow on a loaded machine.
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "60",
            # Same guarantees as the library's recorder, without its pipelined
            # INSERT that deadlocks on large batches (see pg_recorder.py).
            "APPLICATION_RECORDER_TOPIC": "adapters.pg_recorder:LedgerPostgresRecorder",
            **_common_settings(cipher_key),
        }
        netloc = parsed.netloc
        return Store(url, "postgresql", env, f"postgresql+psycopg://{netloc}/{dbname}",
                     "ledger_events", cipher_key or None)
    raise StoreURLError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def as_uuid(value) -> UUID:
    """An aggregate id read back from either store."""
    return value if isinstance(value, UUID) else UUID(str(value))


def events_of(store: Store, engine: sa.Engine, mapper, ids: Sequence[UUID], batch_ids: int = 500,
              topics: Sequence[str] = ()) -> Iterator[tuple[UUID, object]]:
    """The stored events of the given aggregates (those of ``topics`` only,
    if given), decoded, a batch of ids per query, in (aggregate, version)
    order within each batch."""
    from eventsourcing.persistence import StoredEvent

    where = "originator_id IN :ids" + (" AND topic IN :topics" if topics else "")
    query = sa.text(f"SELECT originator_id, originator_version, topic, state FROM {store.events_table} "
                    f"WHERE {where} ORDER BY originator_id, originator_version"
                    ).bindparams(*(sa.bindparam(n, expanding=True) for n in (("ids", "topics") if topics else ("ids",))))
    with engine.connect() as conn:
        for start in range(0, len(ids), batch_ids):
            params = {"ids": [store.key(i) for i in ids[start:start + batch_ids]]}
            if topics:
                params["topics"] = list(topics)
            for originator_id, version, topic, state in conn.execute(query, params):
                oid = as_uuid(originator_id)
                yield oid, mapper.to_domain_event(StoredEvent(oid, version, topic, bytes(state)))


class EventReplayLoader:
    """Reconstructs many aggregates from all their events, one query per
    batch of ids: exactly what the library's ``repository.get`` returns (the
    reference the snapshot loader is tested against)."""

    def __init__(self, store: Store, app) -> None:
        self.store = store
        self.app = app
        self.engine = store.engine()

    def __call__(self, ids: Sequence[UUID]) -> dict[UUID, object]:
        found: dict[UUID, object] = {}
        for oid, event in events_of(self.store, self.engine, self.app.mapper, ids):
            found[oid] = event.mutate(found.get(oid))
        return found

    def close(self) -> None:
        self.engine.dispose()


def raw_event_rows(store: Store, engine: sa.Engine):
    """Stored event rows after a position, in log order, exactly as stored:
    (position, aggregate id, version, topic, state bytes)."""
    position = "rowid" if store.kind == "sqlite" else "notification_id"

    def read(after: int, limit: int) -> list[tuple]:
        query = sa.text(f"SELECT {position}, originator_id, originator_version, topic, state "
                        f"FROM {store.events_table} WHERE {position} > :after "
                        f"ORDER BY {position} LIMIT :limit")
        with engine.connect() as conn:
            return [(p, as_uuid(o), v, t, bytes(s))
                    for p, o, v, t, s in conn.execute(query, {"after": after, "limit": limit})]
    return read


def last_position(store: Store, engine: sa.Engine) -> int:
    """The log position of the last stored event (0: none)."""
    position = "rowid" if store.kind == "sqlite" else "notification_id"
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT coalesce(max({position}), 0) FROM {store.events_table}")).scalar()


def raw_event_rows_of(store: Store, engine: sa.Engine, aggregate_id: UUID) -> list[tuple]:
    """One aggregate's stored rows with their log positions, in log order."""
    position = "rowid" if store.kind == "sqlite" else "notification_id"
    key = store.key(aggregate_id)
    query = sa.text(f"SELECT {position}, originator_id, originator_version, topic, state "
                    f"FROM {store.events_table} WHERE originator_id = :id ORDER BY {position}")
    with engine.connect() as conn:
        return [(p, as_uuid(o), v, t, bytes(s))
                for p, o, v, t, s in conn.execute(query, {"id": key})]


class EventFactsHistory:
    """A person's facts before a version, folded from their decision and
    death events as stored (payout events are not even read): what the
    entitlements view needs when a later decision changes someone, without
    keeping any per-person state of its own."""

    def __init__(self, store: Store, engine: sa.Engine, mapper) -> None:
        from eventsourcing.utils import get_topic

        from projections.entitlements import FACT_EVENTS

        self.store, self.engine, self.mapper = store, engine, mapper
        self.topics = sorted({get_topic(cls) for base in FACT_EVENTS for cls in (base, *_subclasses(base))})

    def facts_before(self, versions: dict[UUID, int]) -> dict:
        found: dict = {}
        for oid, event in events_of(self.store, self.engine, self.mapper, list(versions), topics=self.topics):
            if event.originator_version < versions[oid]:
                found[oid] = event.evolve(found.get(oid))
        return found


def _subclasses(cls) -> list:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found
