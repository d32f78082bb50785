"""The raw baselines: what the database alone takes and gives, on the same
machine, disk and server, in the same run. N event-shaped rows (JSON about
the size of a stored Registered event) written with the fastest plain means
(SQLite: one executemany transaction; PostgreSQL: binary COPY, and a
pipelined executemany), then read back in log order with a JSON decode of
every state (SQLite: keyset pages; PostgreSQL: COPY TO, and keyset pages).
The same reads are run on the ledger's own event rows before a replay."""
from __future__ import annotations

import csv
import json
import random
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .measure import Figure, Meter, stopwatch
from .pg import pg_connect

ACTOR = "bench"
EVENT_TOPIC = "ledger.beneficiary:Beneficiary.Registered"
BENEFICIARY_TOPIC = "ledger.beneficiary:Beneficiary"
RAW_CHUNK_ROWS = 20_000  # raw rows made at a time: memory stays flat at a million
READ_PAGE_ROWS = 5_000  # a keyset page, as the projection runner reads


# --- the rows -------------------------------------------------------------------------

@dataclass(frozen=True)
class RawRow:
    originator_id: uuid.UUID
    originator_version: int
    topic: str
    state: bytes


def event_like_state(registration: dict, timestamp: str, rng: random.Random) -> bytes:
    """JSON shaped and sized like a stored Registered event (about 640 bytes),
    so the raw baseline moves the same bytes as the ledger."""
    def typed(kind: str, text: str) -> dict:
        return {"_type_": kind, "_data_": text}

    children = registration["children_count"]
    document = {
        "timestamp": typed("datetime_iso", timestamp),
        "originator_topic": BENEFICIARY_TOPIC,
        "actor": ACTOR,
        "decision_no": registration["decision_no"],
        "signed_on": typed("date_iso", registration["signed_on"]),
        "effective": typed("month", registration["effective_month"]),
        "fingerprint": f"{rng.getrandbits(96):024x}",
        "citizen_id": registration["citizen_id"],
        "full_name": registration["full_name"],
        "birth_date": typed("date_iso", registration["birth_date"]),
        "sex": registration["sex"],
        "province_code": registration["province_code"],
        "commune_code": registration["commune_code"],
        "categories": registration["category"].split(";"),
        "children_count": int(children) if children else 0,
        "channel": registration["channel"],
        "agent_code": registration["agent_code"],
        "bank_account": registration["bank_account"],
        "home_delivery": registration["home_delivery"] == "y",
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def raw_row_chunks(registrations_csv: Path, seed: int,
                   chunk_rows: int = RAW_CHUNK_ROWS) -> Iterator[list[RawRow]]:
    """One version-1 event per registration under a random id, as the ledger
    writes them (ids spread over the key space), made a chunk at a time from
    the registrations file. Same seed, same rows."""
    rng = random.Random(seed)
    timestamp = datetime(2024, 7, 1, tzinfo=timezone.utc)
    chunk: list[RawRow] = []
    with registrations_csv.open(encoding="utf-8", newline="") as handle:
        for index, registration in enumerate(csv.DictReader(handle)):
            originator_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            moment = timestamp.replace(microsecond=index % 1_000_000).isoformat()
            chunk.append(RawRow(originator_id, 1, EVENT_TOPIC,
                                event_like_state(registration, moment, rng)))
            if len(chunk) == chunk_rows:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


class Decoder:
    """The JSON decode of each state in a raw read: what any replay pays at
    least. An encrypted store's states are not JSON: they are counted, and
    the figure says they were not decoded."""

    def __init__(self) -> None:
        self.count = 0
        self.state_bytes = 0
        self.undecodable = 0

    def __call__(self, state: bytes) -> None:
        self.count += 1
        self.state_bytes += len(state)
        try:
            json.loads(state)
        except ValueError:
            self.undecodable += 1

    def figure(self, took: dict[str, float]) -> Figure:
        return Figure("events", self.count, took["seconds"], took["cpu_seconds"], dict(
            mean_state_bytes=round(self.state_bytes / max(1, self.count), 1),
            json_decoded=self.undecodable == 0))


def decode_keyset_pages(execute: Callable, query: str, decode: Decoder) -> None:
    """Every row after position 0 in log order, a page at a time (the query
    takes the last position and the page size), each state decoded."""
    after = 0
    while True:
        page = execute(query, (after, READ_PAGE_ROWS)).fetchall()
        if not page:
            return
        for row in page:
            decode(row[4])
        after = page[-1][0]


# --- SQLite -----------------------------------------------------------------------------

# The library's SQLite application recorder table, rowid as notification id.
SQLITE_EVENTS_DDL = (
    "CREATE TABLE {table} (originator_id TEXT, originator_version INTEGER, "
    "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
)


def sqlite_raw_executemany(path: Path, chunks: Iterable[list[RawRow]]) -> Figure:
    """All rows with executemany in one transaction, on a connection set up
    as the library sets up its own (WAL, default synchronous)."""
    connection = sqlite3.connect(path, isolation_level=None)
    meter, rows_count = Meter(), 0
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(SQLITE_EVENTS_DDL.format(table="raw_events"))
        with meter.measure():
            connection.execute("BEGIN")
        for chunk in chunks:
            params = [(r.originator_id.hex, r.originator_version, r.topic, r.state) for r in chunk]
            with meter.measure():
                connection.executemany("INSERT INTO raw_events VALUES (?,?,?,?)", params)
            rows_count += len(params)
        with meter.measure():
            connection.execute("COMMIT")
    finally:
        connection.close()
    return meter.figure("rows", rows_count)


def sqlite_keyset_read(path: Path, table: str) -> Figure:
    """Every row in rowid (log) order, a page at a time, each state decoded:
    how the library's SQLite recorder serves notifications."""
    query = (f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "
             "WHERE rowid > ? ORDER BY rowid LIMIT ?")
    decode = Decoder()
    connection = sqlite3.connect(path)
    try:
        with stopwatch() as took:
            decode_keyset_pages(connection.execute, query, decode)
    finally:
        connection.close()
    return decode.figure(took)


# --- PostgreSQL ---------------------------------------------------------------------------

# The library's PostgreSQL application recorder table (eventsourcing 9.5):
# bigint versions, a bigserial notification id with its own unique index,
# and the same autovacuum settings, so the baseline pays the same costs.
PG_EVENTS_DDL = (
    "CREATE TABLE {table} ("
    "originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
    "topic text, state bytea, notification_id bigserial, "
    "PRIMARY KEY (originator_id, originator_version)) "
    "WITH (autovacuum_enabled = true, autovacuum_vacuum_threshold = 100000000, "
    "autovacuum_vacuum_scale_factor = 0.5, autovacuum_analyze_threshold = 1000, "
    "autovacuum_analyze_scale_factor = 0.01)"
)
PG_NOTIFICATION_INDEX_DDL = "CREATE UNIQUE INDEX {table}_nid ON {table} (notification_id ASC)"
PG_INSERT_COLUMNS = "(originator_id, originator_version, topic, state)"
PG_READ_COLUMNS = "notification_id, originator_id, originator_version, topic, state"


def pg_create_events_table(connection, table: str) -> None:
    with connection.transaction():
        connection.execute(PG_EVENTS_DDL.format(table=table))
        connection.execute(PG_NOTIFICATION_INDEX_DDL.format(table=table))


def pg_raw_copy(connection, table: str, chunks: Iterable[list[RawRow]]) -> Figure:
    """Binary COPY: the fastest way in; no SQL parsing per row. One COPY per
    chunk, all in one transaction."""
    statement = f"COPY {table} {PG_INSERT_COLUMNS} FROM STDIN (FORMAT BINARY)"
    meter, rows_count = Meter(), 0
    with connection.cursor() as cursor:  # the connection opens the transaction itself
        for chunk in chunks:
            with meter.measure(), cursor.copy(statement) as copy:
                copy.set_types(["uuid", "int8", "text", "bytea"])
                for row in chunk:
                    copy.write_row((row.originator_id, row.originator_version, row.topic, row.state))
            rows_count += len(chunk)
    with meter.measure():
        connection.commit()
    return meter.figure("rows", rows_count)


def pg_raw_executemany(connection, table: str, chunks: Iterable[list[RawRow]]) -> Figure:
    """One parameterised INSERT per row, sent in pipeline mode in one
    transaction: psycopg's fast path for row-by-row inserts."""
    statement = f"INSERT INTO {table} {PG_INSERT_COLUMNS} VALUES (%s, %s, %s, %s)"
    meter, rows_count = Meter(), 0
    for chunk in chunks:  # the connection opens the transaction at the first one
        params = [(r.originator_id, r.originator_version, r.topic, r.state) for r in chunk]
        with meter.measure(), connection.pipeline(), connection.cursor() as cursor:
            cursor.executemany(statement, params)
        rows_count += len(params)
    with meter.measure():
        connection.commit()
    return meter.figure("rows", rows_count)


def pg_copy_to_read(url: str, table: str) -> Figure:
    """Every row in notification (log) order with binary COPY TO, each state
    decoded: the fastest way out."""
    statement = (f"COPY (SELECT {PG_READ_COLUMNS} FROM {table} ORDER BY notification_id) "
                 "TO STDOUT (FORMAT BINARY)")
    decode = Decoder()
    with pg_connect(url) as connection:
        with stopwatch() as took, connection.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(["int8", "uuid", "int8", "text", "bytea"])
            for row in copy.rows():
                decode(row[4])
    return decode.figure(took)


def pg_keyset_read(url: str, table: str) -> Figure:
    """Every row in notification order, a page at a time (binary results),
    each state decoded: how a polling projection runner reads."""
    query = (f"SELECT {PG_READ_COLUMNS} FROM {table} WHERE notification_id > %s "
             "ORDER BY notification_id LIMIT %s")
    decode = Decoder()
    with pg_connect(url, autocommit=True) as connection:
        with stopwatch() as took, connection.cursor(binary=True) as cursor:
            decode_keyset_pages(cursor.execute, query, decode)
    return decode.figure(took)


# --- the reads, by store, and the baseline stage's worker ----------------------------------

def raw_reads(store: str, url: str, table: str) -> dict[str, tuple[str, Callable[[], Figure]]]:
    """The raw reads of an events table, by key: (label, measure)."""
    if store == "sqlite":
        path = Path(url[len("sqlite:///"):])
        return {"keyset": ("raw keyset read+JSON", lambda: sqlite_keyset_read(path, table))}
    return {"copy_to": ("raw COPY TO+JSON", lambda: pg_copy_to_read(url, table)),
            "keyset": ("raw keyset read+JSON", lambda: pg_keyset_read(url, table))}


def measure_reads(steps, out: dict[str, Any], store: str, url: str, table: str) -> None:
    out["read"] = {}
    for key, (label, measure) in raw_reads(store, url, table).items():
        steps.measure(out["read"], key, label, measure)


def work(work, steps, out: dict[str, Any]) -> None:
    """The raw write, then the raw read of what was written."""
    from .worker import province_file

    registrations = province_file(work, "registrations")
    out["raw"] = {}

    def rows() -> Iterator[list[RawRow]]:
        return raw_row_chunks(registrations, work.seed)

    if work.store == "sqlite":
        path = Path(work.folder) / "raw.db"
        steps.measure(out["raw"], "executemany", "raw executemany",
                      lambda: sqlite_raw_executemany(path, rows()))
        measure_reads(steps, out, "sqlite", f"sqlite:///{path}", "raw_events")
        path.unlink()
        return
    with pg_connect(work.url) as connection:
        pg_create_events_table(connection, "raw_events_copy")
        pg_create_events_table(connection, "raw_events_pipelined")
        steps.measure(out["raw"], "copy_binary", "raw COPY",
                      lambda: pg_raw_copy(connection, "raw_events_copy", rows()))
        steps.measure(out["raw"], "executemany_pipelined", "raw executemany",
                      lambda: pg_raw_executemany(connection, "raw_events_pipelined", rows()))
    measure_reads(steps, out, "postgresql", work.url, "raw_events_copy")
    with pg_connect(work.url, autocommit=True) as connection:
        connection.execute("DROP TABLE raw_events_copy")
        connection.execute("DROP TABLE raw_events_pipelined")
