#!/usr/bin/env python3
"""Benchmarks of the ledger, run as named stages of one command.

    scripts/bench --n 100000 --stores sqlite,postgresql
    scripts/bench --stages import --n 1000 --stores sqlite --json-out bench-results/import.json

One run measures, on each store in turn (a fresh database each), the raw
baselines and then the ledger on a generated province
(``scripts/generate.py``: N beneficiaries, 70 % cash by post offices, 30 %
by banks, later decisions, late death notices):

``baseline``  what the database alone takes and gives, same machine, disk and
              server, same run: N event-shaped rows (about 640 bytes of JSON,
              as a Registered event) written with the fastest plain means
              (SQLite: one executemany transaction; PostgreSQL: binary COPY,
              and a pipelined executemany), then read back in log order with
              a JSON decode of every state (SQLite: keyset pages;
              PostgreSQL: COPY TO, and keyset pages).
``import``    the registrations file: parse+validate, record (the decisions
              and the bulk append of their events; the append alone, from
              the step's save parts, is read against the raw write),
              project, and the same file again.
``cycle``     for each payroll month (2 by default; the second has
              carried-forward cash lines and results): the month's later
              decisions (timed, outside the cycle), then the cycle: payroll
              run (with its files), post office results, bank results, death
              notices, settlement reconcile (the result files as evidence),
              projections caught up. Each step's rows/s beside the raw write.
``replay``    every projection rebuilt from the event log with
              ``Queries.rebuild_into`` into a fresh SQLite file (and, on
              PostgreSQL, into a fresh PostgreSQL database too), checked by
              checksum against the live views; events/s beside a raw read and
              decode of the same event rows just before.
``whatif``    ``Queries.whatif`` over 12 months with the standard level raised
              (``ledger.whatif.with_level``): people/s.

The ledger stages need the baseline (their ratios) and the import (their
data): asking for a later stage runs those too. Every figure is printed with
its ratio to the baseline; all of them, with a table of the goals of issues
3, 6 and 7 (PASS/MISS), are written as JSON (--json-out).

Each stage of each store runs in a process of its own, so its peak memory
(the process's peak resident set, ``ru_maxrss``) is that stage's alone
(a cycle worker also holds the interpreter and the libraries, about 100 MiB;
its start size is reported beside it). ``--profile`` runs every step under
cProfile and reports where the time goes (the figures are then slower).

PostgreSQL comes from ``--postgres-url``, else ``$LEDGER_BENCH_POSTGRES_URL``,
else a durable throwaway server started with ``scripts/pg-tmp.sh`` and
stopped at the end. On a given server the benchmark creates its own
databases and drops them afterwards; it never touches the given database.

The script measures and reports; it never fails because of a figure. It
exits 1 when a step did not finish within --step-timeout, or failed: that
store's run stops there (the figures so far are kept) and the next store runs.
"""
from __future__ import annotations

import argparse
import cProfile
import csv
import functools
import gc
import hashlib
import json
import os
import platform
import pstats
import random
import resource
import shlex
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import defaultdict
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence
from urllib.parse import urlparse, urlunparse

import psycopg
import sqlalchemy as sa
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"
PG_TMP = SCRIPTS / "pg-tmp.sh"
GENERATE = SCRIPTS / "generate.py"
STORES = ("sqlite", "postgresql")
STAGE_ORDER = ("baseline", "import", "cycle", "replay", "whatif")
LEDGER_STAGES = ("import", "cycle", "replay", "whatif")
ACTOR = "bench"
EVENT_TOPIC = "ledger.beneficiary:Beneficiary.Registered"
BENEFICIARY_TOPIC = "ledger.beneficiary:Beneficiary"
RAW_CHUNK_ROWS = 20_000  # raw rows made at a time: memory stays flat at a million
READ_PAGE_ROWS = 5_000  # a keyset page, as the projection runner reads
WHATIF_LEVEL_VND = 600_000
WHATIF_MONTHS_COUNT = 12
MIB = 1024 * 1024


# --- measuring ----------------------------------------------------------------------

@dataclass
class Figure:
    """How long one step took for ``count`` items of ``unit``."""

    unit: str  # "rows", "events", "lines", "people"
    count: int
    seconds: float
    cpu_seconds: float  # this process only: the rest is waiting on the database
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(unit=self.unit, count=self.count, seconds=round(self.seconds, 4),
                    cpu_seconds=round(self.cpu_seconds, 4),
                    per_second=round(self.per_second, 1), **self.extra)


@contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """Wall and CPU seconds of the block, filled in when it ends."""
    result: dict[str, float] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield result
    finally:
        result["seconds"] = time.perf_counter() - wall
        result["cpu_seconds"] = time.process_time() - cpu


class Meter:
    """Adds up the seconds of the measured parts only, so rows made between
    them (the raw baseline's input) are not counted."""

    def __init__(self) -> None:
        self.seconds = self.cpu_seconds = 0.0

    @contextmanager
    def measure(self) -> Iterator[None]:
        with stopwatch() as took:
            yield
        self.seconds += took["seconds"]
        self.cpu_seconds += took["cpu_seconds"]

    def figure(self, unit: str, count: int, **extra: Any) -> Figure:
        return Figure(unit, count, self.seconds, self.cpu_seconds, extra)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (it never goes down)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return round(peak / (MIB if sys.platform == "darwin" else 1024), 1)


class StepTimedOut(BaseException):
    """A step overran --step-timeout. A BaseException, as Ctrl-C is, so that
    broad ``except Exception`` blocks on the way up do not swallow it."""

    def __init__(self, step: str, timeout_seconds: float):
        super().__init__(f"{step}: not finished after {timeout_seconds:g} s")
        self.step = step


@contextmanager
def deadline(timeout_seconds: float | None, step: str) -> Iterator[None]:
    """Raises StepTimedOut inside the block once it has run too long, so a
    hung step (a client and a server each waiting on the other) ends that
    store's run with a report instead of hanging the benchmark. SIGALRM is
    delivered to the main thread, and libpq waits in psycopg check for
    signals, so the exception surfaces where the step is stuck."""
    usable = (timeout_seconds and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return
    armed = True

    def expire(_signum, _frame) -> None:
        if armed:
            raise StepTimedOut(step, timeout_seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout_seconds)
    try:
        yield
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# The project's own packages, to pick their functions out of a profile.
OWN_PACKAGES = ("ledger", "projections", "adapters")
CALL_CHAIN_SHARE = 0.9  # a function with this share of the step is on the way in, not a cost


def _where(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return name  # a built-in
    path = Path(filename)
    shown = f"{path.parent.name}/{path.name}" if path.parent.name in OWN_PACKAGES else path.name
    return f"{shown}:{line}:{name}"


def profile_summary(profile: cProfile.Profile, path: Path, top_count: int = 8) -> dict[str, Any]:
    """Saves the profile and returns its top entries: the project's own
    functions by cumulative time (where the time goes, as the code is
    organised; the chain of calls leading into the step left out), its own
    functions by their own time, and every function by its own time (what
    actually burns it, library code included)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile.dump_stats(path)
    stats = pstats.Stats(profile).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}

    def entry(key, value) -> dict[str, Any]:
        return dict(where=_where(*key), calls=value[1], own_seconds=round(value[2], 3),
                    cumulative_seconds=round(value[3], 3))

    own = [(k, v) for k, v in stats.items()
           if Path(k[0]).parent.name in OWN_PACKAGES and "site-packages" not in k[0]]
    step_seconds = max((v[3] for _, v in own), default=0.0)
    costs = [(k, v) for k, v in own if v[3] < CALL_CHAIN_SHARE * step_seconds]
    by_cumulative = sorted(costs, key=lambda kv: -kv[1][3])[:top_count]
    own_by_own_time = sorted(own, key=lambda kv: -kv[1][2])[:top_count]
    everything = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top_count]
    return dict(file=str(path), own_code_by_cumulative=[entry(k, v) for k, v in by_cumulative],
                own_code_by_own_time=[entry(k, v) for k, v in own_by_own_time],
                all_by_own_time=[entry(k, v) for k, v in everything])


class StoreSteps:
    """One worker's steps in order: each is shown on a progress bar (stderr),
    bounded by the step deadline, optionally profiled, and logged when done,
    so a long run shows where it is."""

    def __init__(self, label: str, *, show: bool, timeout_seconds: float | None,
                 profile_dir: Path | None = None):
        self.label = label
        self.timeout_seconds = timeout_seconds
        self.profile_dir = profile_dir
        self.profiles: dict[str, dict[str, Any]] = {}
        self.current: str | None = None  # the step under way, named in a failure
        self.bar = tqdm(desc=label, unit="step", file=sys.stderr, disable=not show,
                        leave=False, dynamic_ncols=True)

    @contextmanager
    def step(self, name: str) -> Iterator[dict[str, float]]:
        """Times the block; raises StepTimedOut if it overruns."""
        self.bar.set_description(f"{self.label}: {name}")
        self.current = name
        profile = cProfile.Profile() if self.profile_dir else None
        with deadline(self.timeout_seconds, name), stopwatch() as took:
            if profile:
                profile.enable()
            try:
                yield took
            finally:
                if profile:
                    profile.disable()
        if profile:
            file_name = f"{self.label}-{name}".replace(" ", "_").replace("/", "_") + ".prof"
            self.profiles[name] = profile_summary(profile, self.profile_dir / file_name)

    def done(self, name: str, figure: Figure | None = None) -> None:
        text = f"{self.label}: {name}"
        if figure is not None:
            text += (f": {figure.count:,} {figure.unit} in {figure.seconds:.2f} s"
                     f" = {figure.per_second:,.0f} {figure.unit}/s")
        tqdm.write(text, file=sys.stderr)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


class Parts:
    """Where a step's time goes inside the ledger: the seconds spent in a few
    of its methods, wrapped on one ledger's objects (the public methods call
    them through ``self``, so the wrappers see every call). Each method's
    time is its own, without the wrapped methods it calls, so the parts add
    up to at most the step; the rest is parsing, checks and everything else.

    The cyclic garbage collector's pauses are a part of their own: with a
    hundred thousand aggregates alive, a full collection walks all of them,
    and a profiler would charge it to whatever allocation set it off."""

    GC_LABEL = "garbage collector"

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.full_collections = 0
        self._open: list[list] = []  # [label, seconds of wrapped callees]
        self._collecting_since: float | None = None
        gc.callbacks.append(self._on_collection)

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._collecting_since = time.perf_counter()
            return
        if self._collecting_since is None:
            return
        elapsed = time.perf_counter() - self._collecting_since
        self._collecting_since = None
        self.seconds[self.GC_LABEL] += elapsed
        self.full_collections += info.get("generation") == 2
        if self._open:
            self._open[-1][1] += elapsed  # not the interrupted method's own time

    def wrap(self, owner: Any, name: str, label: str) -> None:
        method = getattr(owner, name, None)
        if not callable(method):
            return  # renamed in the ledger: that part is counted in the rest
        parts = self

        @functools.wraps(method)
        def timed(*args, **kwargs):
            frame = [label, 0.0]
            parts._open.append(frame)
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                parts._open.pop()
                parts.seconds[label] += elapsed - frame[1]
                if parts._open:
                    parts._open[-1][1] += elapsed

        object.__setattr__(owner, name, timed)  # also on a frozen dataclass (the runtime)

    def take(self, step_seconds: float) -> dict[str, float]:
        """The parts since the last call, with the rest of the step."""
        taken = {label: round(s, 3) for label, s in self.seconds.items() if s >= 0.0005}
        taken["rest"] = round(max(0.0, step_seconds - sum(self.seconds.values())), 3)
        self.seconds.clear()
        return taken

    def take_full_collections(self) -> int:
        count, self.full_collections = self.full_collections, 0
        return count

    def close(self) -> None:
        if self._on_collection in gc.callbacks:
            gc.callbacks.remove(self._on_collection)


def ledger_parts(ledger) -> Parts:
    parts = Parts()
    app = ledger.runtime.app
    for command in ("record_decisions", "run_payroll", "record_agent_results", "record_deaths"):
        parts.wrap(app, command, "command")
    parts.wrap(app, "beneficiaries", "load aggregates")
    # A plain save encodes then inserts; a streaming command (save_in_chunks)
    # encodes and writes each chunk in turn, inside one transaction.
    parts.wrap(app, "save", "save: encode")
    parts.wrap(app, "_stored_events", "save: encode")
    parts.wrap(app.recorder, "insert_events", "save: insert")
    for write_chunk in ("_copy_rows", "_insert_events"):
        parts.wrap(app.recorder, write_chunk, "save: insert")
    parts.wrap(ledger.runtime, "catch_up", "catch-up: fold")
    parts.wrap(app.recorder, "select_notifications", "catch-up: read")
    parts.wrap(ledger.runtime.chain, "extend", "catch-up: audit seal")
    parts.wrap(ledger.commands, "write_payroll_files", "payroll files")
    return parts


def progress_shown(args: argparse.Namespace) -> bool:
    # Bars on a terminal, or in logs when LEDGER_PROGRESS=1 asks (as the CLI).
    asked = sys.stderr.isatty() or os.environ.get("LEDGER_PROGRESS") == "1"
    return asked and not args.no_progress


def describe_failure(exc: BaseException, step: str | None = None) -> dict[str, Any]:
    """Which step overran or failed and where it was (innermost frames)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.name != "expire"][-5:]
    return dict(step=getattr(exc, "step", step), message=str(exc) or type(exc).__name__,
                kind="timeout" if isinstance(exc, StepTimedOut) else type(exc).__name__,
                where=[f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames])


# --- raw rows -----------------------------------------------------------------------

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
    writes them (ids spread over the key space, not appended in order), made
    a chunk at a time from the registrations file. Same seed, same rows."""
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

    def figure(self, took: dict[str, float], **extra: Any) -> Figure:
        return Figure("events", self.count, took["seconds"], took["cpu_seconds"], dict(
            mean_state_bytes=round(self.state_bytes / max(1, self.count), 1),
            json_decoded=self.undecodable == 0, **extra))


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


# --- SQLite -------------------------------------------------------------------------

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


@dataclass
class SqliteTarget:
    folder: Path
    name: str = "sqlite"
    primary_raw: str = "executemany"
    raw_labels: dict[str, str] = field(default_factory=lambda: {"executemany": "raw executemany"})
    primary_read: str = "keyset"
    read_labels: dict[str, str] = field(default_factory=lambda: {"keyset": "raw keyset read+JSON"})

    def facts(self) -> dict[str, Any]:
        return {"sqlite_version": sqlite3.sqlite_version}

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        path = self.folder / f"ledger-{os.getpid()}-{time.time_ns()}.db"
        yield f"sqlite:///{path}"


# --- PostgreSQL ---------------------------------------------------------------------

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


def psycopg_url(url: str) -> str:
    """The URL as libpq accepts it (no SQLAlchemy driver suffix)."""
    parsed = urlparse(url)
    return urlunparse(parsed._replace(scheme="postgresql"))


def with_database(url: str, dbname: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{dbname}"))


def pg_connect(url: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(psycopg_url(url), connect_timeout=10, **kwargs)


def pg_create_events_table(connection, table: str) -> None:
    with connection.transaction():
        connection.execute(PG_EVENTS_DDL.format(table=table))
        connection.execute(PG_NOTIFICATION_INDEX_DDL.format(table=table))


def pg_raw_copy(connection, table: str, chunks: Iterable[list[RawRow]]) -> Figure:
    """Binary COPY: the fastest way in; no SQL parsing per row. One COPY per
    chunk, all in one transaction, as one save of the whole file would be."""
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


def pg_server_facts(url: str) -> dict[str, Any]:
    """Version and the settings that decide how fast a commit can be."""
    names = ("server_version", "fsync", "synchronous_commit", "full_page_writes",
             "shared_buffers", "wal_level", "max_wal_size")
    with pg_connect(url) as connection:
        return {name: connection.execute(f"SHOW {name}").fetchone()[0] for name in names}


def parse_exports(text: str) -> dict[str, str]:
    """The variables of ``export A=1 B=2`` lines, as pg-tmp.sh prints them."""
    found = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if words[:1] != ["export"]:
            continue
        for word in words[1:]:
            name, _, value = word.partition("=")
            found[name] = value
    return found


@contextmanager
def postgres_server(url: str | None) -> Iterator[str]:
    """The given server, or a durable throwaway one for the length of the run
    (durable: benchmarks must pay for fsync as production does)."""
    if url:
        yield url
        return
    env = dict(os.environ, PGTMP_DURABLE="1")
    started = subprocess.run([str(PG_TMP), "start"], env=env, check=True,
                             stdout=subprocess.PIPE, text=True)
    exports = parse_exports(started.stdout)
    try:
        yield exports["LEDGER_TEST_POSTGRES_URL"]
    finally:
        subprocess.run([str(PG_TMP), "stop", exports["PGTMP_DIR"]], check=False)


@contextmanager
def pg_fresh_database(server_url: str, purpose: str) -> Iterator[str]:
    """A database of our own on the server, dropped at the end whatever
    happens, so runs never see each other's rows."""
    dbname = f"ledger_bench_{purpose}_{datetime.now():%Y%m%d_%H%M%S}_{os.getpid()}"
    with pg_connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    try:
        yield with_database(server_url, dbname)
    finally:
        with pg_connect(server_url, autocommit=True) as admin:
            # FORCE (PostgreSQL 13+) also ends sessions a stopped step left open.
            force = " WITH (FORCE)" if admin.info.server_version >= 130000 else ""
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}"{force}')


@dataclass
class PostgresTarget:
    server_url: str  # any database on the server: only used to create ours
    name: str = "postgresql"
    primary_raw: str = "copy_binary"
    raw_labels: dict[str, str] = field(default_factory=lambda: {
        "copy_binary": "raw COPY", "executemany_pipelined": "raw executemany"})
    primary_read: str = "copy_to"
    read_labels: dict[str, str] = field(default_factory=lambda: {
        "copy_to": "raw COPY TO+JSON", "keyset": "raw keyset read+JSON"})

    def facts(self) -> dict[str, Any]:
        return pg_server_facts(self.server_url)

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        with pg_fresh_database(self.server_url, "run") as url:
            yield url


Target = SqliteTarget | PostgresTarget


# --- the workers: one process per stage and store --------------------------------

@dataclass
class Work:
    """What a worker is asked to do (written by the parent as JSON)."""

    stage: str
    store: str
    url: str  # the ledger's database
    server_url: str | None  # PostgreSQL: where to create more databases
    province: str  # the generated province's folder
    folder: str  # this store's scratch folder
    seed: int
    step_timeout: float | None
    show_progress: bool
    profile_dir: str | None
    result_path: str
    month: str | None = None  # the cycle's payroll month


def load_province(work: Work) -> dict[str, Any]:
    return json.loads((Path(work.province) / "province.json").read_text(encoding="utf-8"))


def province_file(work: Work, entry: dict[str, Any]) -> Path:
    return Path(work.province) / entry["file"]


class BenchLedger:
    """One store's runtime with the commands and queries over it, as the
    ``ledger`` command wires them."""

    def __init__(self, url: str) -> None:
        from adapters.bootstrap import build_runtime
        from adapters.commands import Commands
        from adapters.queries import Queries

        self.runtime = build_runtime(url)
        self.queries = Queries(self.runtime)
        self.commands = Commands(self.runtime, self.queries)

    def close(self) -> None:
        self.runtime.close()


def open_ledger(steps: StoreSteps, url: str, out: dict[str, Any]):
    with steps.step("open ledger") as took:
        ledger = BenchLedger(url)
    out["open"] = Figure("ledgers", 1, **took).as_dict()
    steps.done("open ledger")
    return ledger


def measure_step(steps: StoreSteps, out: dict[str, Any], key: str, label: str,
          run: Callable[[], tuple[str, int, dict[str, Any]]], parts: Parts | None = None) -> Any:
    """Runs one step: ``run`` returns (unit, count, extra); the figure, the
    parts of the step, its profile and the peak memory so far go to
    ``out[key]``. Returns the extra's "value" if any (what the step made)."""
    with steps.step(label) as took:
        unit, count, extra = run()
    value = extra.pop("value", None)
    figure = Figure(unit, count, **took, extra=extra)
    entry = figure.as_dict()
    if parts is not None:
        entry["parts"] = parts.take(figure.seconds)
        entry["gc_full_collections"] = parts.take_full_collections()
    if label in steps.profiles:
        entry["profile"] = steps.profiles[label]
    entry["peak_rss_mib"] = peak_rss_mib()
    out[key] = entry
    steps.done(label, figure)
    return value


def work_baseline(work: Work, steps: StoreSteps, out: dict[str, Any]) -> None:
    registrations = province_file(work, load_province(work)["registrations"])
    out["raw"], out["read"] = {}, {}

    def rows() -> Iterator[list[RawRow]]:
        return raw_row_chunks(registrations, work.seed)

    def keep(group: str, key: str, label: str, measure: Callable[[], Figure]) -> None:
        with steps.step(label):
            figure = measure()
        out[group][key] = dict(figure.as_dict(), peak_rss_mib=peak_rss_mib())
        steps.done(label, figure)

    if work.store == "sqlite":
        path = Path(work.folder) / "raw.db"
        keep("raw", "executemany", "raw executemany", lambda: sqlite_raw_executemany(path, rows()))
        keep("read", "keyset", "raw keyset read+JSON", lambda: sqlite_keyset_read(path, "raw_events"))
        path.unlink()
        return
    with pg_connect(work.url) as connection:
        pg_create_events_table(connection, "raw_events_copy")
        pg_create_events_table(connection, "raw_events_pipelined")
        keep("raw", "copy_binary", "raw COPY", lambda: pg_raw_copy(connection, "raw_events_copy", rows()))
        keep("raw", "executemany_pipelined", "raw executemany",
             lambda: pg_raw_executemany(connection, "raw_events_pipelined", rows()))
    keep("read", "copy_to", "raw COPY TO+JSON", lambda: pg_copy_to_read(work.url, "raw_events_copy"))
    keep("read", "keyset", "raw keyset read+JSON", lambda: pg_keyset_read(work.url, "raw_events_copy"))
    with pg_connect(work.url, autocommit=True) as connection:
        connection.execute("DROP TABLE raw_events_copy")
        connection.execute("DROP TABLE raw_events_pipelined")


def work_import(work: Work, steps: StoreSteps, out: dict[str, Any]) -> None:
    """parse, record, project, then the same file again (records nothing)."""
    from adapters.decisions_file import parse_decisions
    from adapters.gc_pause import without_cycle_collector

    csv_path = province_file(work, load_province(work)["registrations"])
    ledger = open_ledger(steps, work.url, out)
    parts = ledger_parts(ledger)
    try:
        def parse():
            parsed = parse_decisions(csv_path, ledger.runtime.rules.category_codes())
            return "rows", len(parsed.decisions), dict(value=parsed)
        parsed = measure_step(steps, out, "parse", "parse+validate", parse, parts)

        @without_cycle_collector  # as Commands.import_decisions runs the command
        def record():
            outcome = ledger.runtime.app.record_decisions(parsed.decisions, ACTOR)
            return "events", outcome.recorded_events, dict(rows=outcome.rows)
        measure_step(steps, out, "record", "record", record, parts)
        del parsed  # not needed any more: keep the later steps' memory peak honest

        measure_step(steps, out, "project", "project",
              lambda: ("events", ledger.runtime.catch_up(show_progress=False), {}), parts)

        def reimport():
            summary = ledger.commands.import_decisions(csv_path, ACTOR)
            return "rows", summary.rows, dict(recorded_events=summary.recorded_events,
                                              unchanged_rows=summary.unchanged_rows)
        measure_step(steps, out, "reimport", "re-import", reimport, parts)
        out["mean_state_bytes"] = mean_state_bytes(ledger)
    finally:
        parts.close()
        ledger.close()


def mean_state_bytes(ledger) -> float:
    """Average size of a stored event's state, to check the raw rows match it."""
    query = sa.text(f"SELECT avg(length(state)) FROM {ledger.runtime.store.events_table}")
    with ledger.runtime.engine.connect() as connection:
        mean = connection.execute(query).scalar()
    return round(float(mean or 0.0), 1)


def office_day(month) -> str:
    """The day the office handles the month's results and notices: after the
    agents paid (10th to 15th), before the next payroll is drawn up."""
    return month.first_day.replace(day=28).isoformat()


def agents_results(work: Work, payroll_dir: Path, month: str) -> dict[str, Any]:
    """The agents pay the lists and report back (generate.py results), in a
    process of its own: that is the agents' side, neither timed nor counted
    in the cycle's memory."""
    out_dir = Path(work.folder) / "results"
    command = [sys.executable, str(GENERATE), "results", "--payroll-dir", str(payroll_dir),
               "--month", month, "--province", work.province, "--out", str(out_dir)]
    with stopwatch() as took:
        completed = subprocess.run(command, check=True, capture_output=True, text=True)
    made = json.loads(completed.stdout)
    made["seconds"] = round(took["seconds"], 3)
    return made


def import_results(ledger, files: Sequence[dict[str, Any]]) -> tuple[str, int, dict[str, Any]]:
    """Every result file of one kind, one import each (as the agents send them)."""
    rows = recorded = unchanged = suspended = flagged = 0
    statuses: dict[str, int] = defaultdict(int)
    for made in files:
        load = ledger.commands.import_postoffice if made["channel"] == "cash" else ledger.commands.import_bank
        summary = load(made["file"], ACTOR)
        rows += summary.rows
        recorded += summary.recorded
        unchanged += summary.unchanged
        suspended += len(summary.suspended)
        flagged += len(summary.flagged)
        for status, count in made["statuses"].items():
            statuses[status] += count
    return "rows", rows, dict(files=len(files), recorded=recorded, unchanged=unchanged,
                              suspended=suspended, paid_after_death=flagged,
                              statuses=dict(sorted(statuses.items())))


def work_cycle(work: Work, steps: StoreSteps, out: dict[str, Any]) -> None:
    """One payroll month: its decisions, then the cycle, each step timed."""
    from ledger.months import Month

    province = load_province(work)
    month = Month.parse(work.month)
    os.environ["LEDGER_TODAY"] = office_day(month)  # suspensions and corrections are dated
    payroll_dir = Path(work.folder) / "payroll"
    out["month"] = str(month)
    out["office_day"] = os.environ["LEDGER_TODAY"]
    out["steps"] = steps_out = {}
    ledger = open_ledger(steps, work.url, out)
    parts = ledger_parts(ledger)
    try:
        decisions = province_file(work, province["later_decisions"][str(month)])

        def decide():
            summary = ledger.commands.import_decisions(decisions, ACTOR)
            return "rows", summary.rows, dict(recorded_events=summary.recorded_events,
                                              unchanged_rows=summary.unchanged_rows)
        measure_step(steps, steps_out, "decisions", "decisions", decide, parts)

        def payroll():
            summary = ledger.commands.run_payroll(month, payroll_dir, ACTOR)
            return "lines", summary.lines + summary.carried_lines, dict(
                new_lines=summary.lines, carried_lines=summary.carried_lines,
                advance_vnd=summary.amount, carried_vnd=summary.carried_amount,
                files=len(summary.files), issued_now=summary.issued_now)
        measure_step(steps, steps_out, "payroll", "payroll run", payroll, parts)

        made = agents_results(work, payroll_dir, str(month))
        out["agents_results_seconds"] = made["seconds"]
        by_channel = {c: [m for m in made["files"] if m["channel"] == c] for c in ("cash", "bank")}
        measure_step(steps, steps_out, "postoffice", "post office results",
              lambda: import_results(ledger, by_channel["cash"]), parts)
        measure_step(steps, steps_out, "bank", "bank results",
              lambda: import_results(ledger, by_channel["bank"]), parts)

        notices = province["death_notices"][str(month)]

        def deaths():
            if not notices["rows"]:
                return "rows", 0, dict(recorded_events=0)
            summary = ledger.commands.import_deaths(province_file(work, notices), ACTOR)
            return "rows", summary.rows, dict(recorded_events=summary.recorded_events)
        measure_step(steps, steps_out, "deaths", "death notices", deaths, parts)

        evidence = [m["file"] for m in made["files"]]

        def reconcile():
            settlements = ledger.queries.reconcile(month, evidence=evidence)
            variances = sum(len(s.variances) for s in settlements)
            return "rows", sum(m["rows"] for m in made["files"]), dict(
                agents=len(settlements), variances=variances)
        measure_step(steps, steps_out, "reconcile", "reconcile", reconcile, parts)

        measure_step(steps, steps_out, "catch_up", "catch-up",
              lambda: ("events", ledger.runtime.catch_up(show_progress=False), {}), parts)
    finally:
        parts.close()
        ledger.close()


CYCLE_STEPS = ("payroll", "postoffice", "bank", "deaths", "reconcile", "catch_up")


def raw_read_of_ledger_events(ledger, work: Work, steps: StoreSteps, out: dict[str, Any]) -> None:
    """The same rows the replay reads, read raw just before it."""
    store = ledger.runtime.store
    if store.kind == "sqlite":
        path = Path(store.env["SQLITE_DBNAME"])
        read = {"keyset": ("raw keyset read+JSON", lambda: sqlite_keyset_read(path, store.events_table))}
    else:
        read = {"copy_to": ("raw COPY TO+JSON", lambda: pg_copy_to_read(work.url, store.events_table)),
                "keyset": ("raw keyset read+JSON", lambda: pg_keyset_read(work.url, store.events_table))}
    out["read"] = {}
    for key, (label, measure) in read.items():
        with steps.step(label):
            figure = measure()
        out["read"][key] = figure.as_dict()
        steps.done(label, figure)


def replay_into(ledger, steps: StoreSteps, out: dict[str, Any], key: str, label: str,
                url: str, live: dict[str, str]) -> None:
    """Queries.rebuild_into, timed whole (it ends by checksumming the rebuilt
    views); the checksums are then timed alone, to tell the fold from them."""
    from adapters.bootstrap import view_projections
    from adapters.store import open_store
    from projections.runner import checksums

    parts = Parts()  # only the garbage collector's part: nothing is wrapped
    try:
        with steps.step(label) as took:
            rebuilt = ledger.queries.rebuild_into(url, show_progress=False)
        events_count, sums = rebuilt.events, rebuilt.checksums
    finally:
        parts.close()
    figure = Figure("events", events_count, **took)
    engine = open_store(url).engine()
    try:
        with stopwatch() as checksum_took:
            checksums(engine, view_projections(ledger.runtime.rules))
    finally:
        engine.dispose()
    entry = figure.as_dict()
    entry.update(parts=parts.take(figure.seconds), gc_full_collections=parts.take_full_collections(),
                 checksums_seconds=round(checksum_took["seconds"], 3),
                 checksums_match=sums == live,
                 mismatched=sorted(name for name in sums if sums[name] != live.get(name)),
                 peak_rss_mib=peak_rss_mib())
    if label in steps.profiles:
        entry["profile"] = steps.profiles[label]
    out["replays"][key] = entry
    steps.done(label, figure)


def work_replay(work: Work, steps: StoreSteps, out: dict[str, Any]) -> None:
    ledger = open_ledger(steps, work.url, out)
    try:
        with steps.step("live checksums") as took:
            live = ledger.queries.live_checksums()
        out["live_checksums"] = dict(Figure("views", len(live), **took).as_dict(), checksums=live)
        steps.done("live checksums")
        raw_read_of_ledger_events(ledger, work, steps, out)
        out["replays"] = {}
        into = Path(work.folder) / f"replay-{time.time_ns()}.db"
        replay_into(ledger, steps, out, "sqlite_file", "replay into SQLite file", f"sqlite:///{into}", live)
        into.unlink(missing_ok=True)
        if work.store == "postgresql":
            with pg_fresh_database(work.server_url, "replay") as url:
                replay_into(ledger, steps, out, "postgresql", "replay into PostgreSQL", url, live)
    finally:
        ledger.close()


def work_whatif(work: Work, steps: StoreSteps, out: dict[str, Any]) -> None:
    from ledger.months import Month
    from ledger.whatif import with_level

    province = load_province(work)
    first = Month.parse(province["payroll_months"][0]) + 6
    last = first + (WHATIF_MONTHS_COUNT - 1)
    ledger = open_ledger(steps, work.url, out)
    try:
        candidate = with_level(ledger.runtime.rules, WHATIF_LEVEL_VND, first)

        def whatif():
            result = ledger.queries.whatif(candidate, first, last)
            return "people", result.people, dict(
                first=str(first), last=str(last), level_vnd=WHATIF_LEVEL_VND,
                changed_months=len(result.changed),
                changed_people=len({c.citizen_id for c in result.changed}),
                baseline_total_vnd=result.baseline_total, candidate_total_vnd=result.candidate_total,
                difference_vnd=result.difference)
        parts = Parts()  # the garbage collector's part
        try:
            measure_step(steps, out, "whatif", f"what-if {WHATIF_MONTHS_COUNT} months", whatif, parts)
        finally:
            parts.close()
    finally:
        ledger.close()


WORKERS: dict[str, Callable[[Work, StoreSteps, dict[str, Any]], None]] = {
    "baseline": work_baseline, "import": work_import, "cycle": work_cycle,
    "replay": work_replay, "whatif": work_whatif,
}


def run_worker(spec_path: Path) -> int:
    """The worker's side: do one stage on one store, write what was measured
    (also when a step overran or failed) and the process's peak memory."""
    work = Work(**json.loads(spec_path.read_text(encoding="utf-8")))
    if work.stage in LEDGER_STAGES:
        pass  # noqa: F401: counted in the start size, as the libraries are
    out: dict[str, Any] = dict(start_rss_mib=peak_rss_mib(), failure=None)
    label = work.store + (f" {work.month}" if work.month else "") + f" {work.stage}"
    steps = StoreSteps(label, show=work.show_progress, timeout_seconds=work.step_timeout,
                       profile_dir=Path(work.profile_dir) if work.profile_dir else None)
    try:
        WORKERS[work.stage](work, steps, out)
    except (StepTimedOut, Exception) as exc:  # noqa: BLE001: reported, the run goes on
        out["failure"] = describe_failure(exc, steps.current)
        print(f"{label}: {out['failure']['message']}; stopped there. In:\n  "
              + "\n  ".join(out["failure"]["where"]), file=sys.stderr)
    finally:
        steps.close()
    out["peak_rss_mib"] = peak_rss_mib()
    if hasattr(os, "getloadavg"):
        # This stage keeps about one core busy (with the database server, more):
        # much above that, something else was running and the figures suffer.
        out["load_average_1m"] = round(os.getloadavg()[0], 2)
    Path(work.result_path).write_text(json.dumps(out, ensure_ascii=False) + "\n", encoding="utf-8")
    return 1 if out["failure"] else 0


# --- the parent: the province, the stores, the stages -----------------------------

@dataclass
class Run:
    args: argparse.Namespace
    folder: Path  # temporary, removed at the end
    province: Path
    profile_dir: Path | None
    province_months: list[str]  # the payroll months the cycle runs


def generate_province(args: argparse.Namespace, folder: Path) -> tuple[Path, dict[str, Any]]:
    """The province's files, made by generate.py in a process of its own (at
    a million beneficiaries it holds them all at once), or reused from
    --province-dir when they were made with the same parameters."""
    target = args.province_dir or folder / "province"
    wanted = dict(n=args.n, seed=args.seed, months=args.months)
    described = target / "province.json"
    if described.exists():
        known = json.loads(described.read_text(encoding="utf-8"))
        if (known["n"], known["seed"], len(known["payroll_months"])) == tuple(wanted.values()):
            print(f"province: reusing {target}", file=sys.stderr)
            return target, dict(reused=True, generate_seconds=None)
    command = [sys.executable, str(GENERATE), "--n", str(args.n), "--seed", str(args.seed),
               "--months", str(args.months), "--out", str(target)]
    with stopwatch() as took:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    print(f"province: {args.n:,} beneficiaries, {args.months} months, generated in "
          f"{took['seconds']:.1f} s", file=sys.stderr)
    return target, dict(reused=False, generate_seconds=round(took["seconds"], 2))


def province_facts(path: Path, generated: dict[str, Any]) -> dict[str, Any]:
    description = json.loads((path / "province.json").read_text(encoding="utf-8"))
    files_bytes = sum(p.stat().st_size for p in path.rglob("*.csv"))
    return dict(generated, n=description["n"], seed=description["seed"],
                payroll_months=description["payroll_months"], mix=description["mix"],
                registrations_csv_bytes=(path / description["registrations"]["file"]).stat().st_size,
                later_decisions={m: e["rows"] for m, e in description["later_decisions"].items()},
                death_notices={m: e["rows"] for m, e in description["death_notices"].items()},
                deaths=description["deaths"]["rows"], files_bytes=files_bytes)


def worker_time_limit(args: argparse.Namespace) -> float | None:
    """A worker enforces the step deadline itself; this only catches one that
    hangs between steps (a dozen steps at most, plus starting up)."""
    return args.step_timeout * 12 + 120 if args.step_timeout else None


def run_stage_worker(run: Run, target: Target, url: str, stage: str,
                     month: str | None = None) -> dict[str, Any]:
    store_folder = run.folder / target.name
    store_folder.mkdir(exist_ok=True)
    name = f"{stage}-{month}" if month else stage
    result_path = store_folder / f"{name}.result.json"
    result_path.unlink(missing_ok=True)
    work = Work(stage=stage, store=target.name, url=url,
                server_url=getattr(target, "server_url", None), province=str(run.province),
                folder=str(store_folder), seed=run.args.seed,
                step_timeout=run.args.step_timeout or None, show_progress=progress_shown(run.args),
                profile_dir=str(run.profile_dir) if run.profile_dir else None,
                result_path=str(result_path), month=month)
    spec_path = store_folder / f"{name}.spec.json"
    spec_path.write_text(json.dumps(work.__dict__), encoding="utf-8")
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(spec_path)]
    try:
        subprocess.run(command, timeout=worker_time_limit(run.args), stdout=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return dict(failure=dict(step="worker", kind="timeout", where=[],
                                 message=f"killed after {worker_time_limit(run.args):g} s"),
                    peak_rss_mib=None)
    if not result_path.exists():
        return dict(failure=dict(step="worker", kind="crash", where=[],
                                 message="the worker ended without writing its figures"),
                    peak_rss_mib=None)
    return json.loads(result_path.read_text(encoding="utf-8"))


def ratios(figure: dict[str, Any], bases: dict[str, dict[str, Any]]) -> dict[str, float]:
    return {key: round(figure["per_second"] / base["per_second"], 4) if base.get("per_second") else 0.0
            for key, base in bases.items()}


def with_ratios(figure: dict[str, Any], bases: dict[str, dict[str, Any]], key: str = "ratio_to_raw") -> dict:
    figure[key] = ratios(figure, bases)
    return figure


def stage_baseline(run: Run, target: Target, url: str, done: dict[str, Any]) -> dict[str, Any]:
    data = run_stage_worker(run, target, url, "baseline")
    data.update(database=target.facts(), raw_primary=target.primary_raw, raw_labels=target.raw_labels,
                read_primary=target.primary_read, read_labels=target.read_labels)
    return data


def first_import_total(ledger: dict[str, Any]) -> dict[str, Any] | None:
    """What importing the file the first time costs end to end."""
    parts = [ledger.get(k) for k in ("parse", "record", "project")]
    if None in parts:
        return None
    seconds = sum(p["seconds"] for p in parts)
    return Figure("rows", parts[0]["count"], seconds=seconds,
                  cpu_seconds=sum(p["cpu_seconds"] for p in parts)).as_dict()


def append_part(record: dict[str, Any]) -> dict[str, Any] | None:
    """The bulk append inside the record step: the application's save of the
    events the decisions made (mapping, encoding, writing, in one
    transaction), without the decisions themselves. Its wall time is the
    step's "save" parts; the CPU time of the step is not split, so it is
    given as the same."""
    parts = record.get("parts", {})
    seconds = parts.get("save: encode", 0.0) + parts.get("save: insert", 0.0)
    if not seconds:
        return None
    return Figure("events", record["count"], seconds=seconds, cpu_seconds=seconds,
                  extra=dict(from_parts=["save: encode", "save: insert"])).as_dict()


def stage_import(run: Run, target: Target, url: str, done: dict[str, Any]) -> dict[str, Any]:
    baseline = done["baseline"]
    data = run_stage_worker(run, target, url, "import")
    ledger = {key: data.pop(key) for key in ("open", "parse", "record", "project", "reimport")
              if key in data}
    total = first_import_total(ledger)
    if total is not None:
        ledger["first_import"] = total
    append = ledger.get("record") and append_part(ledger["record"])
    if append:
        ledger["append"] = append
    raw = baseline.get("raw", {})
    for key, figure in ledger.items():
        if key != "open":
            with_ratios(figure, raw)
    recorded = ledger.get("record")
    if recorded is not None and recorded["count"] != run.args.n:
        print(f"warning: {target.name}: recorded {recorded['count']:,} events "
              f"for {run.args.n:,} registrations", file=sys.stderr)
    mean_raw = baseline.get("read", {}).get("keyset", {}).get("mean_state_bytes")
    return dict(database=baseline.get("database"), raw_primary=target.primary_raw,
                raw_labels=target.raw_labels, raw=raw, ledger=ledger,
                mean_state_bytes=dict(raw=mean_raw, ledger=data.pop("mean_state_bytes", None)),
                **data)


def stage_cycle(run: Run, target: Target, url: str, done: dict[str, Any]) -> dict[str, Any]:
    raw = done["baseline"].get("raw", {})
    months: dict[str, Any] = {}
    failure = None
    for month in run.province_months:
        data = run_stage_worker(run, target, url, "cycle", month)
        for figure in data.get("steps", {}).values():
            with_ratios(figure, raw)
        reached = [data["steps"][k] for k in CYCLE_STEPS if k in data.get("steps", {})]
        if len(reached) == len(CYCLE_STEPS):
            lines = data["steps"]["payroll"]["count"]
            data["cycle"] = Figure("lines", lines, seconds=sum(f["seconds"] for f in reached),
                                   cpu_seconds=sum(f["cpu_seconds"] for f in reached)).as_dict()
        months[month] = data
        if data.get("failure"):
            failure = data["failure"]
            break
    peaks = [m["peak_rss_mib"] for m in months.values() if m.get("peak_rss_mib")]
    return dict(raw_primary=target.primary_raw, raw_labels=target.raw_labels, raw=raw, months=months,
                peak_rss_mib=max(peaks, default=None), failure=failure)


def stage_replay(run: Run, target: Target, url: str, done: dict[str, Any]) -> dict[str, Any]:
    data = run_stage_worker(run, target, url, "replay")
    baseline_read = done["baseline"].get("read", {})
    for figure in data.get("replays", {}).values():
        with_ratios(figure, data.get("read", {}), "ratio_to_raw_read")
        with_ratios(figure, baseline_read, "ratio_to_baseline_read")
    data.update(read_primary=target.primary_read, read_labels=target.read_labels,
                baseline_read=baseline_read)
    return data


def stage_whatif(run: Run, target: Target, url: str, done: dict[str, Any]) -> dict[str, Any]:
    data = run_stage_worker(run, target, url, "whatif")
    baseline_read = done["baseline"].get("read", {})
    if "whatif" in data:
        with_ratios(data["whatif"], baseline_read, "ratio_to_baseline_read")
    data.update(read_primary=target.primary_read, read_labels=target.read_labels)
    return data


@dataclass(frozen=True)
class Stage:
    run: Callable[[Run, Target, str, dict[str, Any]], dict[str, Any]]
    format: Callable[[str, dict[str, Any]], str]


# --- printing -----------------------------------------------------------------------

HEADER = f"  {'step':<26}{'count':>17}{'seconds':>10}{'per second':>20}{'cpu':>6}  vs baseline"


def _database_line(facts: dict[str, Any] | None) -> str:
    if not facts:
        return ""
    if "sqlite_version" in facts:
        return f"SQLite {facts['sqlite_version']}"
    return (f"PostgreSQL {facts['server_version']}, fsync={facts['fsync']}, "
            f"synchronous_commit={facts['synchronous_commit']}")


NO_RATE_UNITS = ("views", "ledgers")  # counted, but not a throughput


def _figure_line(label: str, figure: dict[str, Any], versus: str = "", indent: str = "  ") -> str:
    count = f"{figure['count']:,} {figure['unit']}"
    rate = "" if figure["unit"] in NO_RATE_UNITS else f"{figure['per_second']:,.0f} {figure['unit']}/s"
    cpu = figure["cpu_seconds"] / figure["seconds"] if figure["seconds"] else 0.0
    return (f"{indent}{label:<{28 - len(indent)}}{count:>17}{figure['seconds']:>10.2f}{rate:>20}"
            f"{cpu:>6.0%}  {versus}").rstrip()


def _versus(figure: dict[str, Any], key: str, labels: dict[str, str], order: Sequence[str]) -> str:
    found = figure.get(key, {})
    return ", ".join(f"{found[k]:.2g}x {labels[k]}" for k in order if k in found)


def _order(primary: str, labels: dict[str, str], present: Iterable[str]) -> list[str]:
    # The primary baseline first: the one to read the ratios against.
    present = set(present)
    return [k for k in dict.fromkeys([primary, *labels]) if k in present]


def _parts_line(figure: dict[str, Any]) -> str | None:
    parts = figure.get("parts")
    if not parts or figure["seconds"] < 0.05:
        return None
    shown = sorted(parts.items(), key=lambda kv: -kv[1])
    return "      " + ", ".join(f"{label} {seconds:.2f}" for label, seconds in shown if seconds >= 0.01)


def _detail_lines(figure: dict[str, Any]) -> list[str]:
    return [line for line in [_parts_line(figure)] if line] + _profile_lines(figure)


def _profile_lines(figure: dict[str, Any], count: int = 5) -> list[str]:
    profile = figure.get("profile")
    if not profile or figure["seconds"] < 0.05:
        return []
    return ["      own code, cumulative s: " + "; ".join(
                f"{e['where']} {e['cumulative_seconds']:.2f}" for e in profile["own_code_by_cumulative"][:count]),
            "      hot spots, own s: " + "; ".join(
                f"{e['where']} {e['own_seconds']:.2f}" for e in profile["all_by_own_time"][:count])]


def _memory_line(data: dict[str, Any], what: str = "this stage's process") -> str:
    peak, start = data.get("peak_rss_mib"), data.get("start_rss_mib")
    if peak is None:
        return "  peak memory: not known (the worker did not report)"
    load = data.get("load_average_1m")
    load_text = f"; machine load average at the end {load:.2f}" if load is not None else ""
    return f"  peak memory ({what}): {peak:,.0f} MiB (started at {start or 0:,.0f} MiB){load_text}"


def _failure_lines(data: dict[str, Any]) -> list[str]:
    failure = data.get("failure")
    if not failure:
        return []
    where = f"; in {failure['where'][-1]}" if failure.get("where") else ""
    return [f"  STOPPED at {failure['step']}: {failure['message']}{where}"]


def format_baseline(store: str, data: dict[str, Any]) -> str:
    lines = [f"{store}  ({_database_line(data.get('database'))})", HEADER]
    for key in _order(data["raw_primary"], data["raw_labels"], data.get("raw", {})):
        lines.append(_figure_line(data["raw_labels"][key], data["raw"][key]))
    for key in _order(data["read_primary"], data["read_labels"], data.get("read", {})):
        lines.append(_figure_line(data["read_labels"][key], data["read"][key]))
    lines += _failure_lines(data)
    lines.append(_memory_line(data))
    return "\n".join(lines)


IMPORT_ROWS = (("parse", "parse+validate"), ("record", "record (decide + append)"),
               ("append", "  of which bulk append"), ("project", "project"),
               ("first_import", "first import total"), ("reimport", "re-import (no-op)"))


def format_import(store: str, data: dict[str, Any]) -> str:
    labels = data["raw_labels"]
    order = _order(data["raw_primary"], labels, data.get("raw", {}))
    lines = [f"{store}  ({_database_line(data.get('database'))})", HEADER]
    for key in order:
        lines.append(_figure_line(labels[key], data["raw"][key]))
    for key, label in IMPORT_ROWS:
        figure = data["ledger"].get(key)
        if figure is not None:
            lines.append(_figure_line(label, figure, _versus(figure, "ratio_to_raw", labels, order)))
            lines += _detail_lines(figure)
    lines += _failure_lines(data)
    reimport = data["ledger"].get("reimport")
    if reimport is not None:
        lines.append(f"  re-import recorded {reimport['recorded_events']:,} events, "
                     f"{reimport['unchanged_rows']:,} rows unchanged")
    state_bytes = data["mean_state_bytes"]
    if state_bytes["ledger"] is not None:
        lines.append(f"  state bytes per event: raw {state_bytes['raw'] or 0:,.0f}, "
                     f"ledger {state_bytes['ledger']:,.0f}")
    lines.append(_memory_line(data))
    return "\n".join(lines)


CYCLE_ROWS = (("decisions", "month's decisions*"), ("payroll", "payroll run"),
              ("postoffice", "post office results"), ("bank", "bank results"),
              ("deaths", "death notices"), ("reconcile", "settlement reconcile"),
              ("catch_up", "projections caught up"))


def _cycle_facts(steps: dict[str, Any]) -> str:
    facts = []
    payroll = steps.get("payroll")
    if payroll:
        facts.append(f"{payroll['new_lines']:,} lines issued ({payroll['advance_vnd']:,} VND), "
                     f"{payroll['carried_lines']:,} carried")
    for key, name in (("postoffice", "post office"), ("bank", "bank")):
        result = steps.get(key)
        if result:
            facts.append(f"{name}: {', '.join(f'{n:,} {s}' for s, n in result['statuses'].items())}"
                         f"; {result['suspended']:,} suspended")
    deaths = steps.get("deaths")
    if deaths:
        facts.append(f"{deaths['count']:,} deaths ({deaths['recorded_events']:,} events)")
    reconcile = steps.get("reconcile")
    if reconcile:
        facts.append(f"{reconcile['agents']} agents, {reconcile['variances']:,} variances")
    return "; ".join(facts)


def format_cycle(store: str, data: dict[str, Any]) -> str:
    labels = data["raw_labels"]
    order = _order(data["raw_primary"], labels, data.get("raw", {}))
    lines = [store, HEADER]
    for key in order:
        lines.append(_figure_line(labels[key], data["raw"][key]))
    for month, month_data in data["months"].items():
        lines.append(f"  month {month}")
        steps = month_data.get("steps", {})
        for key, label in CYCLE_ROWS:
            figure = steps.get(key)
            if figure is None:
                continue
            lines.append(_figure_line(label, figure, _versus(figure, "ratio_to_raw", labels, order), "    "))
            lines += _detail_lines(figure)
        cycle = month_data.get("cycle")
        if cycle:
            lines.append(f"    whole cycle: {cycle['seconds']:.1f} s for {cycle['count']:,} payroll lines"
                         f" (without the month's decisions*)")
        lines.append(f"    {_cycle_facts(steps)}")
        lines += [f"  {line}" for line in _failure_lines(month_data)]
        lines.append("  " + _memory_line(month_data, "this month's process"))
    return "\n".join(lines)


def format_replay(store: str, data: dict[str, Any]) -> str:
    labels = data["read_labels"]
    order = _order(data["read_primary"], labels, data.get("read", {}))
    lines = [store, HEADER]
    live = data.get("live_checksums")
    if live:
        lines.append(_figure_line("live checksums", live))
    for key in order:
        lines.append(_figure_line(labels[key] + "*", data["read"][key]))
    names = {"sqlite_file": "replay into SQLite file", "postgresql": "replay into PostgreSQL"}
    for key, figure in data.get("replays", {}).items():
        versus = _versus(figure, "ratio_to_raw_read", labels, order)
        lines.append(_figure_line(names.get(key, key), figure, versus))
        lines += _detail_lines(figure)
        lines.append(f"      checksums {'match the live views' if figure['checksums_match'] else 'DIFFER: ' + ', '.join(figure['mismatched'])}"
                     f"; of the time, checksumming the rebuilt views {figure['checksums_seconds']:.2f} s")
    lines.append("  * the ledger's own event rows, read just before the replays")
    lines += _failure_lines(data)
    lines.append(_memory_line(data))
    return "\n".join(lines)


def format_whatif(store: str, data: dict[str, Any]) -> str:
    labels = data["read_labels"]
    lines = [store, HEADER]
    figure = data.get("whatif")
    if figure:
        order = _order(data["read_primary"], labels, figure.get("ratio_to_baseline_read", {}))
        lines.append(_figure_line(f"what-if {figure['first']}..{figure['last']}", figure,
                                  _versus(figure, "ratio_to_baseline_read", labels, order)))
        lines += _detail_lines(figure)
        lines.append(f"  level {figure['level_vnd']:,} VND: {figure['changed_people']:,} people change in "
                     f"{figure['changed_months']:,} months, {figure['difference_vnd']:+,} VND")
    lines += _failure_lines(data)
    lines.append(_memory_line(data))
    return "\n".join(lines)


STAGES: dict[str, Stage] = {
    "baseline": Stage(stage_baseline, format_baseline),
    "import": Stage(stage_import, format_import),
    "cycle": Stage(stage_cycle, format_cycle),
    "replay": Stage(stage_replay, format_replay),
    "whatif": Stage(stage_whatif, format_whatif),
}


# --- the goals (issues 3, 6 and 7) ----------------------------------------------------

GOAL_N = 100_000
GOAL_BIG_N = 1_000_000
GUESS_FROM_N = 10_000  # below, the fixed costs hide how memory grows with N


@dataclass
class Goal:
    goal: str
    store: str
    figure: str
    status: str  # PASS, MISS, n/a, not run

    def as_dict(self) -> dict[str, str]:
        return dict(goal=self.goal, store=self.store, figure=self.figure, status=self.status)


def _judge(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _stage_data(report: dict[str, Any], stage: str, store: str) -> dict[str, Any] | None:
    return report["stages"].get(stage, {}).get("stores", {}).get(store)


def goal_bulk_append(report: dict[str, Any], store: str) -> Goal:
    name = "bulk append (save of the import's events) >= 0.25x raw write rows/s"
    data = _stage_data(report, "import", store)
    record = data and data.get("ledger", {}).get("append")
    if not record:
        return Goal(name, store, "", "not run")
    primary = data["raw_primary"]
    ratio = record["ratio_to_raw"].get(primary, 0.0)
    return Goal(name, store, f"{ratio:.3f}x {data['raw_labels'][primary]} ({record['per_second']:,.0f} vs "
                f"{data['raw'][primary]['per_second']:,.0f} /s)", _judge(ratio >= 0.25))


def _main_replay(data: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """PostgreSQL's own replay (into PostgreSQL) when there is one."""
    replays = data.get("replays", {})
    for key in ("postgresql", "sqlite_file"):
        if key in replays:
            return key, replays[key]
    return None


def _replay_of(report: dict[str, Any], store: str) -> tuple[dict, str, dict] | None:
    """The replay stage's data, and its main replay (key, figure), if it ran."""
    data = _stage_data(report, "replay", store)
    found = data and _main_replay(data)
    return (data, *found) if found else None


def goal_replay_ratio(report: dict[str, Any], store: str) -> Goal:
    name = "full replay >= 0.5x raw read+decode of the same rows"
    found = _replay_of(report, store)
    if not found:
        return Goal(name, store, "", "not run")
    data, key, replay = found
    primary = data["read_primary"]
    ratio = replay["ratio_to_raw_read"].get(primary, 0.0)
    return Goal(name, store, f"{ratio:.3f}x {data['read_labels'][primary]} ({replay['per_second']:,.0f} vs "
                f"{data['read'][primary]['per_second']:,.0f} events/s, into {key})", _judge(ratio >= 0.5))


def goal_replay_rate(report: dict[str, Any], store: str) -> Goal:
    name = "full replay >= 100,000 events/s (PostgreSQL)"
    found = _replay_of(report, store)
    if not found:
        return Goal(name, store, "", "not run")
    _, key, replay = found
    status = _judge(replay["per_second"] >= 100_000) if store == "postgresql" else "n/a"
    return Goal(name, store, f"{replay['per_second']:,.0f} events/s into {key}", status)


def _cycles(report: dict[str, Any], store: str) -> dict[str, dict[str, Any]]:
    data = _stage_data(report, "cycle", store)
    return {m: d["cycle"] for m, d in (data or {}).get("months", {}).items() if d.get("cycle")}


def _slowest_cycle(report: dict[str, Any], store: str) -> tuple[str, dict[str, Any]] | None:
    return max(_cycles(report, store).items(), key=lambda mc: mc[1]["seconds"], default=None)


def goal_cycle_seconds(report: dict[str, Any], store: str, limit_seconds: float, issue: str) -> Goal:
    name = f"month cycle at 100,000 <= {limit_seconds:g} s on PostgreSQL ({issue})"
    found = _slowest_cycle(report, store)
    if not found:
        return Goal(name, store, "", "not run")
    month, cycle = found
    n = report["params"]["n"]
    figure = f"{cycle['seconds']:.1f} s (slowest month, {month}, N={n:,})"
    if store != "postgresql":
        return Goal(name, store, figure, "n/a")
    return Goal(name, store, figure, _judge(cycle["seconds"] <= limit_seconds) if n == GOAL_N
                else f"n/a at N={n:,}")


def goal_linear(report: dict[str, Any], store: str, earlier: dict[str, Any] | None) -> Goal:
    name = "cost linear in N: 1,000,000 <= 12x the 100,000 cycle"
    found = _slowest_cycle(report, store)
    if not found:
        return Goal(name, store, "", "not run")
    earlier_found = _slowest_cycle(earlier, store) if earlier else None
    if not earlier_found:
        return Goal(name, store, "needs --scale-against a run at another N", "n/a")
    # The same payroll month in both runs when they share one (the first
    # month has no carried lines, the second has): like is compared with like.
    common = [(m, c, _cycles(earlier, store)[m]) for m, c in _cycles(report, store).items()
              if m in _cycles(earlier, store)]
    if common:
        month, mine, theirs = max(common, key=lambda x: x[1]["seconds"] / max(x[2]["seconds"], 1e-9))
        found, earlier_found = (month, mine), (month, theirs)
    n, earlier_n = report["params"]["n"], earlier["params"]["n"]
    small, big = sorted([(earlier_n, earlier_found[1]["seconds"]), (n, found[1]["seconds"])])
    if small[0] == big[0]:
        return Goal(name, store, f"both runs at N={n:,}", "n/a")
    allowed = 1.2 * big[0] / small[0]  # 12x for ten times as many people
    times = big[1] / small[1] if small[1] else float("inf")
    return Goal(name, store, f"{times:.1f}x the time for {big[0] / small[0]:g}x the people "
                f"({found[0]}: {small[1]:.1f} s at {small[0]:,}, {big[1]:.1f} s at {big[0]:,}; "
                f"allowed {allowed:.1f}x)",
                _judge(times <= allowed))


def goal_cycle_memory(report: dict[str, Any], store: str) -> Goal:
    name = "month cycle peak memory <= 1 GiB at 1,000,000"
    data = _stage_data(report, "cycle", store)
    months = [d for d in (data or {}).get("months", {}).values() if d.get("peak_rss_mib")]
    if not months:
        return Goal(name, store, "", "not run")
    worst = max(months, key=lambda d: d["peak_rss_mib"])
    n = report["params"]["n"]
    figure = f"{worst['peak_rss_mib']:,.0f} MiB peak ({worst['month']}, N={n:,})"
    if n == GOAL_BIG_N:
        return Goal(name, store, figure, _judge(worst["peak_rss_mib"] <= 1024))
    if n >= GUESS_FROM_N:
        # What grows with N is the peak above the interpreter and libraries.
        start = worst.get("start_rss_mib") or 0.0
        guess = start + (worst["peak_rss_mib"] - start) * GOAL_BIG_N / n
        figure += f"; if it grows linearly, {guess:,.0f} MiB at 1,000,000"
    return Goal(name, store, figure, f"n/a at N={n:,}")


def evaluate_goals(report: dict[str, Any], stores: Sequence[str], earlier: dict[str, Any] | None) -> list[Goal]:
    goals = []
    for store in stores:
        goals += [goal_bulk_append(report, store), goal_replay_ratio(report, store),
                  goal_replay_rate(report, store),
                  goal_cycle_seconds(report, store, 30, "issue 7"),
                  goal_cycle_seconds(report, store, 60, "issue 3"),
                  goal_linear(report, store, earlier), goal_cycle_memory(report, store)]
    order = {g: i for i, g in enumerate(dict.fromkeys(goal.goal for goal in goals))}
    return sorted(goals, key=lambda g: (order[g.goal], stores.index(g.store)))


def format_goals(goals: Sequence[Goal]) -> str:
    width = max(len(g.goal) for g in goals)
    status_width = max(len(g.status) for g in goals)
    lines = [f"  {'goal':<{width}}  {'store':<11} {'status':<{status_width}}  figure"]
    for goal in goals:
        lines.append(f"  {goal.goal:<{width}}  {goal.store:<11} {goal.status:<{status_width}}  {goal.figure}".rstrip())
    return "\n".join(lines)


# --- command line -------------------------------------------------------------------

# Settings read from the environment by the library (and LEDGER_CIPHER_KEY by
# the store): they change what is measured, so a result must say which were
# set. Secrets are recorded as set, never by value.
SETTING_PREFIXES = ("PERSISTENCE_", "POSTGRES_", "SQLITE_", "LEDGER_POSTGRES_", "LEDGER_SQLITE_",
                    "LEDGER_CIPHER", "CIPHER_", "COMPRESSOR_", "IS_SNAPSHOTTING")
SECRET_MARKS = ("PASSWORD", "KEY")


def library_settings() -> dict[str, str]:
    return {name: "(set)" if any(mark in name for mark in SECRET_MARKS) else value
            for name, value in sorted(os.environ.items()) if name.startswith(SETTING_PREFIXES)}


CODE_FOLDERS = ("ledger", "projections", "adapters")


def code_digests() -> dict[str, str]:
    """A digest of every file of the measured code as it is on disk now."""
    return {path.relative_to(REPO).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in CODE_FOLDERS for path in sorted((REPO / folder).rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts}


def code_changed_since(digests: dict[str, str]) -> list[str]:
    """The code files that changed, appeared or went since the digests were
    taken: a worker starts a fresh interpreter, so code edited during a run
    is measured from then on."""
    now = code_digests()
    return sorted(path for path in digests.keys() | now.keys() if digests.get(path) != now.get(path))


def code_facts() -> dict[str, Any]:
    """Which code was measured: the commit, the files changed since, and a
    digest of those changes."""
    def git(*words: str) -> str:
        return subprocess.run(["git", *words], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout
    try:
        # "XY path" lines: the two status letters may be blanks, so nothing is stripped.
        changed = git("status", "--porcelain", "--untracked-files=no").splitlines()
        return dict(commit=git("rev-parse", "HEAD").strip(), uncommitted_changes=bool(changed),
                    changed_files=sorted(line[3:] for line in changed),
                    changes_sha256=hashlib.sha256(git("diff", "HEAD").encode()).hexdigest())
    except (OSError, subprocess.CalledProcessError):
        return {}


def machine_facts() -> dict[str, Any]:
    facts: dict[str, Any] = dict(
        cpu_count=os.cpu_count(),
        python=platform.python_version(),
        implementation=platform.python_implementation(),
        platform=platform.platform(),
        sqlite=sqlite3.sqlite_version,
    )
    if hasattr(os, "sched_getaffinity"):
        facts["usable_cpu_count"] = len(os.sched_getaffinity(0))
    if hasattr(os, "getloadavg"):
        # Another busy process skews every figure: say how idle the machine was.
        facts["load_average_1m_at_start"] = round(os.getloadavg()[0], 2)
    for package in ("eventsourcing", "psycopg", "sqlalchemy", "pydantic"):
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            total_kib = int(meminfo.readline().split()[1])
        facts["memory_mib"] = total_kib // 1024
    except (OSError, ValueError, IndexError):
        pass
    return facts


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", default=",".join(STAGE_ORDER),
                        help=f"comma-separated, run in this order: {', '.join(STAGE_ORDER)} "
                             "(default all; a ledger stage brings baseline and import with it)")
    parser.add_argument("--n", type=int, default=100_000, help="beneficiaries (default 100000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--months", type=int, default=2, help="payroll months the cycle runs (default 2)")
    parser.add_argument("--stores", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql (default both)")
    parser.add_argument("--postgres-url",
                        help="server to create throwaway databases on (default "
                             "$LEDGER_BENCH_POSTGRES_URL, else a server started for the run)")
    parser.add_argument("--province-dir", type=Path,
                        help="keep the generated province here, and reuse it if it has the same "
                             "--n, --seed and --months (default: a temporary folder)")
    parser.add_argument("--json-out", type=Path,
                        help="default bench-results/<stages>-<n>-<timestamp>.json")
    parser.add_argument("--scale-against", type=Path, metavar="JSON",
                        help="an earlier result at another N: judge whether the cycle's cost is linear")
    parser.add_argument("--step-timeout", type=float, default=900.0, metavar="SECONDS",
                        help="stop a store's run when one step takes longer (default 900; "
                             "0 = no limit)")
    parser.add_argument("--profile", action="store_true",
                        help="run every step under cProfile (slower); profiles beside --json-out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    asked = _choices(parser, "--stages", args.stages, STAGES)
    needed = set(asked) | ({"baseline", "import"} if set(asked) & set(LEDGER_STAGES) else set())
    args.stages = [stage for stage in STAGE_ORDER if stage in needed]
    args.added_stages = [stage for stage in args.stages if stage not in asked]
    args.stores = _choices(parser, "--stores", args.stores, STORES)
    if args.n < 1 or args.months < 1:
        parser.error("--n and --months must be at least 1")
    args.postgres_url = args.postgres_url or os.environ.get("LEDGER_BENCH_POSTGRES_URL")
    return args


def _choices(parser: argparse.ArgumentParser, option: str, text: str, known) -> list[str]:
    chosen = [word.strip() for word in text.split(",") if word.strip()]
    unknown = [word for word in chosen if word not in known]
    if unknown or not chosen:
        parser.error(f"{option}: expected some of {', '.join(known)}, got {text!r}")
    return chosen


def default_json_out(stages: Sequence[str], n: int, started: datetime) -> Path:
    return REPO / "bench-results" / f"{'-'.join(stages)}-{n}-{started:%Y%m%d-%H%M%S}.json"


def run_store(run: Run, target: Target, report: dict[str, Any]) -> None:
    """Every stage on one fresh database; a stage that stopped ends the store's run."""
    done: dict[str, Any] = {}
    stopped = None
    with target.fresh_database() as url:
        for name in run.args.stages:
            if stopped:
                data = dict(skipped=f"{stopped} stopped", failure=None)
            else:
                data = STAGES[name].run(run, target, url, done)
                done[name] = data
                if data.get("failure"):
                    stopped = name
            report["stages"].setdefault(name, {"stores": {}})["stores"][target.name] = data
            print(f"== stage {name}: {run.args.n:,} beneficiaries, seed {run.args.seed}, {target.name} ==")
            print(f"{target.name}: skipped ({data['skipped']})" if "skipped" in data
                  else STAGES[name].format(target.name, data))
            print(flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        return run_worker(Path(argv[1]))
    args = parse_args(argv)
    digests = code_digests()
    started = datetime.now()
    json_out = args.json_out or default_json_out(args.stages, args.n, started)
    report: dict[str, Any] = dict(
        started_at=started.astimezone().isoformat(timespec="seconds"),
        command=[Path(sys.argv[0]).name, *argv],
        params=dict(stages=args.stages, n=args.n, seed=args.seed, months=args.months, stores=args.stores,
                    step_timeout_seconds=args.step_timeout, profile=args.profile),
        machine=machine_facts(),
        code=code_facts(),
        library_settings=library_settings(),
        stages={},
    )
    if args.added_stages:
        print(f"also running {', '.join(args.added_stages)}: the stages asked for need them", file=sys.stderr)
    if report["library_settings"]:
        print("library settings from the environment: " + ", ".join(
            f"{k}={v}" for k, v in report["library_settings"].items()))
    profile_dir = json_out.with_name(json_out.stem + "-profiles") if args.profile else None
    # A server is started only when PostgreSQL is measured and none was given.
    server = postgres_server(args.postgres_url) if "postgresql" in args.stores else nullcontext()
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as folder, server as pg_url:
        province, generated = generate_province(args, Path(folder))
        report["province"] = province_facts(province, generated)
        if "import" in args.stages:
            report["stages"]["import"] = dict(input=dict(
                registrations=args.n, seed=args.seed,
                csv_bytes=report["province"]["registrations_csv_bytes"],
                generate_seconds=generated["generate_seconds"]), stores={})
        run = Run(args, Path(folder), province, profile_dir,
                  report["province"]["payroll_months"][:args.months])
        targets = [SqliteTarget(Path(folder)) if store == "sqlite" else PostgresTarget(pg_url)
                   for store in args.stores]
        for target in targets:
            if target.name == "postgresql":
                report["machine"]["postgresql_server_version"] = target.facts()["server_version"]
            run_store(run, target, report)
    earlier = json.loads(args.scale_against.read_text(encoding="utf-8")) if args.scale_against else None
    goals = evaluate_goals(report, args.stores, earlier)
    report["goals"] = [goal.as_dict() for goal in goals]
    print(f"== goals (issues 3, 6, 7) at N={args.n:,} ==")
    print(format_goals(goals))
    report["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    report["finished_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
    changed = code_changed_since(digests)
    report["code"]["changed_during_run"] = changed
    if changed:
        print(f"warning: the code changed during the run: {', '.join(changed)}", file=sys.stderr)
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"figures written to {json_out}")
    # Slow is a figure, not a failure; a step that never finished is one.
    return 1 if stopped_steps(report) else 0


def stopped_steps(report: dict[str, Any]) -> list[str]:
    return [f"{stage}/{store}: {data['failure']['step']}"
            for stage, result in report["stages"].items()
            for store, data in result.get("stores", {}).items() if data.get("failure")]


if __name__ == "__main__":
    sys.exit(main())
