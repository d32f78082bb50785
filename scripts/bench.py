#!/usr/bin/env python3
"""Benchmarks of the ledger, run as named stages of one command.

    python scripts/bench.py --stages import --n 100000 \
        --stores sqlite,postgresql --json-out bench-results/import.json

Stage ``import``: a synthetic decisions file of N registrations is imported
into a fresh database per store. Before the ledger runs, the same process
inserts N event-sized rows into a table shaped like the library's events
table with the fastest plain means the driver offers (SQLite: one
``executemany`` transaction; PostgreSQL: binary COPY and a pipelined
``executemany``). That raw baseline is measured on the same machine, disk
and server in the same run, so each ledger figure can be read as a fraction
of what the database alone can take.

PostgreSQL comes from ``--postgres-url``, else ``$LEDGER_BENCH_POSTGRES_URL``,
else a durable throwaway server started with ``scripts/pg-tmp.sh`` and
stopped at the end. On a given server the benchmark creates its own
database and drops it afterwards; it never touches the given database.

The script measures and reports; it never fails because of a figure. It
exits 1 only when a step did not finish within --step-timeout: that store's
run stops there (the figures so far are kept) and the next store runs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
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
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import urlparse, urlunparse

import psycopg
import sqlalchemy as sa
from tqdm import tqdm

from adapters import synthetic
from adapters.decisions_file import parse_decisions
from adapters.runtime import Ledger

REPO = Path(__file__).resolve().parent.parent
PG_TMP = REPO / "scripts" / "pg-tmp.sh"
STORES = ("sqlite", "postgresql")
ACTOR = "bench"
EVENT_TOPIC = "ledger.beneficiary:Beneficiary.Registered"
BENEFICIARY_TOPIC = "ledger.beneficiary:Beneficiary"


# --- measuring ----------------------------------------------------------------------

@dataclass
class Figure:
    """How long one step took for ``count`` items of ``unit``."""

    unit: str  # "rows" or "events"
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


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (it never goes down)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


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


class StoreSteps:
    """One store's steps in order: each is shown on a progress bar (stderr),
    bounded by the step deadline, and logged when done, so a long run shows
    where it is."""

    def __init__(self, label: str, steps_count: int, *, show: bool,
                 timeout_seconds: float | None):
        self.label = label
        self.timeout_seconds = timeout_seconds
        self.bar = tqdm(total=steps_count, desc=label, unit="step", file=sys.stderr,
                        disable=not show, leave=False, dynamic_ncols=True)

    @contextmanager
    def step(self, name: str) -> Iterator[dict[str, float]]:
        """Times the block; raises StepTimedOut if it overruns."""
        self.bar.set_description(f"{self.label}: {name}")
        with deadline(self.timeout_seconds, name), stopwatch() as took:
            yield took

    def done(self, name: str, figure: Figure | None = None) -> None:
        text = f"{self.label}: {name}"
        if figure is not None:
            text += (f": {figure.count:,} {figure.unit} in {figure.seconds:.2f} s"
                     f" = {figure.per_second:,.0f} {figure.unit}/s")
        tqdm.write(text, file=sys.stderr)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def progress_shown(args: argparse.Namespace) -> bool:
    # Bars on a terminal, or in logs when LEDGER_PROGRESS=1 asks (as the CLI).
    asked = sys.stderr.isatty() or os.environ.get("LEDGER_PROGRESS") == "1"
    return asked and not args.no_progress


# --- raw rows -----------------------------------------------------------------------

@dataclass(frozen=True)
class RawRow:
    originator_id: uuid.UUID
    originator_version: int
    topic: str
    state: bytes


def event_like_state(registration: dict, timestamp: str, rng: random.Random) -> bytes:
    """JSON shaped and sized like a stored Registered event (about 600 bytes),
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


def raw_rows(registrations: Sequence[dict], seed: int) -> list[RawRow]:
    """One version-1 event per registration under a random id, as the ledger
    writes them (ids spread over the key space, not appended in order)."""
    rng = random.Random(seed)
    timestamp = datetime(2024, 7, 1, tzinfo=timezone.utc)
    rows = []
    for index, registration in enumerate(registrations):
        originator_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        moment = timestamp.replace(microsecond=index % 1_000_000).isoformat()
        rows.append(RawRow(originator_id, 1, EVENT_TOPIC,
                           event_like_state(registration, moment, rng)))
    return rows


# --- SQLite -------------------------------------------------------------------------

# The library's SQLite application recorder table, rowid as notification id.
SQLITE_EVENTS_DDL = (
    "CREATE TABLE {table} (originator_id TEXT, originator_version INTEGER, "
    "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
)


def sqlite_raw_executemany(path: Path, rows: Sequence[RawRow]) -> Figure:
    """All rows with one executemany in one transaction, on a connection set
    up as the library sets up its own (WAL, default synchronous)."""
    params = [(r.originator_id.hex, r.originator_version, r.topic, r.state) for r in rows]
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(SQLITE_EVENTS_DDL.format(table="raw_events"))
        with stopwatch() as took:
            connection.execute("BEGIN")
            connection.executemany("INSERT INTO raw_events VALUES (?,?,?,?)", params)
            connection.execute("COMMIT")
    finally:
        connection.close()
    return Figure("rows", len(rows), **took)


@dataclass
class SqliteTarget:
    folder: Path
    name: str = "sqlite"
    primary_raw: str = "executemany"
    raw_labels: dict[str, str] = field(default_factory=lambda: {"executemany": "raw executemany"})

    def facts(self) -> dict[str, Any]:
        return {"sqlite_version": sqlite3.sqlite_version}

    def raw_baseline(self, rows: Sequence[RawRow], steps: StoreSteps,
                     figures: dict[str, Figure]) -> None:
        label = self.raw_labels["executemany"]
        with steps.step(label):
            figures["executemany"] = sqlite_raw_executemany(self.folder / "raw.db", rows)
        steps.done(label, figures["executemany"])

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


def pg_raw_copy(url: str, rows: Sequence[RawRow]) -> Figure:
    """Binary COPY: the fastest way in; no SQL parsing per row."""
    with pg_connect(url) as connection:
        pg_create_events_table(connection, "raw_events_copy")
        statement = f"COPY raw_events_copy {PG_INSERT_COLUMNS} FROM STDIN (FORMAT BINARY)"
        with stopwatch() as took:
            with connection.transaction(), connection.cursor() as cursor:
                with cursor.copy(statement) as copy:
                    copy.set_types(["uuid", "int8", "text", "bytea"])
                    for row in rows:
                        copy.write_row((row.originator_id, row.originator_version,
                                        row.topic, row.state))
        connection.execute("DROP TABLE raw_events_copy")
        connection.commit()
    return Figure("rows", len(rows), **took)


def pg_raw_executemany(url: str, rows: Sequence[RawRow]) -> Figure:
    """One parameterised INSERT per row, sent in pipeline mode in one
    transaction: psycopg's fast path for row-by-row inserts. (The library
    sends one INSERT ... SELECT FROM unnest(array) per save instead.)"""
    params = [(r.originator_id, r.originator_version, r.topic, r.state) for r in rows]
    statement = f"INSERT INTO raw_events_pipelined {PG_INSERT_COLUMNS} VALUES (%s, %s, %s, %s)"
    with pg_connect(url) as connection:
        pg_create_events_table(connection, "raw_events_pipelined")
        with stopwatch() as took:
            with connection.pipeline(), connection.transaction():
                with connection.cursor() as cursor:
                    cursor.executemany(statement, params)
        connection.execute("DROP TABLE raw_events_pipelined")
        connection.commit()
    return Figure("rows", len(rows), **took)


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


@dataclass
class PostgresTarget:
    server_url: str  # any database on the server: only used to create ours
    name: str = "postgresql"
    primary_raw: str = "copy_binary"
    raw_labels: dict[str, str] = field(default_factory=lambda: {
        "copy_binary": "raw COPY", "executemany_pipelined": "raw executemany"})
    bench_url: str | None = None  # the database this run created

    def facts(self) -> dict[str, Any]:
        return pg_server_facts(self.server_url)

    def raw_baseline(self, rows: Sequence[RawRow], steps: StoreSteps,
                     figures: dict[str, Figure]) -> None:
        assert self.bench_url, "the raw baseline runs inside fresh_database()"
        inserts = (("copy_binary", pg_raw_copy), ("executemany_pipelined", pg_raw_executemany))
        for key, insert in inserts:
            with steps.step(self.raw_labels[key]):
                figures[key] = insert(self.bench_url, rows)
            steps.done(self.raw_labels[key], figures[key])

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        """A database of our own on the server, dropped at the end whatever
        happens, so runs never see each other's rows."""
        dbname = f"ledger_bench_{datetime.now():%Y%m%d_%H%M%S}_{os.getpid()}"
        with pg_connect(self.server_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{dbname}"')
        self.bench_url = with_database(self.server_url, dbname)
        try:
            yield self.bench_url
        finally:
            self.bench_url = None
            with pg_connect(self.server_url, autocommit=True) as admin:
                # FORCE (PostgreSQL 13+) also ends sessions a stopped step left open.
                force = " WITH (FORCE)" if admin.info.server_version >= 130000 else ""
                admin.execute(f'DROP DATABASE IF EXISTS "{dbname}"{force}')


# --- the ledger steps ---------------------------------------------------------------

def measure_ledger(url: str, csv_path: Path, steps: StoreSteps,
                   figures: dict[str, Figure]) -> float:
    """parse, record, project, then the same file again (records nothing).
    Fills ``figures`` as it goes, so a step that overruns keeps the others.
    Returns the mean stored state size in bytes."""
    with steps.step("open ledger") as took:
        ledger = Ledger(url)
    figures["open"] = Figure("ledgers", 1, **took)
    steps.done("open ledger")
    try:
        with steps.step("parse+validate") as took:
            parsed = parse_decisions(csv_path, ledger.rules.category_codes())
        figures["parse"] = Figure("rows", len(parsed.decisions), **took)
        steps.done("parse+validate", figures["parse"])

        with steps.step("record") as took:
            outcome = ledger.app.record_decisions(parsed.decisions, ACTOR)
        figures["record"] = Figure("events", outcome.recorded_events, **took,
                                   extra=dict(rows=outcome.rows))
        steps.done("record", figures["record"])
        del parsed  # not needed any more: keep the later steps' memory peak honest

        with steps.step("project") as took:
            projected_events = ledger.catch_up(show_progress=False)
        figures["project"] = Figure("events", projected_events, **took)
        steps.done("project", figures["project"])

        with steps.step("re-import") as took:
            summary = ledger.import_decisions(csv_path, ACTOR)
        figures["reimport"] = Figure("rows", summary.rows, **took, extra=dict(
            recorded_events=summary.recorded_events, unchanged_rows=summary.unchanged_rows))
        steps.done("re-import", figures["reimport"])
        return mean_state_bytes(ledger)
    finally:
        ledger.close()


def mean_state_bytes(ledger: Ledger) -> float:
    """Average size of a stored event's state, to check the raw rows match it."""
    query = sa.text(f"SELECT avg(length(state)) FROM {ledger.store.events_table}")
    with ledger.engine.connect() as connection:
        mean = connection.execute(query).scalar()
    return round(float(mean or 0.0), 1)


def first_import_total(figures: dict[str, Figure]) -> Figure | None:
    """What importing the file the first time costs end to end."""
    parts = [figures.get(k) for k in ("parse", "record", "project")]
    if None in parts:
        return None
    return Figure("rows", figures["parse"].count,
                  seconds=sum(p.seconds for p in parts),
                  cpu_seconds=sum(p.cpu_seconds for p in parts))


def ratios(figure: Figure, raw: dict[str, Figure]) -> dict[str, float]:
    return {key: round(figure.per_second / base.per_second, 4) if base.per_second else 0.0
            for key, base in raw.items()}


def describe_timeout(exc: StepTimedOut) -> dict[str, Any]:
    """Which step overran and where it was waiting (innermost frames)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.name != "expire"][-5:]
    return dict(step=exc.step, message=str(exc),
                where=[f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames])


# --- the import stage ---------------------------------------------------------------

@dataclass
class StageContext:
    args: argparse.Namespace
    folder: Path  # temporary, removed at the end
    targets: list[SqliteTarget | PostgresTarget]


def run_import_store(target: SqliteTarget | PostgresTarget, csv_path: Path, rows: Sequence[RawRow],
                     args: argparse.Namespace) -> dict[str, Any]:
    # Steps: each raw insert, then open, parse, record, project, re-import.
    steps = StoreSteps(target.name, len(target.raw_labels) + 5, show=progress_shown(args),
                       timeout_seconds=args.step_timeout)
    raw: dict[str, Figure] = {}
    figures: dict[str, Figure] = {}
    failure = None
    ledger_state_bytes = None
    try:
        facts = target.facts()
        with target.fresh_database() as url:
            try:
                target.raw_baseline(rows, steps, raw)
                ledger_state_bytes = measure_ledger(url, csv_path, steps, figures)
            except StepTimedOut as exc:
                failure = describe_timeout(exc)
                print(f"{target.name}: {exc}; stopped there. Waiting in:\n  "
                      + "\n  ".join(failure["where"]), file=sys.stderr)
    finally:
        steps.close()
    total = first_import_total(figures)
    if total is not None:
        figures["first_import"] = total
    recorded = figures.get("record")
    if recorded is not None and recorded.count != len(rows):
        print(f"warning: {target.name}: recorded {recorded.count:,} events "
              f"for {len(rows):,} registrations", file=sys.stderr)
    ledger_part = {}
    for key, figure in figures.items():
        entry = figure.as_dict()
        if key != "open":
            entry["ratio_to_raw"] = ratios(figure, raw)
        ledger_part[key] = entry
    return dict(
        database=facts,
        raw_primary=target.primary_raw,
        raw_labels=target.raw_labels,
        raw={key: figure.as_dict() for key, figure in raw.items()},
        ledger=ledger_part,
        mean_state_bytes=dict(raw=round(sum(len(r.state) for r in rows) / max(1, len(rows)), 1),
                              ledger=ledger_state_bytes),
        peak_rss_mib=peak_rss_mib(),
        failure=failure,
    )


def stage_import(context: StageContext) -> dict[str, Any]:
    args = context.args
    registrations_count = args.n
    with stopwatch() as took:
        registrations = synthetic.registrations(registrations_count, seed=args.seed)
        csv_path = synthetic.write_csv(context.folder / "decisions.csv", registrations)
        rows = raw_rows(registrations, args.seed)
    del registrations
    result: dict[str, Any] = dict(
        input=dict(registrations=registrations_count, seed=args.seed,
                   csv_bytes=csv_path.stat().st_size, generate_seconds=round(took["seconds"], 3)),
        stores={},
    )
    print(f"decisions file: {registrations_count:,} registrations, "
          f"{csv_path.stat().st_size / 1e6:.1f} MB (generated in {took['seconds']:.1f} s)",
          file=sys.stderr)
    for target in context.targets:
        result["stores"][target.name] = run_import_store(target, csv_path, rows, args)
    return result


LEDGER_ROWS = (("parse", "parse+validate"), ("record", "record"), ("project", "project"),
               ("first_import", "first import total"), ("reimport", "re-import (no-op)"))


def format_import(result: dict[str, Any]) -> str:
    return "\n\n".join(_format_store(store, data) for store, data in result["stores"].items())


def _format_store(store: str, data: dict[str, Any]) -> str:
    labels = data["raw_labels"]
    primary = data["raw_primary"]
    # The primary baseline first: the one to read the ratios against.
    order = [k for k in dict.fromkeys([primary, *labels]) if k in data["raw"]]
    lines = [f"{store}  ({_database_line(data['database'])})",
             f"  {'step':<24}{'count':>16}{'seconds':>10}{'per second':>20}{'cpu':>6}  vs raw"]
    for key in order:
        lines.append(_figure_line(labels[key], data["raw"][key], ""))
    for key, label in LEDGER_ROWS:
        figure = data["ledger"].get(key)
        if figure is not None:
            versus = ", ".join(f"{figure['ratio_to_raw'][k]:.2g}x {labels[k]}" for k in order)
            lines.append(_figure_line(label, figure, versus))
    failure = data["failure"]
    if failure:
        lines.append(f"  STOPPED: {failure['message']}; waiting in {failure['where'][-1]}")
    reimport = data["ledger"].get("reimport")
    if reimport is not None:
        lines.append(f"  re-import recorded {reimport['recorded_events']:,} events, "
                     f"{reimport['unchanged_rows']:,} rows unchanged")
    state_bytes = data["mean_state_bytes"]
    if state_bytes["ledger"] is not None:
        lines.append(f"  state bytes per event: raw {state_bytes['raw']:,.0f}, "
                     f"ledger {state_bytes['ledger']:,.0f}")
    lines.append(f"  peak memory (this process so far): {data['peak_rss_mib']:,.0f} MiB")
    return "\n".join(lines)


def _database_line(facts: dict[str, Any]) -> str:
    if "sqlite_version" in facts:
        return f"SQLite {facts['sqlite_version']}"
    return (f"PostgreSQL {facts['server_version']}, fsync={facts['fsync']}, "
            f"synchronous_commit={facts['synchronous_commit']}")


def _figure_line(label: str, figure: dict[str, Any], versus: str) -> str:
    count = f"{figure['count']:,} {figure['unit']}"
    rate = f"{figure['per_second']:,.0f} {figure['unit']}/s"
    cpu = figure["cpu_seconds"] / figure["seconds"] if figure["seconds"] else 0.0
    return (f"  {label:<24}{count:>16}{figure['seconds']:>10.2f}{rate:>20}"
            f"{cpu:>6.0%}  {versus}").rstrip()


@dataclass(frozen=True)
class Stage:
    run: Callable[[StageContext], dict[str, Any]]
    format: Callable[[dict[str, Any]], str]


STAGES: dict[str, Stage] = {
    "import": Stage(stage_import, format_import),
}


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


def code_facts() -> dict[str, Any]:
    """Which code was measured: the commit, and whether the tree had changes."""
    def git(*words: str) -> str:
        return subprocess.run(["git", *words], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        return dict(commit=git("rev-parse", "HEAD"),
                    uncommitted_changes=bool(git("status", "--porcelain", "--untracked-files=no")))
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
    parser.add_argument("--stages", default="import",
                        help=f"comma-separated, in order: {', '.join(STAGES)} (default import)")
    parser.add_argument("--n", type=int, default=100_000, help="registrations (default 100000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stores", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql (default both)")
    parser.add_argument("--postgres-url",
                        help="server to create a throwaway database on (default "
                             "$LEDGER_BENCH_POSTGRES_URL, else a server started for the run)")
    parser.add_argument("--json-out", type=Path,
                        help="default bench-results/<stages>-<timestamp>.json")
    parser.add_argument("--step-timeout", type=float, default=900.0, metavar="SECONDS",
                        help="stop a store's run when one step takes longer (default 900; "
                             "0 = no limit)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    args.stages = _choices(parser, "--stages", args.stages, STAGES)
    args.stores = _choices(parser, "--stores", args.stores, STORES)
    if args.n < 1:
        parser.error("--n must be at least 1")
    args.postgres_url = args.postgres_url or os.environ.get("LEDGER_BENCH_POSTGRES_URL")
    return args


def _choices(parser: argparse.ArgumentParser, option: str, text: str, known) -> list[str]:
    chosen = [word.strip() for word in text.split(",") if word.strip()]
    unknown = [word for word in chosen if word not in known]
    if unknown or not chosen:
        parser.error(f"{option}: expected some of {', '.join(known)}, got {text!r}")
    return chosen


def default_json_out(stages: Sequence[str], started: datetime) -> Path:
    return REPO / "bench-results" / f"{'-'.join(stages)}-{started:%Y%m%d-%H%M%S}.json"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now()
    json_out = args.json_out or default_json_out(args.stages, started)
    report: dict[str, Any] = dict(
        started_at=started.astimezone().isoformat(timespec="seconds"),
        command=[Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)],
        params=dict(stages=args.stages, n=args.n, seed=args.seed, stores=args.stores,
                    step_timeout_seconds=args.step_timeout),
        machine=machine_facts(),
        code=code_facts(),
        library_settings=library_settings(),
        stages={},
    )
    # A server is started only when PostgreSQL is measured and none was given.
    server = postgres_server(args.postgres_url) if "postgresql" in args.stores else nullcontext()
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as folder, server as pg_url:
        targets = [SqliteTarget(Path(folder)) if store == "sqlite" else PostgresTarget(pg_url)
                   for store in args.stores]
        for target in targets:
            if target.name == "postgresql":
                report["machine"]["postgresql_server_version"] = target.facts()["server_version"]
        for name in args.stages:
            stage = STAGES[name]
            result = stage.run(StageContext(args, Path(folder), targets))
            report["stages"][name] = result
            print(f"== stage {name}: {args.n:,} registrations, seed {args.seed} ==")
            if report["library_settings"]:
                print("library settings from the environment: " + ", ".join(
                    f"{k}={v}" for k, v in report["library_settings"].items()))
            print(stage.format(result))
            print()
    report["finished_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
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
